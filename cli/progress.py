"""A rich progress bar for ingest: files, chunks, the large file being written, and ETA,
on stderr."""

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli.literal import literal


class IngestProgressBar:
    def __init__(self, console: Console, enabled: bool) -> None:
        self._chunks = 0
        self._within = ""
        self._progress = Progress(
            TextColumn("[bold]Indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks{task.fields[within]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._task = self._progress.add_task("ingest", total=None, chunks=0, within="")

    def __enter__(self) -> "IngestProgressBar":
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def start(self, total_files: int) -> None:
        self._progress.update(self._task, total=total_files)

    def advance(self, files: int, chunks: int) -> None:
        self._chunks += chunks
        if files:
            self._within = ""  # the large file in progress, if any, is done
        self._progress.update(self._task, advance=files, chunks=self._chunks, within=self._within)

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        name = escape(literal(path).plain)  # a file name is neither markup nor controls
        self._within = f" · {name}: {chunks_done:,}/{chunks_total:,} chunks"
        self._progress.update(self._task, within=self._within)
