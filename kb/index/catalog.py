"""The catalog: documents, chunks and the lexical index; the source of truth for what is
indexed. One interface, two databases side by side: SQLite in the data dir (the embedded
default, kb.index.sqlite) and PostgreSQL shared by a team's processes (kb.index.postgres).

A document's chunks and their lexical entries change in one transaction, so search never
sees a document half-updated; vectors whose chunk ids are not in the catalog are ignored and
cleaned up. Lexical search is BM25 as SQLite FTS5 ranks it, on both (kb.index.lexical).

The SQL here is written once for both databases: named `:name` parameters, and list
parameters through `Dialect.member` (SQLite reads a JSON array, PostgreSQL an array).
"""

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple, Protocol

from kb.collections import DEFAULT_COLLECTION, SCRATCH_PREFIX, is_scratch
from kb.index.lexical import TermIndex, bm25_rows, query_terms
from kb.index.vectors import chunk_of, vector_ids
from kb.types import LOCATOR_KINDS, DocFilter, Locator

Params = Mapping[str, Any]


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Session(ABC):
    """One connection, as the catalog's SQL uses it (rows as tuples, or as dicts)."""

    @abstractmethod
    def execute(self, sql: str, params: Params | None = None) -> Cursor: ...

    @abstractmethod
    def executemany(self, sql: str, params: Sequence[Params]) -> None: ...

    @abstractmethod
    def dicts(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def close(self) -> None: ...


class Dialect(ABC):
    """What the two databases spell differently."""

    @abstractmethod
    def member(self, column: str, param: str, negate: bool = False) -> str:
        """`column` is (or is not) one of the values of the list parameter `param`."""

    @abstractmethod
    def listed(self, values: Iterable[object]) -> object:
        """A list as the parameter `member` reads."""

    @abstractmethod
    def nocase(self, expression: str) -> str:
        """`expression` for ordering without regard to case (an index serves it)."""

    like_nocase = "LIKE"  # LIKE that ignores case
    position = "instr"  # position of a substring: f"{position}(text, part)"


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


PASSAGES = 0  # the lexical table of passages (rows: chunk row ids)
DOCUMENTS = 1  # of documents whole (rows: the row id of a document's first chunk)


class Catalog(ABC):
    dialect: Dialect
    migrations: list[tuple[str, tuple[str, ...]]]

    def __init__(self) -> None:
        self._local = threading.local()
        self._opened: list[Session] = []
        self._opened_lock = threading.Lock()
        self._migrate()

    @abstractmethod
    def _connect(self) -> Session:
        """A new connection."""

    @property
    def db(self) -> Session:
        """One connection per thread: the server searches from worker threads. Each is
        used by its own thread only; `close` (after the last use) closes them all."""
        db: Session | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
            with self._opened_lock:
                self._opened.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        db = self.db
        db.execute(self._begin_write)
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    _begin_write = "BEGIN"
    _begin_snapshot = "BEGIN"

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read in the block sees the catalog as of its first read: a search sees
        each document before or after an ingest switched it, never both."""
        db = self.db
        db.execute(self._begin_snapshot)
        try:
            yield
        finally:
            db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            self._lock_schema(db)
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, at DOUBLE PRECISION)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            for name, statements in self.migrations:
                if name not in done:
                    for statement in statements:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO migrations (name, at) VALUES (:name, :at)",
                        {"name": name, "at": time.time()},
                    )

    @abstractmethod
    def _lock_schema(self, db: Session) -> None:
        """Keep other processes from migrating at the same time (where they could)."""

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    # -- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = :key", {"key": key}).fetchone()
        return row[0] if row else None

    def set_meta(self, db: Session, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta (key, value) VALUES (:key, :value)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            {"key": key, "value": value},
        )

    # -- documents ----------------------------------------------------------------------

    def documents(
        self, root: str | None = None, collections: Iterable[str] | None = None
    ) -> list[DocumentRecord]:
        """Every document, or those of one ingested root and/or some collections."""
        where, params = self._document_filter(root, collections)
        select = f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM documents d WHERE {where}"
        return [DocumentRecord(**row) for row in self.db.dicts(select, params)]

    def collection_names(self) -> set[str]:
        """Every collection that has documents, the scratch spaces included."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT collection FROM documents")}

    def scratch_doc_ids(self) -> tuple[str, ...]:
        """The documents of every thread's scratch space (few; found through the index)."""
        after = SCRATCH_PREFIX[:-1] + chr(ord(SCRATCH_PREFIX[-1]) + 1)
        sql = "SELECT doc_id FROM documents WHERE collection >= :low AND collection < :high"
        found = self.db.execute(sql, {"low": SCRATCH_PREFIX, "high": after})
        return tuple(row[0] for row in found)

    def move_root(self, root: str, collection: str) -> None:
        """Put every document of an ingested root in `collection`."""
        with self.transaction() as db:
            db.execute(
                "UPDATE documents SET collection = :collection WHERE root = :root",
                {"collection": collection, "root": root},
            )

    def collections(self) -> list[CollectionCount]:
        """The listed collections (not the per-thread scratch ones) with their counts."""
        rows = self.db.execute(
            "SELECT d.collection, COUNT(DISTINCT CASE WHEN d.content_hash IS NOT NULL"
            " THEN d.doc_id END), COUNT(c.id) FROM documents d"
            " LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.collection ORDER BY 1"
        )
        return [CollectionCount(*row) for row in rows if not is_scratch(row[0])]

    def document(self, doc_id: str) -> DocumentRecord | None:
        select = f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM documents WHERE doc_id = :doc_id"
        rows = self.db.dicts(select, {"doc_id": doc_id})
        return DocumentRecord(**rows[0]) if rows else None

    def upsert_document(self, db: Session, record: DocumentRecord) -> None:
        updates = ", ".join(f"{name} = excluded.{name}" for name in DOCUMENT_COLUMNS[1:])
        db.execute(
            f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)})"
            f" VALUES ({', '.join(':' + name for name in DOCUMENT_COLUMNS)})"
            f" ON CONFLICT (doc_id) DO UPDATE SET {updates}",
            asdict(record),
        )

    def document_vector_ids(self, doc_ids: list[str]) -> list[str]:
        """The ids of every vector of the given documents' chunks (one query for a batch:
        on a database server each query is a round trip)."""
        rows = self.db.execute(
            f"SELECT chunk_id, vectors FROM chunks WHERE {self.dialect.member('doc_id', 'ids')}",
            {"ids": self._listed(doc_ids)},
        )
        return [vector_id for row in rows for vector_id in vector_ids(*row)]

    def content_hashes(self, doc_ids: list[str]) -> list[str]:
        """The content hashes the given documents have now."""
        where = self.dialect.member("doc_id", "ids")
        sql = f"SELECT content_hash FROM documents WHERE {where} AND content_hash IS NOT NULL"
        return [row[0] for row in self.db.execute(sql, {"ids": self._listed(doc_ids)})]

    def vector_count(self) -> int:
        """How many vectors the vector store should hold."""
        return int(self.db.execute("SELECT COALESCE(SUM(vectors), 0) FROM chunks").fetchone()[0])

    def replace_chunks(self, db: Session, doc_id: str, chunks: list[NewChunk]) -> None:
        self.delete_chunks(db, doc_id)
        if not chunks:
            return
        rows = self._insert_chunks(db, doc_id, chunks)
        passages = [(f"{c.title} {c.heading}", c.text) for c in chunks]
        self._index_rows(db, PASSAGES, rows, passages)
        whole = (chunks[0].title, "\n".join(chunk.text for chunk in chunks))
        self._index_rows(db, DOCUMENTS, rows[:1], [whole])

    @staticmethod
    def _chunk_params(doc_id: str, chunks: list[NewChunk]) -> list[dict[str, Any]]:
        return [
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
            }
            for ord_, chunk in enumerate(chunks)
        ]

    @abstractmethod
    def _insert_chunks(self, db: Session, doc_id: str, chunks: list[NewChunk]) -> list[int]:
        """Insert the rows of a document's chunks; their row ids, in order."""

    @abstractmethod
    def _index_rows(
        self, db: Session, table: int, rows: list[int], fields: list[tuple[str, str]]
    ) -> None:
        """Add rows of two fields each to a lexical table."""

    @abstractmethod
    def _unindex_rows(self, db: Session, table: int, rows: list[int]) -> None:
        """Remove rows from a lexical table."""

    def delete_chunks(self, db: Session, doc_id: str) -> None:
        found = db.execute(
            "SELECT id FROM chunks WHERE doc_id = :doc_id ORDER BY ord", {"doc_id": doc_id}
        )
        rows = [row[0] for row in found]
        if not rows:
            return
        self._unindex_rows(db, DOCUMENTS, rows[:1])
        self._unindex_rows(db, PASSAGES, rows)
        db.execute("DELETE FROM chunks WHERE doc_id = :doc_id", {"doc_id": doc_id})

    def delete_document(self, db: Session, doc_id: str) -> None:
        self.delete_chunks(db, doc_id)
        db.execute("DELETE FROM documents WHERE doc_id = :doc_id", {"doc_id": doc_id})

    # -- originals (kept by a catalog on servers; embedded, the files are on this disk) ----

    keeps_originals = False

    def put_original(self, db: Session, content_hash: str, data: bytes) -> None:
        db.execute(
            "INSERT INTO originals (content_hash, data) VALUES (:hash, :data)"
            " ON CONFLICT (content_hash) DO NOTHING",
            {"hash": content_hash, "data": data},
        )

    def drop_unused_originals(self, db: Session, hashes: Iterable[str]) -> None:
        """Forget the given originals that no document holds any more."""
        if not self.keeps_originals:
            return
        db.execute(
            f"DELETE FROM originals WHERE {self.dialect.member('content_hash', 'hashes')}"
            " AND NOT EXISTS (SELECT 1 FROM documents d"
            " WHERE d.content_hash = originals.content_hash)",
            {"hashes": self._listed(hashes)},
        )

    def original(self, content_hash: str) -> bytes | None:
        if not self.keeps_originals:
            return None
        sql = "SELECT data FROM originals WHERE content_hash = :hash"
        row = self.db.execute(sql, {"hash": content_hash}).fetchone()
        return bytes(row[0]) if row else None

    # -- pending vectors (written to the vector store, not yet committed here) -------------

    def add_pending(self, db: Session, ids: Iterable[str]) -> None:
        params = [{"id": i} for i in ids]
        if params:
            db.executemany(
                "INSERT INTO pending_vectors (chunk_id) VALUES (:id) ON CONFLICT DO NOTHING",
                params,
            )

    def clear_pending(self, db: Session, ids: Iterable[str]) -> None:
        member = self.dialect.member("chunk_id", "ids")
        db.execute(f"DELETE FROM pending_vectors WHERE {member}", {"ids": self._listed(ids)})

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
        sql = f"{CHUNK_ROWS} WHERE {self.dialect.member('c.chunk_id', 'ids')}"
        rows = self.db.dicts(sql, {"ids": self._listed(chunk_ids)})
        return {row["chunk_id"]: chunk_from_row(row) for row in rows}

    def chunks_near(self, chunk_ids: list[str], reach: int) -> dict[str, ChunkRow]:
        """Chunk id -> row, for the given chunks and those within `reach` places of each
        in its document: one query for a search's hits and their neighbours."""
        found = self.db.dicts(
            f"{CHUNK_ROWS} JOIN chunks h ON h.doc_id = c.doc_id"
            " AND c.ord BETWEEN h.ord - :reach AND h.ord + :reach"
            f" WHERE {self.dialect.member('h.chunk_id', 'ids')}",
            {"ids": self._listed(chunk_ids), "reach": reach},
        )
        return {row["chunk_id"]: chunk_from_row(row) for row in found}

    def chunk_owners(self, chunk_ids: list[str]) -> dict[str, Owner]:
        """Chunk id -> its row, document and number of vectors, for the given chunks that
        are live."""
        return self._owners("chunk_id", chunk_ids)

    def owners_by_row(self, rows: list[int]) -> dict[int, Owner]:
        """Chunk row id -> the same, for the given rows that are live."""
        return {owner.row: owner for owner in self._owners("id", rows).values()}

    def _owners(self, column: str, keys: Iterable[object]) -> dict[str, Owner]:
        found = self.db.execute(
            "SELECT chunk_id, id, doc_id, vectors FROM chunks"
            f" WHERE {self.dialect.member(column, 'keys')}",
            {"keys": self._listed(keys)},
        )
        return {row[0]: Owner(*row) for row in found}

    def _listed(self, values: Iterable[object]) -> object:
        return self.dialect.listed(list(values))

    @abstractmethod
    def _terms(self, table: int) -> TermIndex:
        """A lexical table, for BM25 search."""

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
        return bm25_rows(self._terms(PASSAGES), query_terms(query), limit, also, within)

    def document_paths(self, doc_ids: list[str]) -> dict[str, str]:
        """Document id -> its path, for the given documents."""
        sql = f"SELECT doc_id, path FROM documents WHERE {self.dialect.member('doc_id', 'ids')}"
        return dict(self.db.execute(sql, {"ids": self._listed(doc_ids)}).fetchall())

    def document_scores(self, query: str, doc_ids: list[str]) -> dict[str, float]:
        """BM25 scores of the given documents taken whole (title and all their text)."""
        first = dict(
            self.db.execute(  # a document's lexical row id is that of its first chunk
                "SELECT id, doc_id FROM chunks WHERE ord = 0"
                f" AND {self.dialect.member('doc_id', 'ids')}",
                {"ids": self._listed(doc_ids)},
            ).fetchall()
        )
        scores = bm25_rows(self._terms(DOCUMENTS), query_terms(query), 0, first)
        return {first[row]: score for row, score in scores.items()}

    def counts(
        self, root: str | None = None, collections: Iterable[str] | None = None
    ) -> tuple[int, int]:
        """(documents indexed, chunks), optionally of one ingested root and/or some
        collections."""
        where, params = self._document_filter(root, collections)
        docs = self.db.execute(
            f"SELECT COUNT(*) FROM documents d WHERE {where} AND d.content_hash IS NOT NULL",
            params,
        ).fetchone()[0]
        chunks = self.db.execute(
            f"SELECT COUNT(*) FROM chunks c JOIN documents d ON d.doc_id = c.doc_id WHERE {where}",
            params,
        ).fetchone()[0]
        return docs, chunks

    def _document_filter(
        self, root: str | None, collections: Iterable[str] | None
    ) -> tuple[str, dict[str, object]]:
        """A WHERE clause over `documents d` and its parameters."""
        clauses, params = ["1 = 1"], dict[str, object]()
        if root is not None:
            clauses.append("d.root = :root")
            params["root"] = root
        if collections is not None:
            clauses.append(self.dialect.member("d.collection", "collections"))
            params["collections"] = self._listed(sorted(collections))
        return " AND ".join(clauses), params


def chunk_from_row(row: Mapping[str, Any]) -> ChunkRow:
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
