"""One contract test class for the ChatKit store, run against every backend.

SQLite always; PostgreSQL when KB_TEST_DATABASE_URL is set (each test gets a fresh schema).
"""

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from chatkit.store import NotFoundError
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    FileSource,
    InferenceOptions,
    Page,
    SearchTask,
    Thread,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
)
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from server.context import RequestContext
from server.migrations import MIGRATIONS
from server.store import MAX_PAGE_SIZE, SQLStore, default_database_url, open_store, sort_key

ALICE = RequestContext("alice")
BOB = RequestContext("bob")
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Backend:
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    async def open(self) -> SQLStore:
        return await open_store(self.url, **self.options)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend(f"sqlite+aiosqlite:///{tmp_path}/chat.sqlite")
        return
    url = os.environ.get("KB_TEST_DATABASE_URL")
    if not url:
        pytest.skip("set KB_TEST_DATABASE_URL to run the PostgreSQL store tests")
    async for pg in _pg_schema(url):
        yield pg


async def _pg_schema(url: str) -> AsyncIterator[Backend]:
    # A fresh schema per test isolates tests from each other and from real data.
    schema = f"kb_test_{uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield Backend(url, {"connect_args": {"server_settings": {"search_path": schema}}})
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[SQLStore]:
    store = await backend.open()
    yield store
    await store.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def thread(thread_id: str, seconds: float = 0, title: str | None = None) -> ThreadMetadata:
    return ThreadMetadata(id=thread_id, created_at=at(seconds), title=title)


def user_message(item_id: str, thread_id: str, seconds: float, text: str = "hi") -> ThreadItem:
    return UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=at(seconds),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


def assistant_message(item_id: str, thread_id: str, seconds: float, text: str) -> ThreadItem:
    source = FileSource(title="Handbook", filename="handbook.md")
    content = AssistantMessageContent(text=text, annotations=[Annotation(source=source, index=0)])
    return AssistantMessageItem(
        id=item_id, thread_id=thread_id, created_at=at(seconds), content=[content]
    )


def workflow(item_id: str, thread_id: str, seconds: float, queries: list[str]) -> ThreadItem:
    task = SearchTask(title="Searching the docs", queries=queries, status_indicator="loading")
    return WorkflowItem(
        id=item_id,
        thread_id=thread_id,
        created_at=at(seconds),
        workflow=Workflow(type="custom", tasks=[task]),
    )


def attachment(attachment_id: str, name: str = "notes.txt") -> FileAttachment:
    return FileAttachment(id=attachment_id, name=name, mime_type="text/plain")


def ids(page: Page[Any]) -> list[str]:
    return [x.id for x in page.data]


async def all_items(store: SQLStore, thread_id: str, ctx: RequestContext) -> list[str]:
    return ids(await store.load_thread_items(thread_id, None, 100, "asc", ctx))


