"""The lexical index on PostgreSQL: a posting (term, row, frequency, row length) per term of
each row, and the statistics BM25 needs (rows holding each term; rows and tokens of each
table), changed in the catalog's transactions. PostgreSQL's own ts_rank is not BM25 (no
idf, no saturation), so the score is computed here, as FTS5's bm25() computes it, over the
terms FTS5's tokenizer makes (kb.index.tokens): the two indexes rank alike.
"""

from collections import Counter
from typing import TYPE_CHECKING

from kb.index.lexical import K1, B, TermIndex, idf
from kb.index.tokens import query_stems, row_terms
from kb.types import DocFilter

if TYPE_CHECKING:
    from kb.index.catalog import Session
    from kb.index.postgres import PostgresSession


class PostingsWrites:
    """The rows a transaction adds to the lexical tables, written at its end in one go:
    one COPY of the postings and one update of each term's statistics, however many
    documents it switched (per document, the statistics' updates cost as much as the rest
    of the write)."""

    def __init__(self) -> None:
        self._added: dict[int, tuple[list[int], list[tuple[str, str]]]] = {}

    def add(self, table: int, rows: list[int], fields: list[tuple[str, str]]) -> None:
        added_rows, added_fields = self._added.setdefault(table, ([], []))
        added_rows.extend(rows)
        added_fields.extend(fields)

    def flush(self, db: "PostgresSession") -> None:
        for table, (rows, fields) in sorted(self._added.items()):
            _add_postings(db, table, rows, fields)


def _add_postings(
    db: "PostgresSession", table: int, rows: list[int], fields: list[tuple[str, str]]
) -> None:
    found = row_terms(fields)
    postings = [
        (table, term, row, tf, terms.length)
        for row, terms in zip(rows, found, strict=True)
        for term, tf in terms.counts.items()
    ]
    # terms are FTS5 tokens (letters and digits): nothing in them needs escaping for COPY
    db.copy("COPY lexical_postings (tab, term, row_id, tf, length) FROM STDIN", postings)
    holding = Counter(term for _, term, *_ in postings)
    ordered = sorted(holding)  # one order for every writer: no deadlock between two
    db.execute(
        "INSERT INTO lexical_terms (tab, term, rows) SELECT :tab, * FROM"
        " unnest(CAST(:terms AS text[]), CAST(:counts AS bigint[]))"
        " ON CONFLICT (tab, term) DO UPDATE SET rows = lexical_terms.rows + excluded.rows",
        {"tab": table, "terms": ordered, "counts": [holding[t] for t in ordered]},
    )
    db.execute(
        "UPDATE lexical_rows SET rows = rows + :rows, tokens = tokens + :tokens WHERE tab = :tab",
        {"tab": table, "rows": len(rows), "tokens": sum(t.length for t in found)},
    )


def remove_postings(db: "Session", table: int, rows: list[int]) -> None:
    db.execute(
        "WITH gone AS (DELETE FROM lexical_postings WHERE tab = :tab"
        " AND row_id = ANY(CAST(:rows AS bigint[]))"
        " RETURNING term, row_id, length),"
        " terms AS (UPDATE lexical_terms t SET rows = t.rows - g.n FROM"
        " (SELECT term, COUNT(*) AS n FROM gone GROUP BY term) g"
        " WHERE t.tab = :tab AND t.term = g.term)"
        " UPDATE lexical_rows SET rows = rows - (SELECT COUNT(DISTINCT row_id) FROM gone),"
        " tokens = tokens - (SELECT COALESCE(SUM(length), 0) FROM"
        " (SELECT DISTINCT row_id, length FROM gone) r) WHERE tab = :tab",
        {"tab": table, "rows": rows},
    )


class PostingsTerms(TermIndex):
    """One lexical table (0: passages, 1: documents whole) for one search."""

    def __init__(self, db: "Session", table: int) -> None:
        self._db = db
        self._table = table
        self._counts: dict[str, int] = {}
        self._stats: tuple[int, int] | None = None

    def count(self, term: str) -> int:
        return self._term_counts([term])[term]

    def rows(self) -> int:
        return self._rows_and_tokens()[0]

    def score(
        self,
        terms: list[str],
        essential: list[str],
        limit: int,
        also: list[int],
        within: DocFilter | None,
    ) -> dict[int, float]:
        counts = self._term_counts(terms)
        rows, tokens = self._rows_and_tokens()
        stems = query_stems(terms)
        sql = (
            "WITH weights AS (SELECT * FROM unnest(CAST(:stems AS text[]),"
            " CAST(:idfs AS float8[])) AS w(term, idf)),"
            " candidates AS (SELECT row_id FROM lexical_postings WHERE tab = :tab"
            " AND term = ANY(CAST(:essential AS text[]))"
            " UNION SELECT unnest(CAST(:also AS bigint[]))),"
            " scored AS (SELECT p.row_id AS id, SUM(w.idf * p.tf * (:k1 + 1)"
            " / (p.tf + :k1 * (1 - :b + :b * p.length / :avgdl))) AS score"
            " FROM lexical_postings p JOIN weights w ON w.term = p.term"
            " WHERE p.tab = :tab AND p.term = ANY(CAST(:stems AS text[]))"
            f" AND p.row_id IN (SELECT row_id FROM candidates){_within(within)}"
            " GROUP BY p.row_id)"
            " (SELECT id, score FROM scored ORDER BY score DESC, id LIMIT :limit)"
            " UNION SELECT id, score FROM scored WHERE id = ANY(CAST(:also AS bigint[]))"
        )
        params = {
            "tab": self._table,
            "stems": stems,
            "idfs": [idf(rows, counts[term]) for term in terms],
            "essential": query_stems(essential) if essential else [],
            "also": also,
            "k1": K1,
            "b": B,
            "avgdl": tokens / rows if rows else 1.0,
            "limit": limit,
            "within": None if within is None else list(within.ids),
        }
        return {int(row): float(score) for row, score in self._db.execute(sql, params)}

    def _term_counts(self, terms: list[str]) -> dict[str, int]:
        missing = [term for term in terms if term not in self._counts]
        if missing:
            stems = query_stems(missing)
            found = dict(
                self._db.execute(
                    "SELECT term, rows FROM lexical_terms WHERE tab = :tab"
                    " AND term = ANY(CAST(:stems AS text[]))",
                    {"tab": self._table, "stems": stems},
                ).fetchall()
            )
            self._counts |= {t: int(found.get(s, 0)) for t, s in zip(missing, stems, strict=True)}
        return self._counts

    def _rows_and_tokens(self) -> tuple[int, int]:
        if self._stats is None:
            found = self._db.execute(
                "SELECT rows, tokens FROM lexical_rows WHERE tab = :tab", {"tab": self._table}
            ).fetchone()
            self._stats = (int(found[0]), int(found[1]))
        return self._stats


def _within(within: DocFilter | None) -> str:
    if within is None:
        return ""
    inside = "<> ALL" if within.excluded else "= ANY"
    return (
        " AND EXISTS (SELECT 1 FROM chunks c WHERE c.id = p.row_id"
        f" AND c.doc_id {inside}(CAST(:within AS text[])))"
    )
