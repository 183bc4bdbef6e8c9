"""The index over HTTP: search (what `kb search` asks a running server) and ingest jobs
(what `kb ingest` hands it). Mounted on the app's authorised router.

Jobs are accepted from this machine only (a loopback address, or the server's own address
as the caller's): an ingest makes the server read a folder of its own file system, which no
remote caller should be able to point it at.
"""

import asyncio
import dataclasses
import ipaddress
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kb.collections import NAME_PATTERN
from kb.types import SearchMode
from server.access import Action, within
from server.errors import HTTPError
from server.identity import Caller
from server.jobs import FINISHED, IngestRequest, JobRunner, JobView
from server.services import services_of

POLL_S = 0.1  # how often a progress stream looks for news
HEARTBEAT_S = 5.0  # a line at least this often, so a waiting client knows we are alive


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(5, ge=1, le=1000)
    mode: SearchMode = SearchMode.HYBRID
    source: str | None = Field(None, max_length=1000)
    # only these collections (None: every one the caller may read)
    collections: list[Annotated[str, Field(pattern=f"^{NAME_PATTERN}$")]] | None = None
    as_user: str | None = Field(None, max_length=128)  # search as this user (admins only)


def add_index_routes(router: APIRouter) -> None:
    @router.post("/api/search")
    async def search(
        body: SearchRequest, request: Request, context: Caller
    ) -> list[dict[str, Any]]:
        services = services_of(request)
        if body.as_user is not None:
            await services.access.require(context, Action.ADMIN, "*")
            context = await services.identity.person(body.as_user, frozenset())
        readable = await services.access.readable(context)
        requested = None if body.collections is None else frozenset(body.collections)
        hits = await asyncio.to_thread(
            services.searcher.search,
            body.query,
            body.k,
            body.mode,
            body.source,
            within(requested, readable),
        )
        return [dataclasses.asdict(hit) for hit in hits]

    @router.get("/api/collections")
    async def collections(request: Request, context: Caller) -> dict[str, Any]:
        """The collections the caller may read, with their documents and chunks."""
        services = services_of(request)
        readable = await services.access.readable(context)
        found = await asyncio.to_thread(services.live.read, lambda i: i.catalog.collections())
        shown = [c for c in found if readable is None or c.name in readable]
        return {"data": [dataclasses.asdict(collection) for collection in shown]}

    local = [Depends(_from_this_machine)]  # checked before the route's own parameters

    @router.post("/api/jobs", status_code=202, dependencies=local)
    async def submit(body: IngestRequest, request: Request, context: Caller) -> dict[str, Any]:
        await services_of(request).access.require(context, Action.WRITE, body.collection)
        root = Path(body.root)
        if not root.is_absolute():
            raise HTTPError(400, f"root must be an absolute path, not {body.root!r}")
        if not root.is_dir():
            raise HTTPError(400, f"{root} is not a folder")
        return _jobs(request).submit(body).to_json()

    @router.get("/api/jobs/{job_id}", dependencies=local)
    async def job(job_id: str, request: Request) -> dict[str, Any]:
        return _view(_jobs(request), job_id).to_json()

    @router.get("/api/jobs/{job_id}/events", dependencies=local)
    async def events(job_id: str, request: Request) -> StreamingResponse:
        jobs = _jobs(request)
        _view(jobs, job_id)  # unknown: a 404 now, not a broken stream
        return StreamingResponse(_follow(jobs, job_id), media_type="application/x-ndjson")

    @router.delete("/api/jobs/{job_id}", dependencies=local)
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        view = _jobs(request).cancel(job_id)
        if view is None:
            raise HTTPError(404, f"no job {job_id}")
        return view.to_json()


async def _follow(jobs: JobRunner, job_id: str) -> AsyncIterator[bytes]:
    """One JSON line per change of the job (and a heartbeat); the last is the finished job."""
    last: JobView | None = None
    quiet = 0.0
    while (view := jobs.view(job_id)) is not None:
        if view != last or quiet >= HEARTBEAT_S:
            yield (json.dumps(view.to_json()) + "\n").encode()
            last, quiet = view, 0.0
        if view.state in FINISHED:
            return
        await asyncio.sleep(POLL_S)
        quiet += POLL_S


def _view(jobs: JobRunner, job_id: str) -> JobView:
    view = jobs.view(job_id)
    if view is None:
        raise HTTPError(404, f"no job {job_id}")
    return view


def _from_this_machine(request: Request) -> None:
    caller = request.client.host if request.client else ""
    listening = request.scope.get("server") or ("", 0)
    try:
        local = ipaddress.ip_address(caller).is_loopback or caller == listening[0]
    except ValueError:
        local = False
    if not local:
        raise HTTPError(403, "ingest jobs are accepted from this machine only")


def _jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs
