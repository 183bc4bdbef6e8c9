"""What an ingest reports while it runs, wherever it runs.

Files done of files to index, chunks written, and for a document written in several
batches, its chunks written of its total. The CLI draws it as a progress bar; the server
keeps it as a job's `ProgressSnapshot`, streams it, and the CLI `replay`s it into the same
bar it draws for a local ingest.
"""

import threading
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol


class IngestProgress(Protocol):
    def start(self, total_files: int) -> None: ...

    def advance(self, files: int, chunks: int) -> None: ...

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        """A batch of a large document is written (its progress bar's inner count)."""
        ...


@dataclass(frozen=True)
class FileProgress:
    path: str
    chunks_done: int
    chunks_total: int


@dataclass(frozen=True)
class ProgressSnapshot:
    files_total: int | None = None  # None: still scanning the folder
    files_done: int = 0
    chunks_done: int = 0
    file: FileProgress | None = None  # the large document being written, if any

    def to_json(self) -> dict[str, Any]:
        file = self.file
        return {
            "files_total": self.files_total,
            "files_done": self.files_done,
            "chunks_done": self.chunks_done,
            "file": None if file is None else asdict(file),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProgressSnapshot":
        file = data.get("file")
        return cls(
            data.get("files_total"),
            int(data.get("files_done", 0)),
            int(data.get("chunks_done", 0)),
            None if file is None else FileProgress(**file),
        )


class ProgressCounter:
    """An IngestProgress that keeps the latest snapshot; read it from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = ProgressSnapshot()

    @property
    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            return self._snapshot

    def start(self, total_files: int) -> None:
        self._update(files_total=total_files)

    def advance(self, files: int, chunks: int) -> None:
        with self._lock:
            now = self._snapshot
            self._snapshot = replace(
                now, files_done=now.files_done + files, chunks_done=now.chunks_done + chunks
            )
            if files:
                self._snapshot = replace(self._snapshot, file=None)

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        self._update(file=FileProgress(path, chunks_done, chunks_total))

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._snapshot = replace(self._snapshot, **changes)


def replay(seen: ProgressSnapshot, now: ProgressSnapshot, progress: IngestProgress) -> None:
    """Tell `progress` what changed between two snapshots of one ingest."""
    if now.files_total is not None and now.files_total != seen.files_total:
        progress.start(now.files_total)
    if now.file is not None and now.file != seen.file:
        progress.within_file(now.file.path, now.file.chunks_done, now.file.chunks_total)
    files, chunks = now.files_done - seen.files_done, now.chunks_done - seen.chunks_done
    if files or chunks:
        progress.advance(files, chunks)
