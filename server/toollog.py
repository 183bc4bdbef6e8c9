"""The one record of a tool call, and where it goes: a row in the chat database (for the UI,
through `GET /api/threads/{id}/tool-calls`, and for `kb logs` on a shared database), one
readable console line and, beside the embedded database only, a JSON line in
`data/logs/tool_calls.jsonl` (for `kb logs` there).

The UI reads these records, never the display text of the workflow task that shows the call:
a task is matched to its record by (workflow item id, task index).
"""

import asyncio
import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from kb.types import Hit

if TYPE_CHECKING:
    from server.context import RequestContext
    from server.store import SQLStore

logger = logging.getLogger("kb.tools")

SEARCH_TOOL = "search_docs"


class SearchArguments(BaseModel):
    query: str
    top_k: int | None = None
    source: str | None = None


class ResultLocator(BaseModel):
    kind: str
    value: str
    label: str  # what a reader sees: "page 3", "slide 4", "Budget!A12:D40"


class SearchResult(BaseModel):
    """One passage a search returned; `rank` is the number the model cites it by."""

    rank: int
    chunk_id: str
    source: str
    title: str = ""
    page: int | None = None
    locator: ResultLocator | None = None
    heading: str = ""
    score: float

    @classmethod
    def of(cls, rank: int, hit: Hit) -> "SearchResult":
        return cls(
            rank=rank,
            chunk_id=hit.chunk_id,
            source=hit.source,
            title=hit.title,
            page=hit.page,
            locator=ResultLocator(**hit.locator.to_json()) if hit.locator else None,
            heading=hit.heading,
            score=hit.score,
        )

    def where(self) -> str:
        return self.source + (f" {self.locator.label}" if self.locator else "")


class ToolCallRecord(BaseModel):
    time: str  # ISO 8601, UTC
    user: str
    thread: str
    workflow_item: str | None = None  # the workflow item whose task shows this call
    task_index: int | None = None  # the task's position in that workflow
    call_id: str | None
    tool: str = SEARCH_TOOL
    arguments: SearchArguments
    duration_ms: float
    results: list[SearchResult]
    error: str | None
    collections: list[str] | None = None  # those searched; None: every collection

    @staticmethod
    def now() -> str:
        return stamp(dt.datetime.now(dt.UTC))

    def summary(self) -> str:
        top = ", ".join(result.where() for result in self.results[:3])
        outcome = f"error: {self.error}" if self.error else f"{len(self.results)} hits [{top}]"
        return (
            f"{self.tool}({json.dumps(self.arguments.query, ensure_ascii=False)}) "
            f"user={self.user} collections={_listed(self.collections)} thread={self.thread} "
            f"{self.duration_ms:.0f} ms -> {outcome}"
        )


def stamp(moment: dt.datetime) -> str:
    """A record's `time`: compared as text, so always this one format."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def _listed(collections: list[str] | None) -> str:
    return "*" if collections is None else ",".join(collections) or "(none)"


class ToolCallLog:
    """`path`: the JSONL file, or None where the database is the only log (a shared one)."""

    def __init__(self, path: Path | None, store: "SQLStore") -> None:
        self.path = path
        self.store = store
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def write(self, record: ToolCallRecord, context: "RequestContext") -> None:
        if self.path:
            await asyncio.to_thread(self._append, self.path, record)
        await self.store.save_tool_call(record, context)
        logger.info(record.summary())

    def _append(self, path: Path, record: ToolCallRecord) -> None:
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(record.model_dump_json() + "\n")
