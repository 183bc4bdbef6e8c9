"""The Library API: list, upload, remove and re-index documents, see their chunks, and the
last sync of each folder. Mounted on the app's authorised router.

Every change is a sync of the document's folder run by the server's one writer
(server/syncs.py); the routes answer at once with the job, and the UI follows it.

Remove: an uploaded document's file is deleted (the server owns the upload folders) and the
sync removes it from the index. A document of an ingested or watched folder is refused
(409): that folder belongs to whoever keeps it, the server never deletes files there, and
removing it from the index alone would last only until the next sync brought it back.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from starlette.requests import ClientDisconnect

from ingest.loaders import SUPPORTED_SUFFIXES
from kb.collections import DEFAULT_COLLECTION, is_scratch
from kb.index.catalog import Catalog, DocumentRecord
from kb.library import (
    CatalogStatus,
    LibraryQuery,
    LibraryRow,
    LibrarySort,
    document_chunks,
    folder_counts,
    library_page,
)
from server.access import Action
from server.context import RequestContext
from server.errors import HTTPError
from server.identity import Caller
from server.library_models import (
    ChunkPage,
    ChunkView,
    DocumentStatus,
    FolderView,
    JobSummary,
    LibraryDocument,
    LibraryInfo,
    LibraryPage,
    UploadView,
)
from server.services import LibraryServices, services_of
from server.tracker import Upload

T = TypeVar("T")
PENDING: tuple[DocumentStatus, ...] = ("queued", "indexing", "skipped")


def add_library_routes(router: APIRouter) -> None:
    @router.get("/api/library/info")
    async def info(request: Request, context: Caller) -> LibraryInfo:
        library, access = _library(request), services_of(request).access
        counted = await _read(request, lambda c: [found.name for found in c.collections()])
        known = sorted({DEFAULT_COLLECTION, *counted})
        readable, writable = await access.readable(context), await access.writable(context)
        return LibraryInfo(
            max_file_bytes=library.upload_folder.max_bytes,
            suffixes=sorted(SUPPORTED_SUFFIXES),
            collections=[name for name in known if readable is None or name in readable],
            writable=sorted(writable) if writable is not None else known,
        )

    @router.get("/api/library/documents")
    async def documents(
        request: Request,
        context: Caller,
        q: Annotated[str, Query(max_length=200)] = "",
        status: DocumentStatus | None = None,
        collection: str | None = None,
        sort: LibrarySort = LibrarySort.NAME,
        order: Literal["asc", "desc"] = "asc",
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> LibraryPage:
        library = _library(request)
        readable = await services_of(request).access.readable(context)
        pending = await _pending(request, q, status, collection, readable)
        shown = pending[offset : offset + limit]
        query = LibraryQuery(
            name=q,
            status=None if status is None else CatalogStatus(status),
            collection=collection,
            readable=readable,
            sort=sort,
            descending=order == "desc",
            offset=max(0, offset - len(pending)),
            limit=limit - len(shown),
        )
        total, rows = 0, list[LibraryRow]()
        if status not in PENDING:
            total, rows = await _read(request, lambda c: library_page(c, query))
        listed = [LibraryDocument.of_row(row, _uploaded(library, row.record)) for row in rows]
        return LibraryPage(
            total=len(pending) + total,
            offset=offset,
            limit=limit,
            items=[*shown, *listed],
        )

    @router.get("/api/library/documents/{doc_id}/chunks")
    async def chunks(
        doc_id: str,
        request: Request,
        context: Caller,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> ChunkPage:
        record = await _document(request, context, doc_id, Action.READ)
        total, rows = await _read(request, lambda c: document_chunks(c, doc_id, offset, limit))
        items = [ChunkView.of(row) for row in rows]
        return ChunkPage(doc_id=doc_id, name=record.path, total=total, offset=offset, items=items)

    @router.delete("/api/library/documents/{doc_id}", status_code=202)
    async def remove(doc_id: str, request: Request, context: Caller) -> JobSummary:
        library = _library(request)
        record = await _document(request, context, doc_id, Action.WRITE)
        if not _uploaded(library, record):
            raise HTTPError(
                409,
                f"{record.path} lives in the folder {record.root}, which kb does not own: delete "
                "or move the file there, and the folder's next sync removes it",
            )
        await asyncio.to_thread(library.upload_folder.remove, record.root, record.path)
        return JobSummary.of(library.syncs.request(Path(record.root), record.collection))

    @router.post("/api/library/documents/{doc_id}/reindex", status_code=202)
    async def reindex(doc_id: str, request: Request, context: Caller) -> JobSummary:
        library = _library(request)
        record = await _document(request, context, doc_id, Action.WRITE)
        if not await asyncio.to_thread(Path(record.root).is_dir):
            raise HTTPError(409, f"the folder {record.root} of {record.path} is gone")
        job = library.syncs.request(Path(record.root), record.collection, [record.path])
        return JobSummary.of(job)

    @router.post("/api/library/uploads", status_code=202)
    async def upload(
        request: Request,
        context: Caller,
        name: Annotated[str, Query(min_length=1, max_length=4096)],
        collection: str = DEFAULT_COLLECTION,
    ) -> UploadView:
        library = _library(request)
        folder = library.upload_folder
        root = folder.folder(collection)  # a bad name: 400 before the body is read
        await services_of(request).access.require(context, Action.WRITE, collection)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > folder.max_bytes:
            raise folder.too_large(int(declared))
        try:
            path, size = await folder.store(collection, name, request.stream())
        except ClientDisconnect:
            raise HTTPError(400, "the upload was cut off before the whole file arrived") from None
        job = library.syncs.request(root, collection)
        added = library.uploads.add(collection, str(root), path, size, job)
        return UploadView.of(added, library.syncs.jobs.view(job.job_id))

    @router.get("/api/library/uploads/{upload_id}")
    async def upload_status(upload_id: str, request: Request, context: Caller) -> UploadView:
        library = _library(request)
        found = await _upload(request, context, upload_id, Action.READ)
        return UploadView.of(found, library.syncs.jobs.view(found.job_id))

    @router.delete("/api/library/uploads/{upload_id}", status_code=202)
    async def discard(upload_id: str, request: Request, context: Caller) -> JobSummary:
        """Deletes an upload that never reached the index (skipped, or failed)."""
        library = _library(request)
        found = await _upload(request, context, upload_id, Action.WRITE)
        if found.status in ("queued", "indexing"):
            raise HTTPError(409, f"upload {upload_id} is still being indexed")
        await asyncio.to_thread(library.upload_folder.remove, found.root, found.path)
        library.uploads.forget(upload_id)
        return JobSummary.of(library.syncs.request(Path(found.root), found.collection))

    @router.get("/api/library/jobs/{job_id}")
    async def job(job_id: str, request: Request, context: Caller) -> JobSummary:
        view = _library(request).syncs.jobs.view(job_id)
        if view is None:
            raise HTTPError(404, f"no job {job_id}")
        await services_of(request).access.require(context, Action.READ, view.request.collection)
        return JobSummary.of(view)

    @router.get("/api/library/folders")
    async def folders(request: Request, context: Caller) -> list[FolderView]:
        library = _library(request)
        readable = await services_of(request).access.readable(context)
        counts = await _read(request, folder_counts)
        watched = {str(folder.path): folder.collection for folder in library.watcher.folders}
        found = {root: collection for root, (collection, _) in counts.items()}
        collections = {**found, **watched}
        roots = sorted(
            root
            for root, collection in collections.items()
            if not library.upload_folder.holds(root)
            and (readable is None or collection in readable)
        )
        return [
            FolderView(
                folder=root,
                collection=collections[root],
                documents=counts.get(root, ("", 0))[1],
                watched=root in watched,
                last_sync=_last_sync(library, root),
            )
            for root in roots
        ]


async def _pending(
    request: Request,
    name: str,
    status: DocumentStatus | None,
    collection: str | None,
    readable: frozenset[str] | None,
) -> list[LibraryDocument]:
    """This run's uploads that the catalog does not list: queued, indexing, skipped, or
    failed before they reached it."""
    library = _library(request)

    def shown(upload: Upload) -> bool:
        return (
            (status is None or upload.status == status)
            and (collection is None or upload.collection == collection)
            and (readable is None or upload.collection in readable)
            and name.lower() in upload.path.lower()
        )

    candidates = [u for u in library.uploads.recent() if u.status != "indexed" and shown(u)]
    failed = [u.doc_id for u in candidates if u.status == "failed"]
    known = await _read(request, lambda c: {d for d in failed if c.document(d) is not None})
    return [LibraryDocument.of_upload(u) for u in candidates if u.doc_id not in known]


def _last_sync(library: LibraryServices, root: str) -> JobSummary | None:
    finished = library.syncs.last(root)
    return None if finished is None else JobSummary.finished(finished)


def _uploaded(library: LibraryServices, record: DocumentRecord) -> bool:
    return library.upload_folder.holds(record.root)


async def _document(
    request: Request, context: RequestContext, doc_id: str, action: Action
) -> DocumentRecord:
    """The document, once the caller may do `action` with it; 404 for one they may not
    even read, as for one that does not exist."""
    record = await _read(request, lambda c: c.document(doc_id))
    if record is None or is_scratch(record.collection):
        raise HTTPError(404, f"no document {doc_id} in the index")
    await _allowed(
        request, context, action, record.collection, f"no document {doc_id} in the index"
    )
    return record


async def _upload(
    request: Request, context: RequestContext, upload_id: str, action: Action
) -> Upload:
    found = _library(request).uploads.get(upload_id)
    if found is None:
        raise HTTPError(404, f"no upload {upload_id}")
    await _allowed(request, context, action, found.collection, f"no upload {upload_id}")
    return found


async def _allowed(
    request: Request, context: RequestContext, action: Action, collection: str, missing: str
) -> None:
    access = services_of(request).access
    readable = await access.readable(context)
    if readable is not None and collection not in readable:
        raise HTTPError(404, missing)
    await access.require(context, action, collection)


async def _read(request: Request, use: Callable[[Catalog], T]) -> T:
    live = services_of(request).live
    return await asyncio.to_thread(live.read, lambda index: use(index.catalog))


def _library(request: Request) -> LibraryServices:
    library: LibraryServices = request.app.state.library
    return library
