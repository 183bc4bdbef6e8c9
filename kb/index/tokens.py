"""Index terms exactly as SQLite FTS5's `porter unicode61 remove_diacritics 2` tokenizer
makes them, for the lexical index kept outside SQLite (kb.index.postings): the tokenizer
itself runs, in an in-memory FTS5 table, so both indexes hold the same terms and rank by
the same BM25. (Porter stemmers differ in details, "technology" -> "technolog" here,
"technologi" in Snowball's original Porter; case folding differs on letters like µ.)
The offline model's answers match words by these same terms (text_terms)."""

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass

from kb.index.lexical import query_terms

TOKENIZER = "porter unicode61 remove_diacritics 2"
CACHED_WORDS = 65_536  # query words whose terms are kept

_stems: dict[str, str] = {}  # query word -> index term (making one costs a table)


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
    known = {word: stem for word in words if (stem := _stems.get(word)) is not None}
    missing = [word for word in dict.fromkeys(words) if word not in known]
    if missing:
        known |= _stem(missing)
    return [known[word] for word in words]


def _stem(words: list[str]) -> dict[str, str]:
    """The terms of words not seen before, all made in one table (not one each)."""
    found = row_terms([(word, "") for word in words])
    new = {word: next(iter(t.counts), word) for word, t in zip(words, found, strict=True)}
    if len(_stems) + len(new) > CACHED_WORDS:
        _stems.clear()  # the bound on memory; stemming again costs little
    _stems.update(new)
    return new


def text_terms(texts: list[str]) -> list[set[str]]:
    """The index terms of each text's words, stopwords left out as a query leaves them out,
    all the texts' words stemmed in one batch."""
    words = [query_terms(text) for text in texts]
    every = [word for text in words for word in text]
    stems = dict(zip(every, query_stems(every), strict=True))
    return [{stems[word] for word in text} for text in words]
