"""The HTTP app: ChatKit at POST /chatkit, a small JSON API, and the web UI at /.

Bad input never reaches the ChatKit stream: the body is size-checked, and the ChatKit
server's preflight validates it and looks up what it names, before a 200 header is sent.
"""

import asyncio
import dataclasses
import hashlib
import hmac
import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from agents import Model
from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from kb.embedder import Embedder
from kb.settings import Settings
from kb.status import IndexStatus
from kb.types import page_of
from server.access import Action
from server.attachment_api import add_attachment_routes
from server.context import RequestContext
from server.errors import HTTPError
from server.guard import FILE_POLICY, FORM_TYPES, Guard
from server.identity import Caller
from server.index_api import add_index_routes
from server.library import add_library_routes
from server.preflight import RequestRefused, describe
from server.services import ChatServices, open_server

STATIC = Path(__file__).parent / "static"
# Served inline; any other type (Word, PowerPoint, Excel, e-books, mail) is a download.
BROWSER_SHOWS = {"application/pdf", "image/png", "image/jpeg", "image/webp", "image/gif"}


def create_app(
    settings: Settings,
    model: Model | None = None,
    embedder: Embedder | None = None,
    *,
    url: str | None = None,
) -> FastAPI:
    """`url`: where this server answers, advertised to CLI commands on the data dir."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_server(settings, model, embedder=embedder, url=url) as (services, library):
            app.state.services = services
            app.state.jobs = library.syncs.jobs
            app.state.library = library
            yield

    app = FastAPI(title="kb", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(Guard, allowed_hosts=settings.allowed_host_names)

    @app.exception_handler(HTTPError)
    async def http_error(_: Request, error: HTTPError) -> JSONResponse:
        return JSONResponse(
            {"error": error.message}, status_code=error.status, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": describe(error.errors())}, status_code=400)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in _api(settings):
        app.include_router(router)
    _mount_ui(app)
    return app


def _api(settings: Settings) -> list[APIRouter]:
    def granted(authorization: str | None, token: str | None = None) -> bool:
        expected = settings.auth_token
        if not expected:
            return True
        scheme, _, bearer = (authorization or "").partition(" ")
        offered = [bearer] if scheme.lower() == "bearer" else []
        return any(_same_secret(given, expected) for given in [*offered, token] if given)

    def authorize(authorization: Annotated[str | None, Header()] = None) -> None:
        if not granted(authorization):
            raise _unauthorized("send Authorization: Bearer <token>")

    def authorize_link(
        authorization: Annotated[str | None, Header()] = None,
        token: Annotated[str | None, Query()] = None,
    ) -> None:
        if not granted(authorization, token):
            raise _unauthorized("send Authorization or ?token=")

    router = APIRouter(dependencies=[Depends(authorize)])
    # Opened in a new tab ("Open original"), which cannot send the header.
    links = APIRouter(dependencies=[Depends(authorize_link)])

    @router.post("/chatkit")
    async def chatkit(request: Request, context: Caller) -> Response:
        services = _services(request)
        _require_json(request)
        body = await _read_body(request, settings.max_request_kb * 1024)
        try:
            result = await services.chat.process(body, context, origin=str(request.base_url))
        except RequestRefused as error:
            raise HTTPError(error.status, error.message) from None
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    @router.get("/api/status")
    async def status(request: Request) -> dict[str, Any]:
        services = _services(request)
        found = await asyncio.to_thread(
            services.live.read, lambda index: IndexStatus.of(settings, index.catalog)
        )
        return {**dataclasses.asdict(found), "chat_model": services.model_name}

    @router.get("/api/chunks/{chunk_id}")
    async def chunk(chunk_id: str, request: Request, context: Caller) -> dict[str, Any]:
        live = _services(request).live
        rows = await asyncio.to_thread(
            live.read, lambda index: index.catalog.get_chunks([chunk_id])
        )
        row = rows.get(chunk_id)
        if row is None:
            raise HTTPError(404, f"no passage {chunk_id} in the index")
        await _may_read(request, context, row.doc_id)
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

    @router.get("/api/threads/{thread_id}/tool-calls")
    async def thread_tool_calls(
        thread_id: str, request: Request, context: Caller
    ) -> dict[str, Any]:
        """The records of the searches made in one of the caller's threads."""
        store = _services(request).store
        try:
            records = await store.load_tool_calls(thread_id, context)
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None
        return {"data": [record.model_dump() for record in records]}

    @router.get("/api/threads/{thread_id}/feedback")
    async def thread_feedback(thread_id: str, request: Request, context: Caller) -> dict[str, Any]:
        """Item id -> the feedback the caller gave on it, in one of their threads."""
        store = _services(request).store
        try:
            return {"data": await store.load_feedback(thread_id, context)}
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None

    @links.get("/api/documents/{doc_id}/file")
    async def document_file(doc_id: str, request: Request, context: Caller) -> Response:
        live = _services(request).live
        record = await asyncio.to_thread(live.read, lambda index: index.catalog.document(doc_id))
        if record is None or record.content_hash is None:
            raise HTTPError(404, f"no indexed document {doc_id}")
        await _services(request).access.require(context, Action.READ, record.collection)
        root = Path(record.root).resolve()
        path = (root / record.path).resolve()
        if not path.is_relative_to(root) or not await asyncio.to_thread(path.is_file):
            raise HTTPError(404, f"{record.path} is no longer on disk; run `kb ingest`")
        # Serve exactly the bytes that were indexed: citations point into that version.
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise HTTPError(404, f"{record.path} cannot be read: {error.strerror}") from None
        if hashlib.sha256(data).hexdigest() != record.content_hash:
            message = f"{record.path} changed since it was indexed; run `kb ingest` to index it"
            raise HTTPError(409, message)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type == "text/html":  # never render an indexed page in our origin
            media_type = "text/plain"
        shown = media_type.startswith("text/") or media_type in BROWSER_SHOWS
        headers = {
            "content-disposition": _disposition(path.name, inline=shown),
            "content-security-policy": FILE_POLICY,
        }
        return Response(data, media_type=media_type, headers=headers)

    add_index_routes(router)
    add_attachment_routes(router)
    add_library_routes(router)
    return [router, links]


