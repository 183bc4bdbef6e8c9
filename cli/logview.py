"""Reading the tool-call log for `kb logs`, through the record type the server writes."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cli.literal import literal
from server.toollog import ToolCallRecord


@dataclass(frozen=True)
class LogFilter:
    """Which records `kb logs` shows (None: any)."""

    thread: str | None = None
    user: str | None = None

    def matches(self, record: ToolCallRecord) -> bool:
        return self.thread in (None, record.thread) and self.user in (None, record.user)


def read_records(
    path: Path, only: LogFilter = LogFilter(), start: int = 0
) -> tuple[list[ToolCallRecord], int]:
    """Records from byte offset `start` (oldest first) and the offset after them.

    A partial last line is left for the next read; a line that is not a record is skipped.
    """
    if not path.exists():
        return [], start
    records = []
    with path.open("rb") as handle:
        handle.seek(start)
        for line in handle:
            if not line.endswith(b"\n"):
                break
            start += len(line)
            try:
                record = ToolCallRecord.model_validate_json(line)
            except ValidationError:
                continue
            if only.matches(record):
                records.append(record)
    return records, start


def print_records(out: Console, path: Path, only: LogFilter, limit: int, as_json: bool) -> None:
    records, _ = read_records(path, only)
    _show(out, records[-limit:] if limit else records, as_json)


def follow_records(out: Console, path: Path, only: LogFilter, as_json: bool) -> None:
    offset = path.stat().st_size if path.exists() else 0
    try:
        while True:
            records, offset = read_records(path, only, offset)
            _show(out, records, as_json, header=False)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def _show(out: Console, records: list[ToolCallRecord], as_json: bool, header: bool = True) -> None:
    if as_json:
        for record in records:
            print(json.dumps(record.model_dump(), ensure_ascii=False), flush=True)
        return
    if not records:
        if header:
            out.print("No tool calls logged yet.")
        return
    table = Table(show_header=header)
    for column in ("time", "user", "collections", "thread", "query", "hits", "ms", "top result"):
        table.add_column(column)
    for record in records:
        table.add_row(
            literal(record.time[:19].replace("T", " ")),
            literal(record.user),
            literal("all" if record.collections is None else ", ".join(record.collections)),
            literal(record.thread),
            literal(record.arguments.query),
            "error" if record.error else str(len(record.results)),
            f"{record.duration_ms:.0f}",
            literal(record.results[0].where() if record.results else ""),
        )
    out.print(table)
