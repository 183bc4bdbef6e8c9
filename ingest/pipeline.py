"""Sync a docs folder into the knowledge index.

New files are added, changed files re-indexed, unchanged files skipped without being read
(size and mtime) or parsed (content hash), vanished files removed. Parsing runs in a worker
process while this one embeds, so the two overlap on two cores.
"""

import fcntl
import hashlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.document import LoadOptions
from ingest.prepare import Prepared, prepare
from ingest.scan import Failure, FoundFile, Skip, display_path, is_utf8, scan
from kb.catalog import DocumentRecord, NewChunk
from kb.embedder import CachedEmbedder, Embedder, create_embedder
from kb.errors import KBError
from kb.index import DocumentWrite, KnowledgeIndex, remove_index
from kb.settings import Settings

BATCH_CHUNKS = 256  # chunks embedded and written together
IN_FLIGHT = 8  # files parsed ahead of the embedder


class IngestProgress(Protocol):
    def start(self, total_files: int) -> None: ...

    def advance(self, files: int, chunks: int) -> None: ...


@dataclass
class IngestReport:
    root: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 2 if self.failures else 0

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "skipped": len(self.skips),
            "failed": len(self.failures),
            "chunks": self.chunks,
        }

    def to_json(self) -> dict:
        return {
            **self.counts(),
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "failures": [{"path": f.path, "error": f.error} for f in self.failures],
            "skips": [{"path": s.path, "reason": s.reason} for s in self.skips],
        }


@dataclass(frozen=True)
class _Job:
    file: FoundFile
    record: DocumentRecord | None


