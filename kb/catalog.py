"""The catalog: documents, chunks and the lexical index in one SQLite database.

SQLite is the source of truth for what is indexed. A document's chunks and their lexical
entries change in one transaction, so search never sees a document half-updated; Chroma
vectors whose chunk ids are not in the catalog are ignored and cleaned up.

Lexical search is SQLite's FTS5 with the Porter stemmer, ranked by its built-in BM25.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from kb.collections import DEFAULT_COLLECTION, SCRATCH_PREFIX, is_scratch
from kb.lexical import bm25_rows, query_terms
from kb.schema import MIGRATIONS
from kb.types import LOCATOR_KINDS, DocFilter, Locator
from kb.vectors import chunk_of, vector_ids


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    root: str
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    title: str | None
    error: str | None
    indexed_at: float | None
    collection: str = DEFAULT_COLLECTION


DOCUMENT_COLUMNS = tuple(field.name for field in fields(DocumentRecord))


@dataclass(frozen=True)
class ChunkRow:
    chunk_id: str
    doc_id: str
    ord: int
    title: str
    heading: str
    locator: Locator | None
    text: str
    source: str
    root: str
    collection: str


# The columns of a ChunkRow (read by `chunk_from_row`), over `chunks c` and its document.
CHUNK_ROWS = (
    "SELECT c.chunk_id, c.doc_id, c.ord, c.title, c.heading, c.locator_kind, c.locator_value,"
    " c.text, d.path AS source, d.root, d.collection FROM chunks c"
    " JOIN documents d ON d.doc_id = c.doc_id"
)


class Owner(NamedTuple):
    """Where a live chunk belongs: its row id (also its lexical row), its document and
    how many vectors it has."""

    chunk_id: str
    row: int
    doc_id: str
    vectors: int


@dataclass(frozen=True)
class CollectionCount:
    name: str
    documents: int  # indexed (failed ones without a previous version do not count)
    chunks: int


@dataclass(frozen=True)
class NewChunk:
    chunk_id: str
    title: str
    heading: str
    locator: Locator | None
    text: str
    vectors: int = 1


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._migrate()

    @property
    def db(self) -> sqlite3.Connection:
        """One connection per thread: the server searches from worker threads. Each is
        used by its own thread only; `close` (after the last use) closes them all."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._opened_lock:
                self._opened.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read in the block sees the catalog as of its first read (WAL snapshot):
        a search sees each document before or after an ingest switched it, never both."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield
        finally:
            db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, at REAL)")
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            for name, statements in MIGRATIONS:
                if name not in done:
                    for statement in statements:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO migrations (name, at) VALUES (?, ?)", (name, time.time())
                    )

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    # -- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- documents ----------------------------------------------------------------------

    def documents(
        self, root: str | None = None, collections: Iterable[str] | None = None
    ) -> list[DocumentRecord]:
        """Every document, or those of one ingested root and/or some collections."""
        where, params = _document_filter(root, collections)
        select = f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM documents d WHERE {where}"
        return [DocumentRecord(**dict(row)) for row in self._named(select, params)]

    def collection_names(self) -> set[str]:
        """Every collection that has documents, the scratch spaces included."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT collection FROM documents")}

    def scratch_doc_ids(self) -> tuple[str, ...]:
        """The documents of every thread's scratch space (few; found through the index)."""
        after = SCRATCH_PREFIX[:-1] + chr(ord(SCRATCH_PREFIX[-1]) + 1)
        sql = "SELECT doc_id FROM documents WHERE collection >= ? AND collection < ?"
        return tuple(row[0] for row in self.db.execute(sql, (SCRATCH_PREFIX, after)))

    def move_root(self, root: str, collection: str) -> None:
        """Put every document of an ingested root in `collection`."""
        with self.transaction() as db:
            db.execute("UPDATE documents SET collection = ? WHERE root = ?", (collection, root))

    def collections(self) -> list[CollectionCount]:
        """The listed collections (not the per-thread scratch ones) with their counts."""
        rows = self.db.execute(
            "SELECT d.collection, COUNT(DISTINCT CASE WHEN d.content_hash IS NOT NULL"
            " THEN d.doc_id END), COUNT(c.id) FROM documents d"
            " LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.collection ORDER BY 1"
        )
        return [CollectionCount(*row) for row in rows if not is_scratch(row[0])]

    def document(self, doc_id: str) -> DocumentRecord | None:
        select = f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM documents WHERE doc_id = ?"
        row = next(self._named(select, (doc_id,)), None)
        return DocumentRecord(**dict(row)) if row else None

    def upsert_document(self, db: sqlite3.Connection, record: DocumentRecord) -> None:
        updates = ", ".join(f"{name} = excluded.{name}" for name in DOCUMENT_COLUMNS[1:])
        db.execute(
            f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)})"
            f" VALUES ({', '.join(':' + name for name in DOCUMENT_COLUMNS)})"
            f" ON CONFLICT (doc_id) DO UPDATE SET {updates}",
            asdict(record),
        )

    def _named(self, sql: str, params: Sequence[object] = ()) -> Iterator[sqlite3.Row]:
        """Rows readable by column name, so that a migration adding a column shifts nothing."""
        cursor = self.db.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params)

    def document_vector_ids(self, doc_id: str) -> list[str]:
        """The ids of every vector of a document's chunks."""
        rows = self.db.execute(
            "SELECT chunk_id, vectors FROM chunks WHERE doc_id = ? ORDER BY ord", (doc_id,)
        )
        return [vector_id for row in rows for vector_id in vector_ids(*row)]

    def vector_count(self) -> int:
        """How many vectors Chroma should hold."""
        total: int = self.db.execute("SELECT COALESCE(SUM(vectors), 0) FROM chunks").fetchone()[0]
        return total

    def replace_chunks(self, db: sqlite3.Connection, doc_id: str, chunks: list[NewChunk]) -> None:
        self.delete_chunks(db, doc_id)
        rowids: list[int | None] = []
        for ord_, chunk in enumerate(chunks):
            cursor = db.execute(
                "INSERT INTO chunks (chunk_id, doc_id, ord, title, heading, locator_kind,"
                " locator_value, text, vectors) VALUES (:chunk_id, :doc_id, :ord, :title,"
                " :heading, :locator_kind, :locator_value, :text, :vectors)",
                {
                    "chunk_id": chunk.chunk_id,
                    "doc_id": doc_id,
                    "ord": ord_,
                    "title": chunk.title,
                    "heading": chunk.heading,
                    "locator_kind": chunk.locator.kind if chunk.locator else None,
                    "locator_value": chunk.locator.value if chunk.locator else None,
                    "text": chunk.text,
                    "vectors": chunk.vectors,
                },
            )
            rowids.append(cursor.lastrowid)
            db.execute(
                "INSERT INTO chunks_fts (rowid, context, text) VALUES (?, ?, ?)",
                (cursor.lastrowid, f"{chunk.title} {chunk.heading}", chunk.text),
            )
        if chunks:
            db.execute(
                "INSERT INTO documents_fts (rowid, title, text) VALUES (?, ?, ?)",
                (rowids[0], chunks[0].title, "\n".join(chunk.text for chunk in chunks)),
            )

    def delete_chunks(self, db: sqlite3.Connection, doc_id: str) -> None:
        db.execute(
            "DELETE FROM documents_fts WHERE rowid = (SELECT MIN(id) FROM chunks WHERE doc_id = ?)",
            (doc_id,),
        )
        db.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)",
            (doc_id,),
        )
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))

    def delete_document(self, db: sqlite3.Connection, doc_id: str) -> None:
        self.delete_chunks(db, doc_id)
        db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    # -- pending vectors (written to Chroma, not yet committed here) ----------------------

    def add_pending(self, db: sqlite3.Connection, ids: Iterable[str]) -> None:
        db.executemany("INSERT OR IGNORE INTO pending_vectors VALUES (?)", [(i,) for i in ids])

    def clear_pending(self, db: sqlite3.Connection, ids: Iterable[str]) -> None:
        db.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", [(i,) for i in ids])

    def orphaned_pending(self) -> list[str]:
        """Pending vector ids that are not vectors of a chunk in the catalog."""
        pending = [row[0] for row in self.db.execute("SELECT chunk_id FROM pending_vectors")]
        owners = self.chunk_owners(sorted({chunk_of(v) for v in pending}))
        live = {v for owner in owners.values() for v in vector_ids(owner.chunk_id, owner.vectors)}
        return [vector_id for vector_id in pending if vector_id not in live]

    def clear_all_pending(self) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM pending_vectors")

    # -- reading ------------------------------------------------------------------------

    def get_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRow]:
        rows = self._by_chunk_id(CHUNK_ROWS, chunk_ids, named=True)
        return {row["chunk_id"]: chunk_from_row(row) for row in rows}

    def chunk_owners(self, chunk_ids: list[str]) -> dict[str, "Owner"]:
        """Chunk id -> its row, document and number of vectors, for the given chunks that
        are live."""
        return self._owners("chunk_id", chunk_ids)

    def owners_by_row(self, rows: list[int]) -> dict[int, "Owner"]:
        """Chunk row id -> the same, for the given rows that are live."""
        return {owner.row: owner for owner in self._owners("id", rows).values()}

    def _owners(self, column: str, keys: Sequence[object]) -> dict[str, "Owner"]:
        found = self.db.execute(  # one JSON parameter: any number of keys
            "SELECT chunk_id, id, doc_id, vectors FROM chunks"
            f" WHERE {column} IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {row[0]: Owner(*row) for row in found}

    def _by_chunk_id(self, select: str, chunk_ids: list[str], named: bool = False) -> Iterator[Any]:
        """Rows of `select` (over `chunks c`) for the given chunk ids, in batches that stay
        under SQLite's limit on bound parameters."""
        for start in range(0, len(chunk_ids), 500):
            batch = chunk_ids[start : start + 500]
            sql = f"{select} WHERE c.chunk_id IN ({','.join('?' * len(batch))})"
            yield from self._named(sql, batch) if named else self.db.execute(sql, batch)

    def lexical_search(
        self, query: str, limit: int, within: DocFilter | None = None
    ) -> list[tuple[str, float]]:
        """The best `limit` (chunk id, BM25 score), optionally within some documents."""
        scores = self.passage_scores(query, limit, within)
        owners = self.owners_by_row(list(scores))
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        return [(owners[row].chunk_id, score) for row, score in ranked if row in owners]

    def passage_scores(
        self, query: str, limit: int, within: DocFilter | None = None, also: Iterable[int] = ()
    ) -> dict[int, float]:
        """Chunk row id -> BM25 of the best `limit` chunks (within some documents) and of
        the chunks `also` that share a term with the query, in one pass."""
        if within is not None and within.admits_nothing:
            return {}
        return bm25_rows(self.db, "chunks_fts", query_terms(query), limit, also, within)

    def document_scores(self, query: str, doc_ids: list[str]) -> dict[str, float]:
        """BM25 scores of the given documents taken whole (title and all their text)."""
        first = dict(
            self.db.execute(  # a document's lexical row id is that of its first chunk
                "SELECT id, doc_id FROM chunks WHERE ord = 0"
                " AND doc_id IN (SELECT value FROM json_each(?))",
                (json.dumps(doc_ids),),
            ).fetchall()
        )
        scores = bm25_rows(self.db, "documents_fts", query_terms(query), 0, first)
        return {first[row]: score for row, score in scores.items()}

    def counts(
        self, root: str | None = None, collections: Iterable[str] | None = None
    ) -> tuple[int, int]:
        """(documents indexed, chunks), optionally of one ingested root and/or some
        collections."""
        where, params = _document_filter(root, collections)
        docs = self.db.execute(
            f"SELECT COUNT(*) FROM documents d WHERE {where} AND d.content_hash IS NOT NULL",
            params,
        ).fetchone()[0]
        chunks = self.db.execute(
            f"SELECT COUNT(*) FROM chunks c JOIN documents d USING (doc_id) WHERE {where}",
            params,
        ).fetchone()[0]
        return docs, chunks


def _document_filter(
    root: str | None, collections: Iterable[str] | None
) -> tuple[str, list[object]]:
    """A WHERE clause over `documents d` and its parameters (collections as one JSON
    parameter: any number of them)."""
    clauses, params = ["1"], list[object]()
    if root is not None:
        clauses.append("d.root = ?")
        params.append(root)
    if collections is not None:
        clauses.append("d.collection IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(collections)))
    return " AND ".join(clauses), params


def chunk_from_row(row: sqlite3.Row) -> ChunkRow:
    kind, value = row["locator_kind"], row["locator_value"]
    locator = Locator(kind, value) if kind in LOCATOR_KINDS and value is not None else None
    names = (
        "chunk_id",
        "doc_id",
        "ord",
        "title",
        "heading",
        "text",
        "source",
        "root",
        "collection",
    )
    return ChunkRow(locator=locator, **{name: row[name] for name in names})
