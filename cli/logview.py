"""Showing the tool-call log for `kb logs`, whichever source it comes from (cli.logsources)."""

import json
import time

from rich.console import Console
from rich.table import Table

from cli.literal import literal
from cli.logsources import LogFilter, ToolCallSource
from server.toollog import ToolCallRecord

POLL_SECONDS = 0.5


def print_records(
    out: Console, source: ToolCallSource, only: LogFilter, limit: int, as_json: bool
) -> None:
    _show(out, source.recent(only, limit), as_json)


def follow_records(out: Console, source: ToolCallSource, only: LogFilter, as_json: bool) -> None:
    try:
        while True:
            time.sleep(POLL_SECONDS)
            _show(out, source.new(only), as_json, header=False)
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