def document_id(root: Path, path: str) -> str:
    return hashlib.sha1(f"{root}\0{path}".encode()).hexdigest()[:16]


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """Only one ingest may write to a data dir; a second one fails at once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise KBError(
                f"another `kb ingest` (pid {holder}) is writing to {data_dir}; "
                "wait for it to finish, then run this one again"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def ingest(
    settings: Settings,
    root: Path,
    *,
    delete: bool = True,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: IngestProgress | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    started = time.perf_counter()
    root = root.expanduser().resolve()
    if not root.is_dir():
        raise KBError(f"{display_path(str(root))} is not a folder")
    if not is_utf8(str(root)):
        raise KBError(f"the folder name {display_path(str(root))} is not valid UTF-8: rename it")
    with ingest_lock(settings.data_dir):
        if rebuild and not dry_run:
            remove_index(settings.index_dir)
        index = KnowledgeIndex.open(settings)
        try:
            report = _sync(settings, index, root, delete, dry_run, progress, embedder)
        finally:
            index.close()
    report.seconds = time.perf_counter() - started
    return report


def _sync(
    settings: Settings,
    index: KnowledgeIndex,
    root: Path,
    delete: bool,
    dry_run: bool,
    progress: IngestProgress | None,
    embedder: Embedder | None,
) -> IngestReport:
    report = IngestReport(root=str(root), dry_run=dry_run)
    found, report.skips, report.failures = scan(root, int(settings.max_file_mb * 2**20))
    records = {record.path: record for record in index.catalog.documents(str(root))}
    jobs: list[_Job] = []
    for file in found:
        record = records.get(file.path)
        if (
            record
            and not record.error
            and (record.size, record.mtime_ns) == (file.size, file.mtime_ns)
        ):
            report.unchanged.append(file.path)
        else:
            jobs.append(_Job(file, record))
    paths = {file.path for file in found}
    vanished = [record for path, record in records.items() if path not in paths] if delete else []
    report.deleted = sorted(record.path for record in vanished)
    if dry_run:
        _plan_only(jobs, report)
    else:
        index.recover()
        cached = CachedEmbedder(embedder or create_embedder(settings), settings.embedding_cache)
        try:
            _index_files(index, cached, root, jobs, report, settings, progress)
        finally:
            cached.close()
        for record in vanished:
            index.delete_document(record.doc_id)
        index.mark_ingested()
    report.chunks = index.catalog.counts(str(root))[1]
    return report


def _plan_only(jobs: list[_Job], report: IngestReport) -> None:
    for job in jobs:
        previous = job.record.content_hash if job.record else None
        if previous and hashlib.sha256(job.file.absolute.read_bytes()).hexdigest() == previous:
            report.unchanged.append(job.file.path)
        else:
            (report.updated if previous else report.added).append(job.file.path)


def _index_files(
    index: KnowledgeIndex,
    embedder: CachedEmbedder,
    root: Path,
    jobs: list[_Job],
    report: IngestReport,
    settings: Settings,
    progress: IngestProgress | None,
) -> None:
    if progress:
        progress.start(len(jobs))
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    batch: list[tuple[_Job, Prepared]] = []
    options = LoadOptions.from_settings(settings)
    for job, prepared in _prepare_all(jobs, max_tokens, settings.sentence_windows, options):
        path = job.file.path
        if prepared.skip:  # a previous version, if any, stays searchable, as for a failure
            report.skips.append(Skip(path, prepared.skip))
        elif prepared.error:
            report.failures.append(Failure(path, prepared.error))
            index.record_failure(_record(root, job, prepared))
        elif prepared.unchanged:
            report.unchanged.append(path)
            index.update_stat(_record(root, job, prepared))
        else:
            (report.updated if job.record and job.record.content_hash else report.added).append(
                path
            )
            batch.append((job, prepared))
            if sum(len(p.chunks) for _, p in batch) >= BATCH_CHUNKS:
                _write_batch(index, embedder, root, batch, progress)
                batch = []
            continue
        if progress:
            progress.advance(1, 0)
    _write_batch(index, embedder, root, batch, progress)


def _write_batch(
    index: KnowledgeIndex,
    embedder: CachedEmbedder,
    root: Path,
    batch: list[tuple[_Job, Prepared]],
    progress: IngestProgress | None,
) -> None:
    if not batch:
        return
    vectors = embedder.embed([text for _, p in batch for text in p.embedding_texts])
    writes: list[DocumentWrite] = []
    offset = 0
    for job, prepared in batch:
        count = len(prepared.embedding_texts)
        record = _record(root, job, prepared)
        writes.append(
            DocumentWrite(record, _new_chunks(record, prepared), vectors[offset : offset + count])
        )
        offset += count
    index.write_documents(writes)
    if progress:
        progress.advance(len(batch), sum(len(p.chunks) for _, p in batch))


def _prepare_all(
    jobs: list[_Job], max_tokens: int, windows: bool, options: LoadOptions
) -> Iterator[tuple[_Job, Prepared]]:
    """Prepared files in order; parsed in a worker process when there is enough work."""
    calls = [
        (
            job.file.absolute,
            job.record.content_hash if job.record else None,
            max_tokens,
            windows,
            options,
        )
        for job in jobs
    ]
    if len(jobs) < 4:  # a worker process costs more than it saves
        yield from zip(jobs, (prepare(*call) for call in calls), strict=True)
        return
    context = multiprocessing.get_context("spawn")  # never fork a process that runs torch
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        yield from zip(jobs, _bounded_map(executor, calls), strict=True)


def _bounded_map(executor: Executor, calls: list[tuple]) -> Iterator[Prepared]:
    """Like executor.map, but keeps at most IN_FLIGHT results waiting in memory."""
    pending: deque[Future[Prepared]] = deque()
    for call in calls:
        pending.append(executor.submit(prepare, *call))
        if len(pending) >= IN_FLIGHT:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _record(root: Path, job: _Job, prepared: Prepared) -> DocumentRecord:
    return DocumentRecord(
        doc_id=document_id(root, job.file.path),
        root=str(root),
        path=job.file.path,
        size=job.file.size,
        mtime_ns=job.file.mtime_ns,
        content_hash=None if prepared.error else prepared.content_hash,
        title=prepared.title or (job.record.title if job.record else None),
        error=prepared.error,
        indexed_at=time.time(),
    )


def _new_chunks(record: DocumentRecord, prepared: Prepared) -> list[NewChunk]:
    return [
        NewChunk(
            chunk_id=f"{record.doc_id}-{prepared.content_hash[:8]}-{ord_}",
            title=prepared.title or record.path,
            heading=" > ".join(chunk.headings),
            locator=chunk.locator,
            text=chunk.text,
            vectors=vectors,
        )
        for ord_, (chunk, vectors) in enumerate(
            zip(prepared.chunks, prepared.vector_counts, strict=True)
        )
    ]
