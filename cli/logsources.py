"""Where `kb logs` reads the tool calls: the JSONL file the server writes beside the embedded
chat database, or the shared chat database (PostgreSQL) that every worker writes to."""

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from kb.errors import KBError
from kb.settings import Settings
from server.store import is_embedded, open_store, tool_calls
from server.toollog import ToolCallRecord, stamp

# Rows carry the time of the worker that made the call and commit in any order, so a poll
# reads this much back again (skipping what it has shown) rather than after the last row:
# a call from a worker whose clock lags, or whose commit lands late, by less than this shows.
LOOKBACK = dt.timedelta(seconds=60)

Key = tuple[str, str, str]  # a tool_calls row's primary key: user, thread, id


@dataclass(frozen=True)
class LogFilter:
    """Which records `kb logs` shows (None: any)."""

    thread: str | None = None
    user: str | None = None

    def matches(self, record: ToolCallRecord) -> bool:
        return self.thread in (None, record.thread) and self.user in (None, record.user)


class ToolCallSource(Protocol):
    def recent(self, only: LogFilter, limit: int) -> list[ToolCallRecord]:
        """The newest `limit` records (0: all), oldest first; `new` goes on after them."""

    def new(self, only: LogFilter) -> list[ToolCallRecord]:
        """The records that came since the last read, oldest first."""


@contextmanager
def open_source(settings: Settings) -> Iterator[ToolCallSource]:
    url = settings.database_url
    if url is None or is_embedded(url):
        yield JsonlSource(settings.tool_log)
        return
    source = DatabaseSource(url)
    try:
        yield source
    finally:
        source.close()


class JsonlSource:
    """The file, read from a byte offset; a partial last line is left for the next read and
    a line that is not a record is skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def recent(self, only: LogFilter, limit: int) -> list[ToolCallRecord]:
        self._offset = 0
        records = self.new(only)
        return records[-limit:] if limit else records

    def new(self, only: LogFilter) -> list[ToolCallRecord]:
        if not self.path.exists():
            return []
        records = []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                self._offset += len(line)
                try:
                    record = ToolCallRecord.model_validate_json(line)
                except ValidationError:
                    continue
                if only.matches(record):
                    records.append(record)
        return records


class DatabaseSource:
    """The `tool_calls` table of the shared chat database: every user's calls, from every
    worker (whoever can reach the database sees them all, as with `kb users`)."""

    def __init__(self, url: str) -> None:
        self._runner = asyncio.Runner()  # one loop, so the engine's connections stay usable
        try:
            self._store = self._runner.run(open_store(url))
        except (OSError, DBAPIError) as error:  # unreachable, no such database, refused
            self._runner.close()
            raise KBError(
                f"cannot read the chat database (KB_DATABASE_URL) {make_url(url)}: {error}"
            ) from None
        self._shown: set[Key] = set()  # the rows of the last poll's window
        self._horizon = ""

    def recent(self, only: LogFilter, limit: int) -> list[ToolCallRecord]:
        self.new(only)  # what is there now counts as shown: `new` reports what comes after
        query = _calls(only).order_by(tool_calls.c.created_at.desc(), tool_calls.c.id.desc())
        rows = self._fetch(query.limit(limit) if limit else query)
        self._shown.update(rows)
        return list(reversed(rows.values()))

    def new(self, only: LogFilter) -> list[ToolCallRecord]:
        # Never back: a clock set back must not bring shown rows into the window again.
        self._horizon = max(self._horizon, stamp(dt.datetime.now(dt.UTC) - LOOKBACK))
        created = tool_calls.c.created_at
        query = _calls(only).where(created >= self._horizon).order_by(created, tool_calls.c.id)
        rows = self._fetch(query)
        fresh = [record for key, record in rows.items() if key not in self._shown]
        self._shown = set(rows)
        return fresh

    def close(self) -> None:
        self._runner.run(self._store.close())
        self._runner.close()

    def _fetch(self, query: Select[Any]) -> dict[Key, ToolCallRecord]:
        return self._runner.run(self._rows(query))

    async def _rows(self, query: Select[Any]) -> dict[Key, ToolCallRecord]:
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            (row.user_id, row.thread_id, row.id): ToolCallRecord.model_validate_json(row.data)
            for row in rows
        }


def _calls(only: LogFilter) -> Select[Any]:
    c = tool_calls.c
    scope: list[ColumnElement[bool]] = []
    if only.user is not None:
        scope.append(c.user_id == only.user)
    if only.thread is not None:
        scope.append(c.thread_id == only.thread)
    return select(c.user_id, c.thread_id, c.id, c.data).where(*scope)
