"""Index terms exactly as SQLite FTS5's `porter unicode61 remove_diacritics 2` tokenizer
makes them, for the lexical index kept outside SQLite (kb.index.postings): the tokenizer
itself runs, in an in-memory FTS5 table, so both indexes hold the same terms and rank by
the same BM25. (Porter stemmers differ in details, "technology" -> "technolog" here,
"technologi" in Snowball's original Porter; case folding differs on letters like µ.)"""

import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass

TOKENIZER = "porter unicode61 remove_diacritics 2"

_local = threading.local()  # an in-memory database per thread


@dataclass(frozen=True)
class RowTerms:
    """One row (a passage, or a document whole) as BM25 counts it."""

    counts: Counter[str]  # term -> occurrences over the row's fields
    length: int  # tokens in the row, stopwords included


def row_terms(rows: list[tuple[str, str]]) -> list[RowTerms]:
    """The terms of rows of two fields (context and text, or title and text)."""
    db = _tokenizer()
    with db:
        db.executemany(
            "INSERT INTO t (rowid, a, b) VALUES (?, ?, ?)",
            [(n, *row) for n, row in enumerate(rows)],
        )
        found = db.execute("SELECT doc, term, COUNT(*) FROM v GROUP BY doc, term").fetchall()
        db.execute("DELETE FROM t")
    counts: list[Counter[str]] = [Counter() for _ in rows]
    for row, term, count in found:
        counts[row][term] = count
    return [RowTerms(c, c.total()) for c in counts]


def query_stems(words: list[str]) -> list[str]:
    """The index term of each query word (a query word is one token)."""
    found = row_terms([(word, "") for word in words])
    return [
        next(iter(found_terms.counts), word) for word, found_terms in zip(words, found, strict=True)
    ]


def _tokenizer() -> sqlite3.Connection:
    db = getattr(_local, "db", None)
    if db is None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize = '{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        _local.db = db
    return db
