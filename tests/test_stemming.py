"""kb.stemming stems words exactly as the lexical index (SQLite FTS5 `porter`) does."""

import re
import sqlite3
from pathlib import Path

from kb.stemming import stem, stems

DOCS = Path(__file__).resolve().parents[1] / "data" / "docs"


def fts5_stem(db: sqlite3.Connection, word: str) -> list[str]:
    db.execute("DELETE FROM t")
    db.execute("INSERT INTO t VALUES (?)", (word,))
    return [row[0] for row in db.execute("SELECT term FROM v")]


def test_stems_agree_with_fts5_porter_on_the_sample_docs_words():
    text = " ".join((DOCS / name).read_text() for name in ("ingesting.md", "faq.txt", "models.md"))
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", text)})
    words += ["is", "as", "generalizations", "oscillators", "hopefully", "relational"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    assert len(words) > 500
    disagree = [(w, fts5_stem(db, w), stem(w)) for w in words if fts5_stem(db, w) != [stem(w)]]
    assert disagree == []


def test_stems_of_a_text_drop_stopwords():
    assert stems("Which formats does kb ingest?") == {"format", "kb", "ingest"}
    assert stems("ingesting ingested ingests") == {"ingest"}
