"""Index jobs: the server is the data dir's one writer, and this is how work reaches it.

A job is an ingest request (`kb ingest` hands its own over HTTP; uploads and watched
folders can submit theirs the same way) with live progress: files done of total, chunks
written and, within a large document, its chunks written of its total. Jobs run one at a
time in one worker thread, in the order they came; a job submitted while another runs
waits in the queue (state `queued`). A cancelled job stops at its next batch; the index
write protocol leaves every document old or new.
"""

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.progress import IngestProgress, ProgressCounter, ProgressSnapshot
from ingest.report import IngestReport
from kb.collections import DEFAULT_COLLECTION, NAME_PATTERN
from kb.errors import KBError

logger = logging.getLogger("kb.jobs")

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled")
KEEP_FINISHED = 100  # finished jobs remembered for GET /api/jobs/{id}


class IngestRequest(BaseModel):
    """Sync a folder on the server's machine into the index (the body of POST /api/jobs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: str  # an absolute path: the server's working directory is not the caller's
    delete: bool = True
    rebuild: bool = False
    dry_run: bool = False
    collection: str = Field(DEFAULT_COLLECTION, pattern=f"^{NAME_PATTERN}$")
    reindex: tuple[str, ...] = ()  # paths (relative to root) read again even if unchanged


Work = Callable[[IngestRequest, IngestProgress], IngestReport]
Listener = Callable[["JobView"], None]


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it; equal views mean nothing changed."""

    job_id: str
    request: IngestRequest
    state: JobState
    progress: ProgressSnapshot
    report: IngestReport | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "request": self.request.model_dump(),
            "state": self.state,
            "progress": self.progress.to_json(),
            "report": None if self.report is None else self.report.to_dict(),
            "error": self.error,
        }


class JobCancelled(Exception):
    pass


class _CancellableProgress(ProgressCounter):
    """Counts progress; once the job is cancelled, its next step raises JobCancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = threading.Event()

    def start(self, total_files: int) -> None:
        self._check()
        super().start(total_files)

    def advance(self, files: int, chunks: int) -> None:
        super().advance(files, chunks)
        self._check()

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        super().within_file(path, chunks_done, chunks_total)
        self._check()

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled


class _Job:
    def __init__(self, request: IngestRequest) -> None:
        self.job_id = uuid.uuid4().hex[:12]
        self.request = request
        self.state: JobState = "queued"
        self.progress = _CancellableProgress()
        self.report: IngestReport | None = None
        self.error: str | None = None

    def view(self) -> JobView:
        return JobView(
            self.job_id, self.request, self.state, self.progress.snapshot, self.report, self.error
        )


class JobRunner:
    def __init__(self, work: Work, on_finished: Listener | None = None) -> None:
        """`on_finished(view)` runs in the worker thread once each job is finished."""
        self._work = work
        self._on_finished = on_finished
        self._jobs: dict[str, _Job] = {}  # in submission order
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="kb-jobs", daemon=True)
        self._thread.start()

    def submit(self, request: IngestRequest, join: bool = False) -> JobView:
        """Queue `request`; with `join`, an equal request still queued is the answer: it has
        not scanned its folder yet, so it will see whatever changed before this call."""
        with self._lock:
            if join:
                for queued in self._jobs.values():
                    if queued.state == "queued" and queued.request == request:
                        return queued.view()
            job = _Job(request)
            self._jobs[job.job_id] = job
            self._forget_old()
        self._queue.put(job)
        logger.info("job %s queued: ingest %s", job.job_id, request.root)
        return job.view()

    def view(self, job_id: str) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.view()

    def cancel(self, job_id: str) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state == "queued":
                job.state = "cancelled"
            job.progress.cancelled.set()
            return job.view()

    def close(self) -> None:
        """Cancel what is queued or running and wait for the worker to stop."""
        with self._lock:
            unfinished = [job_id for job_id, job in self._jobs.items() if job.state not in FINISHED]
        for job_id in unfinished:
            self.cancel(job_id)
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                cancelled = job.state == "cancelled"
                if not cancelled:
                    job.state = "running"
            if not cancelled:
                state, report, error = self._execute(job)
                with self._lock:
                    job.state, job.report, job.error = state, report, error
                logger.info("job %s %s%s", job.job_id, state, f": {error}" if error else "")
            if self._on_finished is not None:
                self._on_finished(job.view())

    def _execute(self, job: _Job) -> tuple[JobState, IngestReport | None, str | None]:
        try:
            return "done", self._work(job.request, job.progress), None
        except JobCancelled:
            return "cancelled", None, "cancelled"
        except KBError as error:
            return "failed", None, str(error)
        except Exception as error:  # a bug: logged with its traceback, the server goes on
            logger.exception("job %s failed", job.job_id)
            return "failed", None, f"internal error: {type(error).__name__}: {error}"

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]
