"""The catalog on PostgreSQL, for a team: every server process and `kb ingest` on any
machine share it. Its tables live in a schema of their own (one per index generation);
lexical search is BM25 over postings kept here (kb.index.postings).
"""

import hashlib
import os
import re
import socket
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from kb.errors import KBError
from kb.index.catalog import Catalog, Dialect, NewChunk, Params, Session
from kb.index.lexical import TermIndex
from kb.index.postings import PostingsTerms, PostingsWrites, remove_postings
from kb.index.schema import POSTGRES_MIGRATIONS

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=1024)
def _pyformat(sql: str) -> str:
    """The catalog's `:name` parameters as psycopg's `%(name)s`."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


def connection_url(url: str) -> str:
    """A libpq URL from an SQLAlchemy-style one (`postgresql+psycopg://...`)."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def connect(url: str, application: str = "kb") -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(
            connection_url(url), autocommit=True, application_name=application, connect_timeout=10
        )
    except psycopg.OperationalError as error:
        where = urlsplit(connection_url(url))  # named without its password
        raise KBError(
            f"cannot use the index database {where.hostname}:{where.port or 5432}{where.path} "
            f"(KB_INDEX_URL): {str(error).strip()}"
        ) from error


class PostgresSession(Session):
    def __init__(self, url: str, schema: str) -> None:
        self.raw = connect(url)
        self.raw.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.raw.execute(f'SET search_path TO "{schema}"')

    def execute(self, sql: str, params: Params | None = None) -> psycopg.Cursor[Any]:
        if params is None:
            return self.raw.execute(sql)
        return self.raw.execute(_pyformat(sql), params)

    def executemany(self, sql: str, params: Sequence[Params]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_pyformat(sql), params)

    def dicts(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        with self.raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(_pyformat(sql), params or {})
            return cursor.fetchall()

    def copy(self, statement: str, rows: Iterable[Sequence[object]]) -> None:
        """`COPY ... FROM STDIN` of `rows` (values without tabs, newlines or backslashes:
        they go as written), the fastest way in for many rows: one buffer, not a call each."""
        text = "".join("\t".join(map(str, row)) + "\n" for row in rows)
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(text)

    def close(self) -> None:
        self.raw.close()


class PostgresDialect(Dialect):
    like_nocase = "ILIKE"
    position = "strpos"

    def member(self, column: str, param: str, negate: bool = False) -> str:
        return f"{column} <> ALL(:{param})" if negate else f"{column} = ANY(:{param})"

    def listed(self, values: Iterable[object]) -> object:
        return list(values)

    def nocase(self, expression: str) -> str:
        return f"lower({expression})"


class PostgresCatalog(Catalog):
    dialect = PostgresDialect()
    migrations = POSTGRES_MIGRATIONS
    keeps_originals = True
    _begin_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        super().__init__()

    def _connect(self) -> PostgresSession:
        return PostgresSession(self.url, self.schema)

    def _lock_schema(self, db: Session) -> None:
        db.execute("SELECT pg_advisory_xact_lock(:key)", {"key": lock_key(f"schema {self.schema}")})

    def _insert_chunks(self, db: Session, doc_id: str, chunks: list[NewChunk]) -> list[int]:
        columns = self._chunk_params(doc_id, chunks)
        names = ("chunk_id", "ord", "title", "heading", "locator_kind", "locator_value", "text")
        arrays = {name: [row[name] for row in columns] for name in (*names, "vectors")}
        found = db.execute(
            "INSERT INTO chunks (doc_id, chunk_id, ord, title, heading, locator_kind,"
            " locator_value, text, vectors) SELECT :doc_id, * FROM unnest("
            "CAST(:chunk_id AS text[]), CAST(:ord AS int[]), CAST(:title AS text[]),"
            " CAST(:heading AS text[]), CAST(:locator_kind AS text[]),"
            " CAST(:locator_value AS text[]), CAST(:text AS text[]), CAST(:vectors AS int[]))"
            " RETURNING ord, id",
            {"doc_id": doc_id, **arrays},
        )
        by_ord = dict(found.fetchall())
        return [by_ord[n] for n in range(len(chunks))]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with super().transaction() as db:
            self._local.postings = writes = PostingsWrites()
            try:
                yield db
            finally:
                self._local.postings = None
            assert isinstance(db, PostgresSession)
            writes.flush(db)

    def _index_rows(
        self, db: Session, table: int, rows: list[int], fields: list[tuple[str, str]]
    ) -> None:
        self._local.postings.add(table, rows, fields)  # written when the transaction ends

    def _unindex_rows(self, db: Session, table: int, rows: list[int]) -> None:
        remove_postings(db, table, rows)

    def _terms(self, table: int) -> TermIndex:
        return PostingsTerms(self.db, table)


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


@contextmanager
def ingest_lock(url: str, name: str, holder: str, wait: bool = False) -> Iterator[None]:
    """One ingest per knowledge base, wherever it runs: a session-level advisory lock,
    which PostgreSQL also releases when the holder dies (`kill -9` included). Fails at once
    with who holds it, unless `wait`."""
    who = f"`{holder}` (pid {os.getpid()} on {socket.gethostname()})"
    key = lock_key(f"ingest {name}")
    with connect(url, application=who[:63]) as db:
        if wait:
            db.execute("SELECT pg_advisory_lock(%s)", (key,))
        elif not db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
            holders = ingest_lock_holders(db, name) or ["another ingest"]
            raise KBError(
                f"{holders[0]} is writing to this knowledge base "
                f"({db.info.host}/{db.info.dbname}); wait for it to finish, then try again"
            )
        try:
            yield
        finally:
            db.execute("SELECT pg_advisory_unlock(%s)", (key,))


def ingest_lock_holders(db: psycopg.Connection[Any], name: str) -> list[str]:
    """Who holds the ingest lock of the knowledge base `name`, as each named itself:
    `kb ingest` (pid N on HOST)."""
    key = lock_key(f"ingest {name}")
    rows = db.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s",
        (key >> 32, key & 0xFFFFFFFF),
    )
    return [str(row[0]) for row in rows if row[0]]
