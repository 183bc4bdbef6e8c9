"""Reading the tool-call log for `kb logs`."""

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def read_records(path: Path, thread: str | None = None, start: int = 0) -> tuple[list[dict], int]:
    """Records from byte offset `start` (oldest first) and the offset after them.

    Lines that are not valid JSON (a partial last line) are left for the next read.
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
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if thread is None or record.get("thread") == thread:
                records.append(record)
    return records, start


def print_records(out: Console, path: Path, thread: str | None, limit: int, as_json: bool) -> None:
    records, _ = read_records(path, thread)
    _show(out, records[-limit:] if limit else records, as_json)


def follow_records(out: Console, path: Path, thread: str | None, as_json: bool) -> None:
    offset = path.stat().st_size if path.exists() else 0
    try:
        while True:
            records, offset = read_records(path, thread, offset)
            _show(out, records, as_json, header=False)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def _show(out: Console, records: list[dict[str, Any]], as_json: bool, header: bool = True) -> None:
    if as_json:
        for record in records:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        return
    if not records:
        if header:
            out.print("No tool calls logged yet.")
        return
    table = Table(show_header=header)
    for column in ("time", "user", "thread", "query", "hits", "ms", "top result"):
        table.add_column(column)
    for record in records:
        results = record.get("results") or []
        top = _where(results[0]) if results else ""
        table.add_row(
            record.get("time", "")[:19].replace("T", " "),
            record.get("user", ""),
            record.get("thread", ""),
            str(record.get("arguments", {}).get("query", "")),
            "error" if record.get("error") else str(len(results)),
            f"{record.get('duration_ms', 0):.0f}",
            top,
        )
    out.print(table)


def _where(result: dict[str, Any]) -> str:
    if result.get("locator"):
        return f"{result['source']} {result['locator']}"
    return result["source"] + (f" p.{result['page']}" if result.get("page") else "")