class TestStoreContract:
    async def test_thread_round_trip(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1", title="First"), ALICE)
        loaded = await store.load_thread("thr_1", ALICE)
        assert loaded == thread("thr_1", title="First")

    async def test_save_thread_is_an_upsert(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1", title="Old"), ALICE)
        await store.save_thread(thread("thr_1", title="New"), ALICE)
        assert (await store.load_thread("thr_1", ALICE)).title == "New"
        assert ids(await store.load_threads(10, None, "desc", ALICE)) == ["thr_1"]

    async def test_thread_with_items_is_saved_without_them(self, store: SQLStore) -> None:
        item = user_message("msg_1", "thr_1", 1)
        full = Thread(id="thr_1", created_at=at(0), title="T", items=Page(data=[item]))
        await store.save_thread(full, ALICE)
        loaded = await store.load_thread("thr_1", ALICE)
        assert type(loaded) is ThreadMetadata
        assert "items" not in loaded.model_dump()
        # What the server does next (threads.get_by_id) must not see a second `items`.
        Thread(**loaded.model_dump(), items=Page())
        assert await all_items(store, "thr_1", ALICE) == []

    async def test_unknown_ids_raise_not_found(self, store: SQLStore) -> None:
        with pytest.raises(NotFoundError):
            await store.load_thread("thr_missing", ALICE)
        with pytest.raises(NotFoundError):
            await store.load_thread_items("thr_missing", None, 10, "asc", ALICE)
        with pytest.raises(NotFoundError):
            await store.add_thread_item("thr_missing", user_message("m", "x", 0), ALICE)
        await store.save_thread(thread("thr_1"), ALICE)
        with pytest.raises(NotFoundError):
            await store.load_item("thr_1", "msg_missing", ALICE)
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_missing", ALICE)

    async def test_threads_page_both_directions(self, store: SQLStore) -> None:
        for n in range(5):
            await store.save_thread(thread(f"thr_{n}", seconds=n), ALICE)
        first = await store.load_threads(2, None, "desc", ALICE)
        assert (ids(first), first.has_more, first.after) == (["thr_4", "thr_3"], True, "thr_3")
        second = await store.load_threads(2, first.after, "desc", ALICE)
        assert (ids(second), second.has_more) == (["thr_2", "thr_1"], True)
        last = await store.load_threads(2, second.after, "desc", ALICE)
        assert (ids(last), last.has_more, last.after) == (["thr_0"], False, None)
        asc = await store.load_threads(3, "thr_1", "asc", ALICE)
        assert (ids(asc), asc.has_more) == (["thr_2", "thr_3", "thr_4"], False)

    async def test_items_order_by_created_at_then_id(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1"), ALICE)
        # Inserted out of order; msg_b and msg_c share a timestamp, so id breaks the tie.
        for item_id, seconds in [("msg_d", 3), ("msg_c", 2), ("msg_a", 1), ("msg_b", 2)]:
            await store.add_thread_item("thr_1", user_message(item_id, "thr_1", seconds), ALICE)
        asc = await store.load_thread_items("thr_1", None, 2, "asc", ALICE)
        assert (ids(asc), asc.has_more, asc.after) == (["msg_a", "msg_b"], True, "msg_b")
        rest = await store.load_thread_items("thr_1", asc.after, 2, "asc", ALICE)
        assert (ids(rest), rest.has_more) == (["msg_c", "msg_d"], False)
        desc = await store.load_thread_items("thr_1", None, 3, "desc", ALICE)
        assert (ids(desc), desc.has_more) == (["msg_d", "msg_c", "msg_b"], True)
        tail = await store.load_thread_items("thr_1", "msg_c", 10, "desc", ALICE)
        assert (ids(tail), tail.has_more, tail.after) == (["msg_b", "msg_a"], False, None)

    async def test_page_limits_beyond_any_integer_column_are_capped(self, store: SQLStore) -> None:
        for n in range(MAX_PAGE_SIZE + 1):
            await store.save_thread(thread(f"thr_{n:03}", seconds=n), ALICE)
        await store.add_thread_item("thr_000", user_message("msg_1", "thr_000", 1), ALICE)
        page = await store.load_threads(10**20, None, "asc", ALICE)
        assert (len(page.data), page.has_more) == (MAX_PAGE_SIZE, True)
        assert page.after == f"thr_{MAX_PAGE_SIZE - 1:03}"
        items_page = await store.load_thread_items("thr_000", None, 10**20, "asc", ALICE)
        assert (ids(items_page), items_page.has_more) == (["msg_1"], False)

    async def test_negative_page_limits_are_refused(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1"), ALICE)
        with pytest.raises(ValueError, match="limit"):
            await store.load_threads(-1, None, "asc", ALICE)
        with pytest.raises(ValueError, match="limit"):
            await store.load_thread_items("thr_1", None, -5, "asc", ALICE)

    async def test_naive_and_aware_timestamps_sort_together(self, store: SQLStore) -> None:
        # The ChatKit server stamps items with naive local `datetime.now()`.
        naive = datetime.now()
        aware = naive.astimezone(UTC) + timedelta(microseconds=1)
        assert sort_key(naive) < sort_key(aware)
        await store.save_thread(thread("thr_1"), ALICE)
        await store.add_thread_item("thr_1", _stamped("msg_z", naive), ALICE)
        await store.add_thread_item("thr_1", _stamped("msg_a", aware), ALICE)
        assert await all_items(store, "thr_1", ALICE) == ["msg_z", "msg_a"]

    async def test_item_kinds_round_trip(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1"), ALICE)
        made = [
            user_message("msg_1", "thr_1", 1, "What is the refund policy?"),
            workflow("wf_1", "thr_1", 2, ["refund policy"]),
            assistant_message("msg_2", "thr_1", 3, "Thirty days [1]."),
        ]
        for item in made:
            await store.add_thread_item("thr_1", item, ALICE)
        page = await store.load_thread_items("thr_1", None, 10, "asc", ALICE)
        assert page.data == made
        assert await store.load_item("thr_1", "wf_1", ALICE) == made[1]

    async def test_add_and_save_item_are_upserts(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1"), ALICE)
        await store.add_thread_item("thr_1", workflow("wf_1", "thr_1", 1, ["a"]), ALICE)
        # The server re-adds an open workflow on a later turn, then saves it when it ends.
        await store.add_thread_item("thr_1", workflow("wf_1", "thr_1", 1, ["a", "b"]), ALICE)
        await store.save_item("thr_1", workflow("wf_1", "thr_1", 1, ["a", "b", "c"]), ALICE)
        await store.save_item("thr_1", user_message("msg_2", "thr_1", 2), ALICE)
        assert await all_items(store, "thr_1", ALICE) == ["wf_1", "msg_2"]
        loaded = await store.load_item("thr_1", "wf_1", ALICE)
        assert isinstance(loaded, WorkflowItem)
        assert loaded.workflow.tasks[0].queries == ["a", "b", "c"]  # type: ignore[union-attr]

    async def test_delete_item(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_1"), ALICE)
        for n in range(3):
            await store.add_thread_item("thr_1", user_message(f"msg_{n}", "thr_1", n), ALICE)
        await store.delete_thread_item("thr_1", "msg_1", ALICE)
        assert await all_items(store, "thr_1", ALICE) == ["msg_0", "msg_2"]
        with pytest.raises(NotFoundError):
            await store.load_item("thr_1", "msg_1", ALICE)

    async def test_delete_thread_removes_its_items(self, store: SQLStore) -> None:
        for thread_id in ("thr_1", "thr_2"):
            await store.save_thread(thread(thread_id), ALICE)
            await store.add_thread_item(
                thread_id, user_message(f"m_{thread_id}", thread_id, 1), ALICE
            )
        await store.delete_thread("thr_1", ALICE)
        with pytest.raises(NotFoundError):
            await store.load_thread("thr_1", ALICE)
        # Recreating the id must not resurrect old items; the other thread is untouched.
        await store.save_thread(thread("thr_1"), ALICE)
        assert await all_items(store, "thr_1", ALICE) == []
        assert await all_items(store, "thr_2", ALICE) == ["m_thr_2"]

    async def test_attachments(self, store: SQLStore) -> None:
        await store.save_attachment(attachment("atc_1", "old.txt"), ALICE)
        await store.save_attachment(attachment("atc_1", "new.txt"), ALICE)
        assert await store.load_attachment("atc_1", ALICE) == attachment("atc_1", "new.txt")
        await store.delete_attachment("atc_1", ALICE)
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_1", ALICE)

    async def test_threads_are_private(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_a", title="Alice's"), ALICE)
        with pytest.raises(NotFoundError):
            await store.load_thread("thr_a", BOB)
        assert ids(await store.load_threads(10, None, "desc", BOB)) == []
        await store.delete_thread("thr_a", BOB)
        # Bob saving under the same id gets a thread of his own; Alice's is untouched.
        await store.save_thread(thread("thr_a", title="Bob's"), BOB)
        assert (await store.load_thread("thr_a", ALICE)).title == "Alice's"
        assert (await store.load_thread("thr_a", BOB)).title == "Bob's"
        assert ids(await store.load_threads(10, None, "desc", ALICE)) == ["thr_a"]

    async def test_items_are_private(self, store: SQLStore) -> None:
        await store.save_thread(thread("thr_a"), ALICE)
        await store.add_thread_item("thr_a", user_message("msg_1", "thr_a", 1, "secret"), ALICE)
        with pytest.raises(NotFoundError):
            await store.load_thread_items("thr_a", None, 10, "asc", BOB)
        with pytest.raises(NotFoundError):
            await store.load_item("thr_a", "msg_1", BOB)
        for write in (store.add_thread_item, store.save_item):
            with pytest.raises(NotFoundError):
                await write("thr_a", user_message("msg_1", "thr_a", 1, "overwritten"), BOB)
        await store.delete_thread_item("thr_a", "msg_1", BOB)
        await store.delete_thread("thr_a", BOB)
        loaded = await store.load_item("thr_a", "msg_1", ALICE)
        assert loaded.content[0].text == "secret"  # type: ignore[union-attr]

    async def test_attachments_are_private(self, store: SQLStore) -> None:
        await store.save_attachment(attachment("atc_1", "alice.txt"), ALICE)
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_1", BOB)
        await store.delete_attachment("atc_1", BOB)
        await store.save_attachment(attachment("atc_1", "bob.txt"), BOB)
        assert (await store.load_attachment("atc_1", ALICE)).name == "alice.txt"

    async def test_a_threads_attachments_go_with_it(self, store: SQLStore) -> None:
        sent = attachment("atc_1").model_copy(update={"thread_id": "thr_a"})
        await store.save_attachment(sent, ALICE)
        await store.save_attachment(sent, BOB)
        await store.save_attachment(attachment("atc_2"), ALICE)  # not sent yet
        await store.delete_thread_attachments("thr_a", ALICE)
        with pytest.raises(NotFoundError):
            await store.load_attachment("atc_1", ALICE)
        assert (await store.load_attachment("atc_2", ALICE)).thread_id is None
        assert (await store.load_attachment("atc_1", BOB)).thread_id == "thr_a"

    async def test_concurrent_writes_do_not_fail(self, store: SQLStore) -> None:
        # Several pooled connections writing at once: SQLite must wait, not "database is locked".
        await store.save_thread(thread("thr_1"), ALICE)
        writes = [
            store.add_thread_item("thr_1", user_message(f"msg_{n:02}", "thr_1", n), ALICE)
            for n in range(30)
        ]
        await asyncio.gather(
            *writes, *(store.save_thread(thread(f"t{n}"), ALICE) for n in range(10))
        )
        assert len(await all_items(store, "thr_1", ALICE)) == 30

    async def test_data_survives_a_restart(self, backend: Backend) -> None:
        store = await backend.open()
        await store.save_thread(thread("thr_1", title="Kept"), ALICE)
        await store.add_thread_item("thr_1", user_message("msg_1", "thr_1", 1), ALICE)
        await store.save_attachment(attachment("atc_1"), ALICE)
        await store.close()
        store = await backend.open()
        try:
            assert (await store.load_thread("thr_1", ALICE)).title == "Kept"
            assert await all_items(store, "thr_1", ALICE) == ["msg_1"]
            assert (await store.load_attachment("atc_1", ALICE)).id == "atc_1"
        finally:
            await store.close()

    async def test_migrations_from_blank_then_noop(self, store: SQLStore) -> None:
        # The fixture opened a blank database, which applied every migration once.
        async with store.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            applied = list(await conn.scalars(text("SELECT name FROM migrations")))
        assert {"threads", "items", "attachments", "migrations"} <= tables
        assert sorted(applied) == sorted(m.__name__ for m in MIGRATIONS)
        assert await store.migrate() == []

    async def test_workers_opening_a_blank_database_at_once(self, backend: Backend) -> None:
        # `kb serve --workers N`: every worker opens (and migrates) the store at start-up.
        if backend.url.startswith("sqlite"):
            pytest.skip("SQLite serves one process (kb serve refuses workers on it)")
        stores = await asyncio.gather(*(backend.open() for _ in range(4)))
        for store in stores:
            await store.close()


def _stamped(item_id: str, created_at: datetime) -> ThreadItem:
    return user_message(item_id, "thr_1", 0).model_copy(update={"created_at": created_at})


def test_default_database_url_creates_the_data_dir(tmp_path: Any) -> None:
    data_dir = tmp_path / "nested" / "data"
    assert default_database_url(data_dir) == f"sqlite+aiosqlite:///{data_dir}/chat.sqlite"
    assert data_dir.is_dir()


async def test_sqlite_uses_wal(tmp_path: Any) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/sub/chat.sqlite")
    try:
        async with store.engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA busy_timeout")) > 0
    finally:
        await store.close()
