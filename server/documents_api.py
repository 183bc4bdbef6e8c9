"""Document content over HTTP: a cited passage, and the original file ("Open original").

Both check that the caller may read the document's collection. A new tab cannot send the
Authorization header, so the UI first asks for a signed link (server/links.py) for one
document, which the file route accepts instead of credentials until it expires.
"""

import asyncio
import hashlib
import mimetypes
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kb.index.catalog import ChunkRow, DocumentRecord
from kb.types import page_of
from server.access import Action
from server.errors import HTTPError
from server.guard import FILE_POLICY
from server.identity import Caller, request_context
from server.services import ChatServices, services_of

# Served inline; any other type (Word, PowerPoint, Excel, e-books, mail) is a download.
BROWSER_SHOWS = {"application/pdf", "image/png", "image/jpeg", "image/webp", "image/gif"}


def add_document_routes(router: APIRouter, open_router: APIRouter) -> None:
    """`router` needs a caller; `open_router` does not (the file route checks its own)."""

    @router.get("/api/chunks/{chunk_id}")
    async def chunk(chunk_id: str, request: Request, context: Caller) -> dict[str, Any]:
        services = services_of(request)
        row = await _chunk(services, chunk_id)
        await services.access.require(context, Action.READ, row.collection)
        return {
            "chunk_id": row.chunk_id,
            "doc_id": row.doc_id,
            "source": row.source,
            "title": row.title,
            "page": page_of(row.locator),
            "locator": row.locator.to_json() if row.locator else None,
            "heading": row.heading,
            "text": row.text,
        }

    @router.post("/api/documents/{doc_id}/link")
    async def link(doc_id: str, request: Request, context: Caller) -> dict[str, str]:
        """A short-lived URL of the original file for the caller (to open in a new tab)."""
        services = services_of(request)
        record = await _document(services, doc_id)
        await services.access.require(context, Action.READ, record.collection)
        return {"url": services.links.url(doc_id, context.user_id)}

    @open_router.get("/api/documents/{doc_id}/file")
    async def document_file(
        doc_id: str,
        request: Request,
        user: Annotated[str | None, Query(max_length=256)] = None,
        exp: Annotated[int | None, Query()] = None,
        sig: Annotated[str | None, Query(max_length=128)] = None,
    ) -> Response:
        services = services_of(request)
        if user is not None and exp is not None and sig is not None:
            services.links.check(doc_id, user, exp, sig)  # access was checked when signed
            record = await _document(services, doc_id)
        else:
            context = await request_context(request)
            record = await _document(services, doc_id)
            await services.access.require(context, Action.READ, record.collection)
        return await _original(services, record)


async def _chunk(services: ChatServices, chunk_id: str) -> ChunkRow:
    rows: dict[str, ChunkRow] = await asyncio.to_thread(
        services.live.read, lambda index: index.catalog.get_chunks([chunk_id])
    )
    row = rows.get(chunk_id)
    if row is None:
        raise HTTPError(404, f"no passage {chunk_id} in the index")
    return row


async def _document(services: ChatServices, doc_id: str) -> DocumentRecord:
    record: DocumentRecord | None = await asyncio.to_thread(
        services.live.read, lambda index: index.catalog.document(doc_id)
    )
    if record is None or record.content_hash is None:
        raise HTTPError(404, f"no indexed document {doc_id}")
    return record


async def _original(services: ChatServices, record: DocumentRecord) -> Response:
    """Exactly the bytes that were indexed (citations point into that version): kept in
    the catalog on servers, where this worker's host may lack the folder; else the file."""
    hash_ = record.content_hash or ""
    kept = await asyncio.to_thread(services.live.read, lambda index: index.catalog.original(hash_))
    data = kept if kept is not None else await asyncio.to_thread(_file_bytes, record)
    path = Path(record.path)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type == "text/html":  # never render an indexed page in our origin
        media_type = "text/plain"
    shown = media_type.startswith("text/") or media_type in BROWSER_SHOWS
    headers = {
        "content-disposition": _disposition(path.name, inline=shown),
        "content-security-policy": FILE_POLICY,
    }
    return Response(data, media_type=media_type, headers=headers)


def _file_bytes(record: DocumentRecord) -> bytes:
    root = Path(record.root).resolve()
    path = (root / record.path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPError(404, f"{record.path} is no longer on disk; run `kb ingest`")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise HTTPError(404, f"{record.path} cannot be read: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != record.content_hash:
        message = f"{record.path} changed since it was indexed; run `kb ingest` to index it"
        raise HTTPError(409, message)
    return data


def _disposition(filename: str, inline: bool) -> str:
    """Inline for what a browser shows; a download for the rest (Word, Excel, e-books)."""
    kind = "inline" if inline else "attachment"
    quoted = quote(filename)
    if quoted == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename*=utf-8''{quoted}"
