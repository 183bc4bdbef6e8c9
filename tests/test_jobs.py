"""The server's job runner and its HTTP API (/api/jobs, /api/search) on a live server."""

import itertools
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from ingest.progress import FileProgress, ProgressSnapshot, replay
from ingest.report import IngestReport
from kb.errors import KBError
from server.app import create_app
from server.errors import HTTPError
from server.index_api import add_index_routes
from server.jobs import FINISHED, IngestRequest, JobRunner, JobView
from tests.serving import LiveServer, copy_index


def wait_for(runner: JobRunner, job_id: str, *states: str) -> JobView:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = runner.view(job_id)
        assert view is not None
        if view.state in states:
            return view
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never reached {states}: {runner.view(job_id)}")


def test_jobs_run_one_at_a_time_in_order_and_a_queued_one_can_be_cancelled():
    gate = threading.Event()
    started: list[str] = []

    def work(request, progress):
        started.append(request.root)
        progress.start(1)
        gate.wait(30)
        progress.advance(1, 3)
        return IngestReport(root=request.root, added=["a.md"], chunks=3)

    runner = JobRunner(work)
    first, second, third = (runner.submit(IngestRequest(root=f"/{n}")) for n in "abc")
    wait_for(runner, first.job_id, "running")
    assert wait_for(runner, second.job_id, "queued").state == "queued"
    cancelled = runner.cancel(third.job_id)
    assert cancelled is not None and cancelled.state == "cancelled"
    gate.set()
    done = wait_for(runner, second.job_id, *FINISHED)
    assert done.state == "done" and done.report is not None and done.report.chunks == 3
    assert done.progress == ProgressSnapshot(files_total=1, files_done=1, chunks_done=3)
    assert started == ["/a", "/b"]
    runner.close()


def test_a_running_job_stops_at_its_next_step_when_cancelled():
    steps: list[int] = []

    def work(request, progress):
        progress.start(1000)
        for step in range(1000):
            steps.append(step)
            progress.advance(1, 1)
            time.sleep(0.01)
        return IngestReport(root=request.root)

    runner = JobRunner(work)
    job = runner.submit(IngestRequest(root="/docs"))
    wait_for(runner, job.job_id, "running")
    runner.cancel(job.job_id)
    view = wait_for(runner, job.job_id, *FINISHED)
    assert view.state == "cancelled" and len(steps) < 1000
    runner.close()


def test_a_failed_job_says_why_and_the_next_one_still_runs():
    def work(request, progress):
        if request.root == "/expected":
            raise KBError("/expected is not a folder")
        if request.root == "/bug":
            raise RuntimeError("boom")
        return IngestReport(root=request.root)

    runner = JobRunner(work)
    jobs = [runner.submit(IngestRequest(root=root)) for root in ("/expected", "/bug", "/fine")]
    views = [wait_for(runner, job.job_id, *FINISHED) for job in jobs]
    assert [(v.state, v.error) for v in views] == [
        ("failed", "/expected is not a folder"),
        ("failed", "internal error: RuntimeError: boom"),
        ("done", None),
    ]
    runner.close()


class Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def start(self, total_files: int) -> None:
        self.calls.append(("start", (total_files,)))

    def advance(self, files: int, chunks: int) -> None:
        self.calls.append(("advance", (files, chunks)))

    def within_file(self, path: str, chunks_done: int, chunks_total: int) -> None:
        self.calls.append(("within_file", (path, chunks_done, chunks_total)))


def test_progress_snapshots_replay_as_the_calls_of_a_local_ingest():
    snapshots = [
        ProgressSnapshot(),
        ProgressSnapshot(files_total=3),
        ProgressSnapshot(3, 1, 10),
        ProgressSnapshot(3, 1, 10, FileProgress("big.txt", 40, 90)),
        ProgressSnapshot(3, 1, 10, FileProgress("big.txt", 80, 90)),
        ProgressSnapshot(3, 3, 101),
    ]
    calls = Calls()
    for seen, now in itertools.pairwise(snapshots):
        replay(seen, ProgressSnapshot.from_json(json.loads(json.dumps(now.to_json()))), calls)
    assert calls.calls == [
        ("start", (3,)),
        ("advance", (1, 10)),
        ("within_file", ("big.txt", 40, 90)),
        ("within_file", ("big.txt", 80, 90)),
        ("advance", (2, 91)),
    ]


