"""Sync a docs folder into the knowledge index.

New files are added, changed files re-indexed, unchanged files skipped without being read
(size and mtime) or parsed (content hash), vanished files removed. Parsing runs in a worker
process while this one embeds, so the two overlap on two cores.

Chunks are embedded and written in batches of about KB_INGEST_BATCH_CHUNKS, whatever the
size of one file (ingest.batches).

An ingest runs in the process that holds the data dir's writer lock (kb.writer): `ingest`
for `kb ingest` without a server, `ingest_into` for the server's jobs, on its open index.
`--rebuild` first checks that the embedding model works, then builds a new index
generation beside the one in use and switches to it once complete (kb.index.generations).
"""

import hashlib
import multiprocessing
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Protocol

from ingest.batches import BatchWriter
from ingest.document import LoadOptions
from ingest.prepare import Prepared, prepare
from ingest.progress import IngestProgress
from ingest.report import IngestReport
from ingest.scan import Failure, FoundFile, Skip, display_path, is_utf8, scan
from kb.collections import DEFAULT_COLLECTION, check_collection
from kb.embedder import CachedEmbedder, Embedder, create_embedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.index.catalog import DocumentRecord
from kb.index.generations import generations_of
from kb.settings import Settings
from kb.writer import index_lock

IN_FLIGHT = 8  # files parsed ahead of the embedder
PROBE_TEXT = "kb: embedding check"
PARSER_DIED = "its parsing process died (a crash in a parsing library, or out of memory)"


class IndexSlot(Protocol):
    """The index an ingest writes to, and how a rebuilt index takes its place."""

    def current(self) -> KnowledgeIndex: ...

    def replace(self, rebuilt: KnowledgeIndex) -> None: ...


@dataclass(frozen=True)
class IngestOptions:
    delete: bool = True  # remove documents whose files vanished
    rebuild: bool = False  # into a new, empty index that replaces the current one
    dry_run: bool = False
    collection: str = DEFAULT_COLLECTION  # the folder's documents all move there
    reindex: frozenset[str] = frozenset()  # paths read and indexed again even if unchanged
    # Parse even one file in a worker process: a parser that crashes then costs that file,
    # not this process (a server's).
    parse_apart: bool = False

    def __post_init__(self) -> None:
        check_collection(self.collection)


@dataclass(frozen=True)
class _Job:
    file: FoundFile
    record: DocumentRecord | None
    force: bool = False  # re-read even if its content did not change


def document_id(root: Path, path: str) -> str:
    return hashlib.sha1(f"{root}\0{path}".encode()).hexdigest()[:16]


