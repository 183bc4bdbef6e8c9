"""Folder syncs: uploads, watched folders, re-index and remove requests all end here.

A sync is an ingest job of one folder (server/jobs.py), with the usual semantics: added,
updated, deleted, unchanged untouched. A request joins the folder's sync that is still
queued, if there is one: that job has not scanned the folder yet, so it will see the new
change too. A burst of 1,000 uploads or file events is therefore one sync (two when the
burst straddles the start of one). The last finished sync of each folder is kept for the
Library, whoever asked for it (`kb ingest` through the server included).
"""

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.jobs import IngestRequest, JobRunner, JobView, Work


@dataclass(frozen=True)
class FinishedSync:
    view: JobView
    finished_at: float  # seconds since the epoch


class Syncs:
    def __init__(self, work: Work) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, FinishedSync] = {}  # by root
        self._listeners: list[Callable[[JobView], None]] = []
        self.jobs = JobRunner(work, on_finished=self._finished)

    def request(self, root: Path, collection: str, reindex: Sequence[str] = ()) -> JobView:
        """Sync `root` (an absolute folder) into `collection` soon; `reindex`: paths read
        again even if unchanged."""
        request = IngestRequest(
            root=str(root), collection=collection, reindex=tuple(sorted(reindex))
        )
        return self.jobs.submit(request, join=True)

    def listen(self, listener: Callable[[JobView], None]) -> None:
        """`listener(view)` for each finished job, in the worker thread."""
        self._listeners.append(listener)

    def last(self, root: str) -> FinishedSync | None:
        with self._lock:
            return self._last.get(root)

    def close(self) -> None:
        self.jobs.close()

    def _finished(self, view: JobView) -> None:
        if not view.request.dry_run:
            with self._lock:
                self._last[view.request.root] = FinishedSync(view, time.time())
        for listener in self._listeners:
            listener(view)