@pytest.fixture
def live(settings, sample_index, embedder):
    copy_index(sample_index / "index", settings.index_dir)
    secured = settings.model_copy(update={"auth_token": "t0ken"})
    with LiveServer(create_app(secured, embedder=embedder)) as server:
        yield server


@pytest.fixture
def http(live):
    with httpx.Client(
        base_url=live.url, headers={"Authorization": "Bearer t0ken"}, timeout=60
    ) as client:
        yield client


def test_an_ingest_job_over_http_streams_its_progress_to_the_end(http, docs: Path):
    before = http.get("/api/status").json()["documents"]
    (docs / "heron.md").write_text("# Heron\n\nThe heron protocol retries twice.", "utf-8")
    (docs / "osprey.md").write_text("# Osprey\n\nThe osprey protocol never retries.", "utf-8")
    response = http.post("/api/jobs", json={"root": str(docs)})
    assert response.status_code == 202
    job = response.json()
    assert job["state"] in ("queued", "running") and job["request"]["root"] == str(docs)
    with http.stream("GET", f"/api/jobs/{job['job_id']}/events") as events:
        views = [json.loads(line) for line in events.iter_lines() if line]
    done = [ProgressSnapshot.from_json(view["progress"]).files_done for view in views]
    assert done == sorted(done) and views[-1]["state"] == "done"
    assert views[-1]["progress"]["files_total"] == 2 == views[-1]["progress"]["files_done"]
    report = IngestReport.from_dict(views[-1]["report"])
    assert sorted(report.added) == ["heron.md", "osprey.md"] and report.exit_code == 0
    hits = http.post("/api/search", json={"query": "osprey protocol", "k": 1}).json()
    assert hits[0]["source"] == "osprey.md"
    assert http.get(f"/api/jobs/{job['job_id']}").json() == views[-1]
    status = http.get("/api/status").json()
    assert status["documents"] == before + 2 and status["chat_model"] == "offline"


def test_jobs_and_search_refuse_bad_requests(http, live, docs):
    assert http.post("/api/jobs", json={"root": "relative/docs"}).status_code == 400
    missing = http.post("/api/jobs", json={"root": str(docs / "nope")})
    assert missing.status_code == 400 and "is not a folder" in missing.json()["error"]
    assert http.post("/api/jobs", json={"root": str(docs), "force": True}).status_code == 400
    assert http.get("/api/jobs/nope").status_code == 404
    assert http.get("/api/jobs/nope/events").status_code == 404
    assert http.delete("/api/jobs/nope").status_code == 404
    assert http.post("/api/search", json={"query": ""}).status_code == 400
    assert http.post("/api/search", json={"query": "x", "mode": "fuzzy"}).status_code == 400
    anonymous = httpx.post(f"{live.url}/api/search", json={"query": "x"})
    assert anonymous.status_code == 401
    anonymous = httpx.post(f"{live.url}/api/jobs", json={"root": str(docs)})
    assert anonymous.status_code == 401


def test_ingest_jobs_are_refused_to_another_machine(tmp_path):
    """The guard runs before anything else: an app with just these routes shows it."""
    router = APIRouter()
    add_index_routes(router)
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(HTTPError)
    async def http_error(_: Request, error: HTTPError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status)

    with TestClient(app, base_url="http://192.0.2.1:8000", client=("198.51.100.7", 5555)) as remote:
        for method, path in [
            ("POST", "/api/jobs"),
            ("GET", "/api/jobs/x"),
            ("DELETE", "/api/jobs/x"),
        ]:
            response = remote.request(method, path, json={"root": str(tmp_path)})
            assert response.status_code == 403
            assert "from this machine only" in response.json()["error"]
