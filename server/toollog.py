"""Every tool call as one JSON line in `data/logs/tool_calls.jsonl`, and one readable
console line."""

import datetime as dt
import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kb.types import Hit

logger = logging.getLogger("kb.tools")


@dataclass(frozen=True)
class ToolCallRecord:
    time: str
    user: str
    thread: str
    call_id: str | None
    tool: str
    arguments: dict[str, Any]
    duration_ms: float
    results: list[dict[str, Any]]
    error: str | None

    @classmethod
    def for_search(
        cls,
        *,
        context: Any,
        call_id: str | None,
        arguments: dict[str, Any],
        hits: list[Hit],
        first_number: int,
        duration_ms: float,
        error: str | None,
    ) -> "ToolCallRecord":
        return cls(
            time=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            user=context.request_context.user_id,
            thread=context.thread.id,
            call_id=call_id,
            tool="search_docs",
            arguments=arguments,
            duration_ms=round(duration_ms, 1),
            results=[
                {
                    "rank": number,
                    "chunk_id": hit.chunk_id,
                    "source": hit.source,
                    "page": hit.page,
                    "locator": hit.locator.label if hit.locator else None,
                    "score": hit.score,
                }
                for number, hit in enumerate(hits, start=first_number)
            ],
            error=error,
        )

    def summary(self) -> str:
        top = ", ".join(
            r["source"] + (f" {r['locator']}" if r.get("locator") else "") for r in self.results[:3]
        )
        outcome = f"error: {self.error}" if self.error else f"{len(self.results)} hits [{top}]"
        return (
            f"{self.tool}({json.dumps(self.arguments['query'], ensure_ascii=False)}) "
            f"user={self.user} thread={self.thread} {self.duration_ms:.0f} ms -> {outcome}"
        )


class ToolCallLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, record: ToolCallRecord) -> None:
        line = json.dumps(asdict(record), ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        logger.info(record.summary())