def ingest(
    settings: Settings,
    root: Path,
    *,
    delete: bool = True,
    rebuild: bool = False,
    dry_run: bool = False,
    collection: str = DEFAULT_COLLECTION,
    progress: IngestProgress | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Ingest in this process; fails at once while `kb serve` or another ingest writes."""
    options = IngestOptions(delete, rebuild, dry_run, collection)
    folder = ingest_folder(root)
    with index_lock(settings, "kb ingest"):
        generations_of(settings).remove_inactive()  # what a killed rebuild left
        slot = _LocalSlot(settings)
        try:
            return ingest_into(slot, settings, folder, options, progress, embedder)
        finally:
            slot.close()


def ingest_folder(root: Path) -> Path:
    folder = root.expanduser().resolve()
    if not folder.is_dir():
        raise KBError(f"{display_path(str(folder))} is not a folder")
    if not is_utf8(str(folder)):
        raise KBError(f"the folder name {display_path(str(folder))} is not valid UTF-8: rename it")
    return folder


def ingest_into(
    slot: IndexSlot,
    settings: Settings,
    root: Path,
    options: IngestOptions,
    progress: IngestProgress | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Sync `root` (an absolute folder) into the slot's index; the caller holds the lock."""
    started = time.perf_counter()
    if options.rebuild and not options.dry_run:
        report = _rebuild(slot, settings, root, options, progress, embedder)
    else:
        report = _sync(settings, slot.current(), root, options, progress, embedder)
    report.seconds = time.perf_counter() - started
    return report


def checked_embedder(settings: Settings, embedder: Embedder | None) -> Embedder:
    """The embedder, once it embedded a probe text: a typo in KB_EMBEDDING_MODEL or an
    unreachable embeddings server fails here, before anything is changed."""
    try:
        embedder = embedder or create_embedder(settings)
        embedder.embed_queries([PROBE_TEXT])
    except KBError as error:
        raise KBError(f"{error} (the index was not changed)") from error
    return embedder


def _rebuild(
    slot: IndexSlot,
    settings: Settings,
    root: Path,
    options: IngestOptions,
    progress: IngestProgress | None,
    embedder: Embedder | None,
) -> IngestReport:
    embedder = checked_embedder(settings, embedder)
    generations = generations_of(settings)
    generation = generations.new()
    rebuilt = generations.open(generation, settings.embedding_variant)
    try:
        report = _sync(settings, rebuilt, root, options, progress, embedder)
    except BaseException:
        rebuilt.close()
        generations.remove(generation)  # the index in use was never touched
        raise
    slot.replace(rebuilt)
    return report


class _LocalSlot:
    """A local ingest's index, opened when first needed: a rebuild never opens the index it
    replaces (it may have been built with the model being replaced)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._index: KnowledgeIndex | None = None

    def current(self) -> KnowledgeIndex:
        if self._index is None:
            self._index = KnowledgeIndex.open(self._settings)
        return self._index

    def replace(self, rebuilt: KnowledgeIndex) -> None:
        generations = generations_of(self._settings)
        generations.activate(rebuilt.generation)
        self.close()
        self._index = rebuilt
        generations.remove_inactive()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


def _sync(
    settings: Settings,
    index: KnowledgeIndex,
    root: Path,
    options: IngestOptions,
    progress: IngestProgress | None,
    embedder: Embedder | None,
) -> IngestReport:
    report = IngestReport(root=str(root), dry_run=options.dry_run)
    found, report.skips, report.failures = scan(root, int(settings.max_file_mb * 2**20))
    records = {record.path: record for record in index.catalog.documents(str(root))}
    jobs: list[_Job] = []
    for file in found:
        record = records.get(file.path)
        force = file.path in options.reindex
        if (
            record
            and not record.error
            and not force
            and (record.size, record.mtime_ns) == (file.size, file.mtime_ns)
        ):
            report.unchanged.append(file.path)
        else:
            jobs.append(_Job(file, record, force))
    paths = {file.path for file in found}
    vanished = [r for path, r in records.items() if path not in paths] if options.delete else []
    report.deleted = sorted(record.path for record in vanished)
    if options.dry_run:
        _plan_only(jobs, report)
    else:
        embedder = embedder or create_embedder(settings)
        index.check_writer(embedder.name)
        index.recover()
        index.catalog.move_root(str(root), options.collection)
        cached = CachedEmbedder(embedder, settings.embedding_cache)
        try:
            _index_files(index, cached, root, jobs, report, settings, progress, options)
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
    options: IngestOptions,
) -> None:
    collection = options.collection
    if progress:
        progress.start(len(jobs))
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    writer = BatchWriter(index, embedder, settings.ingest_batch_chunks, progress)
    parsing = _prepare_all(jobs, settings, max_tokens, options.parse_apart)
    for job, prepared in parsing:
        path = job.file.path
        if prepared.skip:  # a previous version, if any, stays searchable, as for a failure
            report.skips.append(Skip(path, prepared.skip))
        elif prepared.error:
            report.failures.append(Failure(path, prepared.error))
            index.record_failure(_record(root, job, prepared, collection))
        elif prepared.unchanged:
            report.unchanged.append(path)
            index.update_stat(_record(root, job, prepared, collection))
        else:
            changed = job.record and job.record.content_hash
            (report.updated if changed else report.added).append(path)
            writer.add(_record(root, job, prepared, collection), prepared)
            continue
        if progress:
            progress.advance(1, 0)
    writer.flush()


def _prepare_all(
    jobs: list[_Job], settings: Settings, max_tokens: int, apart: bool
) -> Iterator[tuple[_Job, Prepared]]:
    """Prepared files in order; parsed in worker processes when there is enough work
    (several: parsing and a bf16 embedding both want the cores) or `apart` asks for it."""
    load = LoadOptions.from_settings(settings)
    calls = [
        (
            job.file.absolute,
            job.record.content_hash if job.record and not job.force else None,
            max_tokens,
            settings.sentence_windows,
            load,
        )
        for job in jobs
    ]
    if len(jobs) < 4 and not apart:  # a worker process costs more than it saves
        yield from zip(jobs, (prepare(*call) for call in calls), strict=True)
        return
    yield from zip(jobs, _prepare_in_workers(calls, settings.parsers), strict=True)


def _prepare_in_workers(calls: list[tuple[Any, ...]], workers: int) -> Iterator[Prepared]:
    """Prepared files in order, from worker processes. A worker that dies (a parser's C code
    crashing, the kernel's OOM killer) breaks the whole pool, which cannot say which file
    it held: the first unfinished file is then parsed again alone, and fails alone if its
    process dies too, and the rest go on in a new pool."""
    context = multiprocessing.get_context("spawn")  # never fork a process that runs torch
    done = 0
    while done < len(calls):
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
                for prepared in _bounded_map(executor, calls[done:]):
                    yield prepared
                    done += 1
        except BrokenProcessPool:
            yield _prepare_alone(calls[done], context)
            done += 1


def _prepare_alone(call: tuple[Any, ...], context: BaseContext) -> Prepared:
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        try:
            return executor.submit(prepare, *call).result()
        except BrokenProcessPool:
            return Prepared(content_hash="", error=PARSER_DIED)


def _bounded_map(executor: Executor, calls: list[tuple[Any, ...]]) -> Iterator[Prepared]:
    """Like executor.map, but keeps at most IN_FLIGHT results waiting in memory."""
    pending: deque[Future[Prepared]] = deque()
    for call in calls:
        pending.append(executor.submit(prepare, *call))
        if len(pending) >= IN_FLIGHT:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _record(root: Path, job: _Job, prepared: Prepared, collection: str) -> DocumentRecord:
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
        collection=collection,
    )
