"""Catalog schema: an index made by the previous release migrates; a blank database
migrates to the current schema; rows are read by column name."""

import sqlite3
import time
from pathlib import Path

from kb.index.catalog import DocumentRecord, NewChunk
from kb.index.schema import SQLITE_MIGRATIONS as MIGRATIONS
from kb.index.sqlite import SqliteCatalog as Catalog
from kb.types import DocFilter, Locator

# The schema of the previous release, as its migrations created it (one script each).
OLD_MIGRATIONS = {
    "001_initial": """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (
            doc_id TEXT PRIMARY KEY, root TEXT NOT NULL, path TEXT NOT NULL,
            size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, content_hash TEXT, title TEXT,
            error TEXT, indexed_at REAL, UNIQUE (root, path)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
            doc_id TEXT NOT NULL REFERENCES documents(doc_id), ord INTEGER NOT NULL,
            title TEXT NOT NULL, heading TEXT NOT NULL, page INTEGER, text TEXT NOT NULL
        );
        CREATE INDEX chunks_doc ON chunks (doc_id, ord);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            body, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE pending_vectors (chunk_id TEXT PRIMARY KEY);
    """,
    "002_lexical_fields": """
        DROP TABLE chunks_fts;
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            context, text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
    """,
    "003_document_lexical": """
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            title, text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
    """,
    "004_chunk_vectors": "ALTER TABLE chunks ADD COLUMN vectors INTEGER NOT NULL DEFAULT 1;",
}
CURRENT_CHUNK_COLUMNS = [
    "id", "chunk_id", "doc_id", "ord", "title", "heading", "text", "vectors",
    "locator_kind", "locator_value",
]  # fmt: skip


def old_index(path: Path) -> None:
    """A catalog as the previous release left it: a PDF chunk on page 3, a text chunk."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, at REAL)")
    for name, script in OLD_MIGRATIONS.items():
        db.executescript(script)
        db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
    db.execute(
        "INSERT INTO documents VALUES"
        " ('d1', '/docs', 'report.pdf', 10, 1, 'h1', 'Report', NULL, 1.0)"
    )
    for row in [
        (1, "d1-a-0", "d1", 0, "Report", "", 3, "Net sales grew.", 2),
        (2, "d1-a-1", "d1", 1, "Report", "Notes", None, "Unpaged text.", 1),
    ]:
        db.execute("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        db.execute(
            "INSERT INTO chunks_fts (rowid, context, text) VALUES (?, ?, ?)", (row[0], "", row[7])
        )
    db.commit()
    db.close()


def columns(catalog: Catalog, table: str) -> list[str]:
    return [row[1] for row in catalog.db.execute(f"PRAGMA table_info({table})")]


def test_an_index_of_the_previous_release_opens_and_migrates(tmp_path):
    path = tmp_path / "catalog.sqlite"
    old_index(path)
    catalog = Catalog(path)
    try:
        rows = catalog.get_chunks(["d1-a-0", "d1-a-1"])
        assert rows["d1-a-0"].locator == Locator("page", "3")
        assert rows["d1-a-1"].locator is None
        assert (rows["d1-a-0"].text, rows["d1-a-1"].heading) == ("Net sales grew.", "Notes")
        owner = catalog.chunk_owners(["d1-a-0"])["d1-a-0"]
        assert (owner.doc_id, owner.vectors) == ("d1", 2)
        assert catalog.documents()[0] == DocumentRecord(
            "d1", "/docs", "report.pdf", 10, 1, "h1", "Report", None, 1.0
        )
        assert [chunk_id for chunk_id, _ in catalog.lexical_search("sales", 5)] == ["d1-a-0"]
        assert sorted(columns(catalog, "chunks")) == sorted(CURRENT_CHUNK_COLUMNS)
        applied = dict(catalog.db.execute("SELECT name, at FROM migrations").fetchall())
        assert list(applied) == [name for name, _ in MIGRATIONS]
    finally:
        catalog.close()


def test_a_blank_database_migrates_to_the_current_schema(tmp_path):
    catalog = Catalog(tmp_path / "new.sqlite")
    try:
        assert sorted(columns(catalog, "chunks")) == sorted(CURRENT_CHUNK_COLUMNS)
        applied = catalog.db.execute("SELECT name, at FROM migrations ORDER BY rowid").fetchall()
        assert [name for name, _ in applied] == [name for name, _ in MIGRATIONS]
        assert all(isinstance(at, float) and at > 0 for _, at in applied)
    finally:
        catalog.close()
    reopened = Catalog(tmp_path / "new.sqlite")  # nothing runs twice
    assert reopened.db.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    reopened.close()


def test_rows_are_read_and_written_by_column_name(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    record = DocumentRecord("d2", "/docs", "plan.xlsx", 5, 2, "h2", "Plan", None, 2.0)
    chunk = NewChunk("d2-b-0", "Plan", "Budget", Locator("sheet", "Budget!A1:D9"), "Item | Cost")
    with catalog.transaction() as db:
        # a later migration adding columns (here before the others would be read) shifts nothing
        db.execute("ALTER TABLE documents ADD COLUMN owner TEXT DEFAULT 'ana'")
        db.execute("ALTER TABLE chunks ADD COLUMN lang TEXT DEFAULT 'en'")
        catalog.upsert_document(db, record)
        catalog.replace_chunks(db, "d2", [chunk])
    assert catalog.document("d2") == record
    row = catalog.get_chunks(["d2-b-0"])["d2-b-0"]
    assert (row.locator, row.source, row.heading) == (chunk.locator, "plan.xlsx", "Budget")
    with catalog.transaction() as db:
        catalog.upsert_document(
            db, DocumentRecord("d2", "/docs", "plan.xlsx", 6, 3, "h3", "Plan 2", None, 3.0)
        )
    assert catalog.document("d2") == DocumentRecord(
        "d2", "/docs", "plan.xlsx", 6, 3, "h3", "Plan 2", None, 3.0
    )
    assert catalog.db.execute("SELECT owner FROM documents").fetchone() == ("ana",)
    catalog.close()


def test_a_source_filter_over_more_documents_than_sqlite_binds(tmp_path):
    """`--source` matching 40,000 documents: one lexical query, not 40,000 bound variables
    (SQLite allows 32,766), and the filter still holds."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    # Stock SQLite's limit; some builds (Debian's) allow more, which would hide the defect.
    catalog.db.raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    with catalog.transaction() as db:
        for n in range(40_000):
            doc_id = f"d{n}"
            catalog.upsert_document(
                db, DocumentRecord(doc_id, "/docs", f"note-{n}.md", 1, 1, "h", "Note", None, 1.0)
            )
            word = "walrus" if n % 2 else "pelican"
            catalog.replace_chunks(db, doc_id, [NewChunk(f"c{n}", "Note", "", None, word, 1)])
    kept = [n for n in range(40_000) if n % 10]  # 36,000 documents match the filter
    found = catalog.lexical_search("walrus pelican", 50, DocFilter(tuple(f"d{n}" for n in kept)))
    assert len(found) == 50
    assert {chunk_id for chunk_id, _ in found} <= {f"c{n}" for n in kept}
    catalog.close()
