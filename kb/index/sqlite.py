"""The embedded catalog: one SQLite database in the data dir, its lexical tables FTS5."""

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kb.index.catalog import DOCUMENTS, PASSAGES, Catalog, Dialect, NewChunk, Params, Session
from kb.index.fts import Fts5Terms
from kb.index.lexical import TermIndex
from kb.index.schema import SQLITE_MIGRATIONS
from kb.sqlite_wal import BUSY_TIMEOUT_S, use_wal

FTS_TABLES = {PASSAGES: "chunks_fts", DOCUMENTS: "documents_fts"}
FTS_FIELDS = {"chunks_fts": ("context", "text"), "documents_fts": ("title", "text")}


class SqliteSession(Session):
    def __init__(self, path: Path) -> None:
        self.raw = use_wal(
            sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        )
        self.raw.execute("PRAGMA synchronous=NORMAL")
        self.raw.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Params | Any = None) -> sqlite3.Cursor:
        return self.raw.execute(sql, params or ())

    def executemany(self, sql: str, params: Sequence[Params]) -> None:
        self.raw.executemany(sql, params)

    def dicts(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        cursor = self.raw.cursor()
        cursor.row_factory = sqlite3.Row
        return [dict(row) for row in cursor.execute(sql, params or {})]

    def close(self) -> None:
        self.raw.close()


class SqliteDialect(Dialect):
    def member(self, column: str, param: str, negate: bool = False) -> str:
        # one JSON parameter: any number of values, under SQLite's limit on parameters
        return f"{column} {'NOT IN' if negate else 'IN'} (SELECT value FROM json_each(:{param}))"

    def listed(self, values: Iterable[object]) -> object:
        return json.dumps(list(values))

    def nocase(self, expression: str) -> str:
        return f"{expression} COLLATE NOCASE"


class SqliteCatalog(Catalog):
    dialect = SqliteDialect()
    migrations = SQLITE_MIGRATIONS
    _begin_write = "BEGIN IMMEDIATE"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__()

    def _connect(self) -> SqliteSession:
        return SqliteSession(self.path)

    def _lock_schema(self, db: Session) -> None:
        pass  # BEGIN IMMEDIATE already keeps other writers out

    @property
    def db(self) -> SqliteSession:
        db = super().db
        assert isinstance(db, SqliteSession)
        return db

    def _insert_chunks(self, db: Session, doc_id: str, chunks: list[NewChunk]) -> list[int]:
        rows = []
        for params in self._chunk_params(doc_id, chunks):
            cursor = db.execute(
                "INSERT INTO chunks (chunk_id, doc_id, ord, title, heading, locator_kind,"
                " locator_value, text, vectors) VALUES (:chunk_id, :doc_id, :ord, :title,"
                " :heading, :locator_kind, :locator_value, :text, :vectors) RETURNING id",
                params,
            )
            rows.append(int(cursor.fetchone()[0]))
        return rows

    def _index_rows(
        self, db: Session, table: int, rows: list[int], fields: list[tuple[str, str]]
    ) -> None:
        name = FTS_TABLES[table]
        first, second = FTS_FIELDS[name]
        db.executemany(
            f"INSERT INTO {name} (rowid, {first}, {second}) VALUES (:row, :a, :b)",
            [{"row": row, "a": a, "b": b} for row, (a, b) in zip(rows, fields, strict=True)],
        )

    def _unindex_rows(self, db: Session, table: int, rows: list[int]) -> None:
        name = FTS_TABLES[table]
        member = self.dialect.member("rowid", "rows")
        db.execute(f"DELETE FROM {name} WHERE {member}", {"rows": self._listed(rows)})

    def _terms(self, table: int) -> TermIndex:
        return Fts5Terms(self.db.raw, FTS_TABLES[table])
