"""The HTTP app: ChatKit at POST /chatkit, a small JSON API, and the web UI at /.

Bad input never reaches the ChatKit stream: the body is size-checked, and the ChatKit
server's preflight validates it and looks up what it names, before a 200 header is sent.
"""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agents import Model
from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from kb.embedder import Embedder
from kb.errors import KBError
from kb.settings import Settings
from kb.status import IndexStatus
from server.attachment_api import add_attachment_routes
from server.documents_api import add_document_routes
from server.errors import HTTPError
from server.guard import FORM_TYPES, Guard
from server.identity import Caller, request_context
from server.index_api import add_index_routes
from server.library import add_library_routes
from server.preflight import RequestRefused, describe
from server.services import open_server, services_of
from server.store import is_embedded

STATIC = Path(__file__).parent / "static"


FACTORY = "server.app:app_from_environment"  # what `kb serve --workers N` starts N times


def app_from_environment() -> FastAPI:
    """The app of one of several worker processes, from the `KB_` environment."""
    return create_app(Settings())


def check_workers(settings: Settings) -> None:
    """Several processes may serve only an index and a chat database on servers."""
    missing = [
        name
        for name, value in (
            ("KB_INDEX_URL (PostgreSQL)", settings.index_url),
            ("KB_CHROMA_URL (a Chroma server)", settings.chroma_url),
            ("KB_DATABASE_URL (postgresql+asyncpg://...)", shared_database(settings)),
        )
        if not value
    ]
    if missing:
        raise KBError(
            "--workers above 1 needs the index and the chat database on servers, which "
            f"every worker shares: set {', '.join(missing)}; the embedded index and SQLite "
            "take one process"
        )


def shared_database(settings: Settings) -> bool:
    return settings.database_url is not None and not is_embedded(settings.database_url)


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
    # Every route here needs a caller (server/identity.py); the file route checks its own.
    router = APIRouter(dependencies=[Depends(request_context)])
    open_router = APIRouter()

    @router.post("/chatkit")
    async def chatkit(request: Request, context: Caller) -> Response:
        services = services_of(request)
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
    async def status(request: Request, context: Caller) -> dict[str, Any]:
        """Counts of the collections the caller may read."""
        services = services_of(request)
        readable = await services.access.readable(context)
        found = await asyncio.to_thread(
            services.live.read, lambda index: IndexStatus.of(settings, index.catalog, readable)
        )
        return {**dataclasses.asdict(found), "chat_model": services.model_name}

    @router.get("/api/me")
    async def me(request: Request, context: Caller) -> dict[str, Any]:
        """Who the server takes the caller for (the UI shows the name)."""
        multi_user = await services_of(request).identity.multi_user()
        groups = sorted(context.groups)
        return {
            "user": context.user_id,
            "groups": groups,
            "is_admin": context.is_admin,
            "multi_user": multi_user,
        }

    @router.get("/api/threads/{thread_id}/tool-calls")
    async def thread_tool_calls(
        thread_id: str, request: Request, context: Caller
    ) -> dict[str, Any]:
        """The records of the searches made in one of the caller's threads."""
        store = services_of(request).store
        try:
            records = await store.load_tool_calls(thread_id, context)
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None
        return {"data": [record.model_dump() for record in records]}

    @router.get("/api/threads/{thread_id}/feedback")
    async def thread_feedback(thread_id: str, request: Request, context: Caller) -> dict[str, Any]:
        """Item id -> the feedback the caller gave on it, in one of their threads."""
        store = services_of(request).store
        try:
            return {"data": await store.load_feedback(thread_id, context)}
        except NotFoundError as error:
            raise HTTPError(404, str(error)) from None

    add_index_routes(router)
    add_attachment_routes(router)
    add_library_routes(router)
    add_document_routes(router, open_router)
    return [router, open_router]


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
