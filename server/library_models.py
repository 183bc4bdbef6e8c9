"""The Library API's JSON, typed on both sides (ui/src/library/types.ts mirrors it)."""

from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel

from kb.index.catalog import ChunkRow
from kb.library import LibraryRow
from kb.types import Locator
from server.jobs import JobView
from server.syncs import FinishedSync
from server.tracker import Upload

DocumentStatus = Literal["indexed", "failed", "skipped", "queued", "indexing"]


class LocatorView(BaseModel):
    kind: str
    value: str
    label: str

    @classmethod
    def of(cls, locator: Locator | None) -> "LocatorView | None":
        return None if locator is None else cls(**locator.to_json())


class JobSummary(BaseModel):
    job_id: str
    state: str  # queued, running, done, failed, cancelled
    files_total: int | None
    files_done: int
    error: str | None
    counts: dict[str, int] | None  # added, updated, ... once done
    finished_at: float | None = None

    @classmethod
    def of(cls, view: JobView, finished_at: float | None = None) -> "JobSummary":
        return cls(
            job_id=view.job_id,
            state=view.state,
            files_total=view.progress.files_total,
            files_done=view.progress.files_done,
            error=view.error,
            counts=view.report.counts() if view.report else None,
            finished_at=finished_at,
        )

    @classmethod
    def finished(cls, sync: FinishedSync) -> "JobSummary":
        return cls.of(sync.view, sync.finished_at)


class LibraryDocument(BaseModel):
    doc_id: str | None  # None: not in the index (an upload still queued, or skipped)
    upload_id: str | None  # an upload of this server run that is not in the index yet
    name: str  # path within its folder
    folder: str
    collection: str
    format: str  # the file's suffix: "pdf", "docx"
    part_kind: str | None  # what `parts` counts: "page", "slide", "sheet"...
    parts: int
    chunks: int
    size: int
    indexed_at: float | None
    status: DocumentStatus
    reason: str | None  # why it failed or was skipped
    uploaded: bool  # stored by the server: Remove deletes the file

    @classmethod
    def of_row(cls, row: LibraryRow, uploaded: bool) -> "LibraryDocument":
        record = row.record
        return cls(
            doc_id=record.doc_id,
            upload_id=None,
            name=record.path,
            folder=record.root,
            collection=record.collection,
            format=_format(record.path),
            part_kind=row.part_kind,
            parts=row.parts,
            chunks=row.chunks,
            size=record.size,
            indexed_at=record.indexed_at,
            status="failed" if record.error else "indexed",
            reason=record.error,
            uploaded=uploaded,
        )

    @classmethod
    def of_upload(cls, upload: Upload) -> "LibraryDocument":
        return cls(
            doc_id=None,
            upload_id=upload.upload_id,
            name=upload.path,
            folder=upload.root,
            collection=upload.collection,
            format=_format(upload.path),
            part_kind=None,
            parts=0,
            chunks=0,
            size=upload.size,
            indexed_at=None,
            status=upload.status,
            reason=upload.reason,
            uploaded=True,
        )


class LibraryPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[LibraryDocument]


class UploadView(BaseModel):
    upload_id: str
    name: str  # the name it was stored under (sanitised, `name (1).ext` on a clash)
    collection: str
    size: int
    status: DocumentStatus
    reason: str | None
    doc_id: str
    job: JobSummary | None

    @classmethod
    def of(cls, upload: Upload, job: JobView | None) -> "UploadView":
        return cls(
            upload_id=upload.upload_id,
            name=upload.path,
            collection=upload.collection,
            size=upload.size,
            status=upload.status,
            reason=upload.reason,
            doc_id=upload.doc_id,
            job=None if job is None else JobSummary.of(job),
        )


class FolderView(BaseModel):
    folder: str
    collection: str
    documents: int
    watched: bool
    last_sync: JobSummary | None  # the last sync this server ran, if any


class LibraryInfo(BaseModel):
    """What the UI checks before an upload starts, and the collections it offers."""

    max_file_bytes: int
    suffixes: list[str]
    collections: list[str]  # those the caller may read (filter)
    writable: list[str]  # those the caller may upload to


class ChunkView(BaseModel):
    chunk_id: str
    ord: int
    heading: str
    locator: LocatorView | None
    text: str

    @classmethod
    def of(cls, row: ChunkRow) -> "ChunkView":
        return cls(
            chunk_id=row.chunk_id,
            ord=row.ord,
            heading=row.heading,
            locator=LocatorView.of(row.locator),
            text=row.text,
        )


class ChunkPage(BaseModel):
    doc_id: str
    name: str
    total: int
    offset: int
    items: list[ChunkView]


def _format(path: str) -> str:
    return PurePosixPath(path).suffix.lower().lstrip(".")
