"""The ChatKit thread store on SQLAlchemy (async): SQLite by default, PostgreSQL when configured.

Models are stored as their pydantic JSON; only the columns needed to scope, order and page
(user_id, thread_id, created_at, id) live outside it. Every query is scoped by the request's
user: another user's rows are invisible (NotFoundError), never returned or overwritten.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.context import RequestContext
from server.migrations import apply_migrations
from server.toollog import ToolCallRecord

# The live schema, kept in step with server.migrations (which owns creating it).
_md = MetaData()
threads = Table(
    "threads",
    _md,
    Column("user_id", String(255), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("data", Text, nullable=False),
)
items = Table(
    "items",
    _md,
    Column("user_id", String(255), primary_key=True),
    Column("thread_id", String(255), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("data", Text, nullable=False),
)
attachments = Table(
    "attachments",
    _md,
    Column("user_id", String(255), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("data", Text, nullable=False),
)
feedback = Table(
    "feedback",
    _md,
    Column("user_id", String(255), primary_key=True),
    Column("thread_id", String(255), primary_key=True),
    Column("item_id", String(255), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
)

tool_calls = Table(
    "tool_calls",
    _md,
    Column("user_id", String(255), primary_key=True),
    Column("thread_id", String(255), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("data", Text, nullable=False),
)


class FeedbackKind(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


_item_adapter: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_attachment_adapter: TypeAdapter[Attachment] = TypeAdapter(Attachment)

SQLITE_BUSY_TIMEOUT_MS = 15_000
MAX_PAGE_SIZE = 100  # a larger limit gets this many rows and has_more


def default_database_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir}/chat.sqlite"


def is_embedded(url: str) -> bool:
    """Whether `url` names the embedded chat database (SQLite), the one a single host uses;
    a server database (PostgreSQL) is shared by every worker, on any host."""
    return make_url(url).get_backend_name() == "sqlite"


def sort_key(dt: datetime) -> str:
    """A UTC timestamp string that sorts like the instant it names, on every dialect."""
    # The ChatKit server stamps items with naive `datetime.now()`: that is local time.
    aware = dt if dt.tzinfo is not None else dt.astimezone()
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def open_store(url: str, **engine_options: Any) -> "SQLStore":
    """Create the engine for `url`, bring the schema up to date and return the store.

    `engine_options` go to `create_async_engine` (tests use them to pick a PG schema).
    """
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **engine_options)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    store = SQLStore(engine)
    try:
        await store.migrate()
    except BaseException:
        await engine.dispose()
        raise
    return store


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run alongside the one writer; the busy timeout makes concurrent
    # writers wait for the lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _upsert(conn: AsyncConnection, table: Table, values: dict[str, str]) -> Any:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE, for the dialects we support."""
    dialects: dict[str, Callable[[Table], sqlite.Insert | postgresql.Insert]] = {
        "sqlite": sqlite.insert,
        "postgresql": postgresql.insert,
    }
    insert = dialects.get(conn.dialect.name)
    if insert is None:
        raise NotImplementedError(f"no upsert for the {conn.dialect.name} dialect")
    stmt = insert(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    updates = {name: stmt.excluded[name] for name in values if name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def _page_query(
    table: Table, scope: ColumnElement[bool], after: str | None, limit: int, order: str
) -> Select[Any]:
    """Rows in `scope` ordered by (created_at, id), strictly past the `after` row."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    created, ident = table.c.created_at, table.c.id
    query = select(table.c.id, table.c.data).where(scope)
    if after is not None:
        # An unknown cursor yields an empty page (the scalar subquery is NULL).
        cursor = select(created).where(scope, ident == after).scalar_subquery()
        if order == "asc":
            past = or_(created > cursor, and_(created == cursor, ident > after))
        else:
            past = or_(created < cursor, and_(created == cursor, ident < after))
        query = query.where(past)
    keys = (created, ident) if order == "asc" else (created.desc(), ident.desc())
    return query.order_by(*keys).limit(limit + 1)


class SQLStore(Store[RequestContext]):
    """A `chatkit.store.Store` over any SQLAlchemy async engine we support."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def migrate(self) -> list[str]:
        async with self.engine.begin() as conn:
            return await conn.run_sync(apply_migrations)

    async def close(self) -> None:
        await self.engine.dispose()

    # Threads

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        async with self.engine.connect() as conn:
            data = await conn.scalar(select(threads.c.data).where(_thread_row(context, thread_id)))
        if data is None:
            raise NotFoundError(f"thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        # The server may hand in a Thread that still carries its items: store metadata only.
        data = thread.model_dump_json(exclude={"items"})
        row = {
            "user_id": context.user_id,
            "id": thread.id,
            "created_at": sort_key(thread.created_at),
            "data": data,
        }
        async with self.engine.begin() as conn:
            await conn.execute(_upsert(conn, threads, row))

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = _capped(limit)
        query = _page_query(threads, threads.c.user_id == context.user_id, after, limit, order)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        data = [ThreadMetadata.model_validate_json(row.data) for row in rows[:limit]]
        return _page(data, has_more=len(rows) > limit)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        async with self.engine.begin() as conn:
            for table in (items, feedback, tool_calls):
                mine = and_(table.c.user_id == context.user_id, table.c.thread_id == thread_id)
                await conn.execute(delete(table).where(mine))
            await conn.execute(delete(threads).where(_thread_row(context, thread_id)))

    # Items

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        limit = _capped(limit)
        query = _page_query(items, _thread_items(context, thread_id), after, limit, order)
        async with self.engine.connect() as conn:
            await _require_thread(conn, context, thread_id)
            rows = (await conn.execute(query)).all()
        data = [_item_adapter.validate_json(row.data) for row in rows[:limit]]
        return _page(data, has_more=len(rows) > limit)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        # An upsert, not an insert: the server re-adds an open workflow item on a later turn.
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        row = {
            "user_id": context.user_id,
            "thread_id": thread_id,
            "id": item.id,
            "created_at": sort_key(item.created_at),
            "data": item.model_dump_json(),
        }
        async with self.engine.begin() as conn:
            await _require_thread(conn, context, thread_id)
            await conn.execute(_upsert(conn, items, row))

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        scope = and_(_thread_items(context, thread_id), items.c.id == item_id)
        async with self.engine.connect() as conn:
            data = await conn.scalar(select(items.c.data).where(scope))
        if data is None:
            raise NotFoundError(f"item {item_id} not found in thread {thread_id}")
        return _item_adapter.validate_json(data)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        scope = and_(_thread_items(context, thread_id), items.c.id == item_id)
        async with self.engine.begin() as conn:
            await conn.execute(delete(items).where(scope))

    # Attachments

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        row = {
            "user_id": context.user_id,
            "id": attachment.id,
            "data": attachment.model_dump_json(),
        }
        async with self.engine.begin() as conn:
            await conn.execute(_upsert(conn, attachments, row))

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        async with self.engine.connect() as conn:
            data = await conn.scalar(
                select(attachments.c.data).where(_attachment_row(context, attachment_id))
            )
        if data is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        return _attachment_adapter.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(attachments).where(_attachment_row(context, attachment_id)))

    async def delete_thread_attachments(self, thread_id: str, context: RequestContext) -> None:
        """The records of the attachments sent in one of the caller's threads."""
        mine = attachments.c.user_id == context.user_id
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(select(attachments.c.id, attachments.c.data).where(mine))
            ).all()
            sent = [
                row.id
                for row in rows
                if _attachment_adapter.validate_json(row.data).thread_id == thread_id
            ]
            if sent:
                await conn.execute(delete(attachments).where(mine, attachments.c.id.in_(sent)))

    # Feedback (not part of the Store contract: the server's add_feedback saves it here)

    async def save_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        now = sort_key(datetime.now(UTC))
        async with self.engine.begin() as conn:
            await _require_thread(conn, context, thread_id)
            for item_id in item_ids:
                row = {
                    "user_id": context.user_id,
                    "thread_id": thread_id,
                    "item_id": item_id,
                    "kind": FeedbackKind(kind).value,
                    "created_at": now,
                }
                await conn.execute(_upsert(conn, feedback, row))

    async def load_feedback(
        self, thread_id: str, context: RequestContext
    ) -> dict[str, FeedbackKind]:
        """item id -> the feedback given on it, for one thread of the caller's."""
        scope = and_(feedback.c.user_id == context.user_id, feedback.c.thread_id == thread_id)
        async with self.engine.connect() as conn:
            await _require_thread(conn, context, thread_id)
            rows = await conn.execute(select(feedback.c.item_id, feedback.c.kind).where(scope))
        return {item_id: FeedbackKind(kind) for item_id, kind in rows}

    # Tool calls (not part of the Store contract: the search tool records them here)

    async def save_tool_call(self, record: ToolCallRecord, context: RequestContext) -> None:
        row = {
            "user_id": context.user_id,
            "thread_id": record.thread,
            "id": record.call_id or uuid.uuid4().hex,
            "created_at": record.time,
            "data": record.model_dump_json(),
        }
        async with self.engine.begin() as conn:
            await _require_thread(conn, context, record.thread)
            await conn.execute(_upsert(conn, tool_calls, row))

    async def load_tool_calls(
        self, thread_id: str, context: RequestContext
    ) -> list[ToolCallRecord]:
        """The tool calls made in one thread of the caller's, oldest first."""
        scope = and_(tool_calls.c.user_id == context.user_id, tool_calls.c.thread_id == thread_id)
        query = select(tool_calls.c.data).where(scope).order_by(tool_calls.c.created_at)
        async with self.engine.connect() as conn:
            await _require_thread(conn, context, thread_id)
            rows = await conn.scalars(query)
            return [ToolCallRecord.model_validate_json(data) for data in rows]


def _thread_row(context: RequestContext, thread_id: str) -> ColumnElement[bool]:
    return and_(threads.c.user_id == context.user_id, threads.c.id == thread_id)


def _thread_items(context: RequestContext, thread_id: str) -> ColumnElement[bool]:
    return and_(items.c.user_id == context.user_id, items.c.thread_id == thread_id)


def _attachment_row(context: RequestContext, attachment_id: str) -> ColumnElement[bool]:
    return and_(attachments.c.user_id == context.user_id, attachments.c.id == attachment_id)


async def _require_thread(conn: AsyncConnection, context: RequestContext, thread_id: str) -> None:
    # Items only exist inside a thread the caller owns; this also stops one user from
    # writing into (or probing) another user's thread.
    found = await conn.scalar(select(threads.c.id).where(_thread_row(context, thread_id)))
    if found is None:
        raise NotFoundError(f"thread {thread_id} not found")


T = TypeVar("T")


def _capped(limit: int) -> int:
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    return min(limit, MAX_PAGE_SIZE)


def _page(data: list[T], has_more: bool) -> Page[T]:
    # As in the ChatKit contract: the cursor of the next page, none after the last one.
    last = getattr(data[-1], "id", None) if data and has_more else None
    return Page(data=data, has_more=has_more, after=last)
