"""Uploads from their arrival until their sync says what became of them.

An upload is queued while its folder's sync waits, indexing while it runs, and then
indexed, failed (with the reason) or skipped (with the reason), read from that sync's
report. The most recent MAX_KEPT uploads are remembered; the catalog is the record of what
is indexed, this is only the news about the latest arrivals.
"""

import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ingest.pipeline import document_id
from server.jobs import JobView
from server.syncs import Syncs

MAX_KEPT = 2000
UploadStatus = Literal["queued", "indexing", "indexed", "failed", "skipped"]


@dataclass(frozen=True)
class Upload:
    upload_id: str
    collection: str
    root: str
    path: str  # where it was stored, relative to root
    size: int
    job_id: str
    status: UploadStatus
    reason: str | None = None

    @property
    def doc_id(self) -> str:
        return document_id(Path(self.root), self.path)


class UploadTracker:
    def __init__(self, syncs: Syncs) -> None:
        self._syncs = syncs
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}  # in arrival order
        syncs.listen(self._finished)

    def add(self, collection: str, root: str, path: str, size: int, job: JobView) -> Upload:
        upload = Upload(uuid.uuid4().hex[:12], collection, root, path, size, job.job_id, "queued")
        with self._lock:
            self._uploads[upload.upload_id] = upload
            for old in list(self._uploads)[: max(0, len(self._uploads) - MAX_KEPT)]:
                del self._uploads[old]
        return self._current(upload)

    def get(self, upload_id: str) -> Upload | None:
        with self._lock:
            upload = self._uploads.get(upload_id)
        return None if upload is None else self._current(upload)

    def recent(self) -> list[Upload]:
        with self._lock:
            uploads = list(self._uploads.values())
        return [self._current(upload) for upload in reversed(uploads)]

    def forget(self, upload_id: str) -> Upload | None:
        with self._lock:
            return self._uploads.pop(upload_id, None)

    def _current(self, upload: Upload) -> Upload:
        if upload.status != "queued":
            return upload
        view = self._syncs.jobs.view(upload.job_id)
        return replace(upload, status="indexing") if view and view.state == "running" else upload

    def _finished(self, view: JobView) -> None:
        outcome = _Outcomes(view)
        with self._lock:
            for upload_id, upload in self._uploads.items():
                if upload.job_id == view.job_id:
                    status, reason = outcome.of(upload.path)
                    self._uploads[upload_id] = replace(upload, status=status, reason=reason)


class _Outcomes:
    """What a finished sync did with each file, by path."""

    def __init__(self, view: JobView) -> None:
        report = view.report
        self.error = view.error or f"the sync ended {view.state}"
        self.failed = {f.path: f.error for f in report.failures} if report else {}
        self.skipped = {s.path: s.reason for s in report.skips} if report else {}
        done = [*report.added, *report.updated, *report.unchanged] if report else []
        self.indexed = set(done)
        self.finished = report is not None

    def of(self, path: str) -> tuple[UploadStatus, str | None]:
        if not self.finished:
            return "failed", self.error
        if path in self.failed:
            return "failed", self.failed[path]
        if path in self.skipped:
            return "skipped", self.skipped[path]
        if path in self.indexed:
            return "indexed", None
        return "failed", "the file was gone when its folder was synced"