def _services(request: Request) -> ChatServices:
    services: ChatServices = request.app.state.services
    return services


async def _may_read(request: Request, context: RequestContext, doc_id: str) -> None:
    """Raises unless the caller may read the document's collection."""
    services = _services(request)
    record = await asyncio.to_thread(
        services.live.read, lambda index: index.catalog.document(doc_id)
    )
    if record is not None:
        await services.access.require(context, Action.READ, record.collection)


def _same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _unauthorized(how: str) -> HTTPError:
    headers = {"WWW-Authenticate": 'Bearer realm="kb"'}
    return HTTPError(401, f"missing or wrong token: {how}", headers)


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        raise HTTPError(415, "ChatKit requests are JSON: send Content-Type: application/json")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"request body over KB_MAX_REQUEST_KB ({limit // 1024} KiB)")
    body = bytearray()
    try:
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise HTTPError(413, f"request body over KB_MAX_REQUEST_KB ({limit // 1024} KiB)")
    except ClientDisconnect:  # nobody is left to answer: not a server error
        raise HTTPError(400, "the client disconnected before sending the whole body") from None
    return bytes(body)


def _disposition(filename: str, inline: bool) -> str:
    """Inline for what a browser shows; a download for the rest (Word, Excel, e-books)."""
    kind = "inline" if inline else "attachment"
    quoted = quote(filename)
    if quoted == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename*=utf-8''{quoted}"


def _mount_ui(app: FastAPI) -> None:
    if (STATIC / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> Response:
        page = STATIC / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(
            "<h1>kb</h1><p>The web UI is not built: run <code>make install</code>.</p>"
        )
