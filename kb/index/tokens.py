"""Index terms exactly as SQLite FTS5's `porter unicode61 remove_diacritics 2` tokenizer
makes them, for the lexical index kept outside SQLite (kb.index.postings): the tokenizer
itself runs, in an in-memory FTS5 table, so both indexes hold the same terms and rank by
the same BM25. (Porter stemmers differ in details, "technology" -> "technolog" here,
"technologi" in Snowball's original Porter; case folding differs on letters like µ.)"""

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache

TOKENIZER = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class RowTerms:
    """One row (a passage, or a document whole) as BM25 counts it."""

    counts: Counter[str]  # term -> occurrences over the row's fields
    length: int  # tokens in the row, stopwords included


def row_terms(rows: list[tuple[str, str]]) -> list[RowTerms]:
    """The terms of rows of two fields (context and text, or title and text)."""
    # A new table each time: FTS5 keeps what a DELETE removed until it merges, so a table
    # used over and over reads ever more of it (searches slowed down by the minute).
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize = '{TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        db.executemany(
            "INSERT INTO t (rowid, a, b) VALUES (?, ?, ?)",
            [(n, *row) for n, row in enumerate(rows)],
        )
        found = db.execute("SELECT doc, term, COUNT(*) FROM v GROUP BY doc, term").fetchall()
    counts: list[Counter[str]] = [Counter() for _ in rows]
    for row, term, count in found:
        counts[row][term] = count
    return [RowTerms(c, c.total()) for c in counts]


def query_stems(words: list[str]) -> list[str]:
    """The index term of each query word (a query word is one token)."""
    return [_query_stem(word) for word in words]


@lru_cache(maxsize=65_536)
def _query_stem(word: str) -> str:
    return next(iter(row_terms([(word, "")])[0].counts), word)
