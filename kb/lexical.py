"""Lexical search: SQLite FTS5 (`porter unicode61`) ranked by its BM25, each row scored once.

Queries drop English stopwords first, so common words neither cost time nor dilute BM25.

Scoring a row reads its length (a B-tree lookup) and is most of the cost of a search;
walking the terms' lists of rows to find the rows is cheap. So a search scores only rows
holding one of its rarer terms, in one pass that also scores the rows it is asked about
(the dense side's candidates):
- FTS5's bm25() sums over the terms idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b len /
  avglen)), so a term adds at most idf(t) (k1 + 1). A row holding only common terms whose
  bounds sum to less than a score `limit` rows are known to reach cannot be in the top
  `limit` (MaxScore): skipping such rows changes nothing.
- The rows scored are also capped (`SCORED_ROWS`, by the terms' document frequencies):
  beyond that, the most common terms only add to the scores of rows found by rarer ones.
  Up to the cap (every query on indexes of up to ~25k chunks) the result is exactly that
  of scoring every row.
"""

import json
import math
import re
import sqlite3
from collections.abc import Iterable

from kb.types import DocFilter

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
K1 = 1.2  # FTS5's bm25() constant
# Rows a search scores at most (beyond the rows it was asked to score), ~25 ms here: the
# bound on its work, whatever the size of the index. Below it the result is exact.
SCORED_ROWS = 25_000

# A standard English stopword list (the one used by common BM25 toolkits).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
)


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased query words without stopwords, in order of appearance."""
    words = (w.lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS))


def bm25_rows(
    db: sqlite3.Connection,
    table: str,
    terms: list[str],
    limit: int,
    also: Iterable[int] = (),
    within: DocFilter | None = None,
) -> dict[int, float]:
    """Rowid -> BM25 of the best `limit` rows of the FTS5 `table` and of the rows `also`
    (those holding a query term). `within`: the documents whose chunks alone count
    (`table` keyed by chunk row ids)."""
    if not terms:
        return {}
    essential = _essential(db, table, terms, limit, within) if limit else []
    scored = f"SELECT rowid AS id, -bm25({table}) AS score FROM {table} WHERE {table} MATCH :all"
    wanted = ["+rowid IN (SELECT value FROM json_each(:also))"]
    if essential and len(essential) < len(terms):
        wanted.append(f"+rowid IN (SELECT e.rowid FROM {table} e WHERE e.{table} MATCH :essential)")
    elif essential:  # every term is essential: every row holding one is scored
        wanted = ["1"]
    scored += f" AND ({' OR '.join(wanted)}){_within(within)}"
    params = {
        "all": _match(terms),
        "essential": _match(essential),
        "also": json.dumps(sorted(set(also))),
        "within": _ids(within),
        "limit": limit,
    }
    sql = (
        f"WITH scored AS MATERIALIZED ({scored})"
        " SELECT id, score FROM (SELECT id, score FROM scored ORDER BY score DESC LIMIT :limit)"
        " UNION SELECT id, score FROM scored WHERE id IN (SELECT value FROM json_each(:also))"
    )
    return dict(db.execute(sql, params).fetchall())


def _essential(
    db: sqlite3.Connection, table: str, terms: list[str], limit: int, within: DocFilter | None
) -> list[str]:
    """The terms a row must hold one of to be scored: all of them while their rows fit
    the budget; else the rarest ones such that a row holding none of them cannot be
    among the best `limit` (the bounds of the other terms sum to less than a score that
    `limit` rows are known to reach), cut to the budget when that is still too many."""
    counts = {term: _count(db, table, term) for term in terms}
    by_rarity = sorted(terms, key=counts.__getitem__)
    if sum(counts.values()) <= SCORED_ROWS:
        return by_rarity
    rows = db.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]  # >= row count
    probe = _rarest(by_rarity, counts, SCORED_ROWS // 5, limit)  # a fifth of the work, at most
    reached = _lower_bound(db, table, probe, limit, within)
    common = 0.0  # the bound of the terms left out, most common first
    cut = len(by_rarity)
    while cut > 1:
        common += _idf_bound(rows, counts[by_rarity[cut - 1]]) * (K1 + 1)
        if common >= reached:
            break
        cut -= 1
    return _rarest(by_rarity[:cut], counts, SCORED_ROWS, limit)


def _rarest(by_rarity: list[str], counts: dict[str, int], budget: int, limit: int) -> list[str]:
    """The rarest terms whose rows add up to at most `budget`, or to `limit` rows (the
    top must be full whenever enough rows hold a term)."""
    chosen = by_rarity[:1]
    for term in by_rarity[1:]:
        rows = sum(counts[t] for t in chosen)
        if rows >= limit and rows + counts[term] > budget:
            break
        chosen.append(term)
    return chosen


def _lower_bound(
    db: sqlite3.Connection, table: str, probe: list[str], limit: int, within: DocFilter | None
) -> float:
    """A score at least `limit` rows reach: the `limit`-th best BM25 share of the probe
    terms (a row's full score is at least its share of some of the terms); 0 when fewer
    rows hold them."""
    sql = (
        f"SELECT -bm25({table}) AS score FROM {table} WHERE {table} MATCH :probe{_within(within)}"
        " ORDER BY score DESC LIMIT 1 OFFSET :offset"
    )
    row = db.execute(sql, {"probe": _match(probe), "within": _ids(within), "offset": limit - 1})
    found = row.fetchone()
    return float(found[0]) if found else 0.0


def _idf_bound(rows: int, count: int) -> float:
    """FTS5's idf of a term in `count` of `rows` rows (an upper bound for rows >= the
    true count), floored as FTS5 floors it."""
    idf = math.log((rows - count + 0.5) / (count + 0.5)) if rows > count else 0.0
    return max(idf, 1e-6)


def _count(db: sqlite3.Connection, table: str, term: str) -> int:
    """Rows holding `term` (walks its list of rows; scores nothing)."""
    sql = f"SELECT COUNT(*) FROM {table} WHERE {table} MATCH ?"
    return int(db.execute(sql, (_match([term]),)).fetchone()[0])


def _within(within: DocFilter | None) -> str:
    if within is None:
        return ""
    inside = "NOT IN" if within.excluded else "IN"
    return (
        " AND +rowid IN (SELECT id FROM chunks"
        f" WHERE doc_id {inside} (SELECT value FROM json_each(:within)))"
    )


def _ids(within: DocFilter | None) -> str | None:
    return None if within is None else json.dumps(within.ids)


def _match(terms: list[str]) -> str:
    return " OR ".join(f'"{term}"' for term in terms)
