"""A real server on a loopback port, and the sample index, for tests."""

import asyncio
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from benchmarks.servers import ServerProcess, free_port
from ingest.pipeline import ingest
from kb.settings import Settings
from server.client import ChatClient
from server.toollog import SearchArguments, ToolCallRecord, stamp

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = REPO / "data" / "docs"


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    @property
    def url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


def ingest_sample(settings: Settings, embedder: Any, docs: Path = SAMPLE_DOCS) -> None:
    report = ingest(settings, docs, embedder=embedder)
    assert report.exit_code == 0, report.failures


def copy_index(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


def kb_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """An environment for `kb` subprocesses: this repo's code, no KB_ setting or API key
    from outside, the offline model, and the given settings (KB_<NAME>=value)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.pop("OPENAI_API_KEY", None)
    env["PYTHONPATH"] = str(REPO)
    env["KB_DATA_DIR"] = str(data_dir)
    env["KB_MODEL"] = "offline"
    env.update({f"KB_{name.upper()}": value for name, value in settings.items()})
    return env


def run_kb(env: dict[str, str], *args: str, python: tuple[str, ...] = ()) -> CompletedProcess[str]:
    command = [sys.executable, *python, "-c", "from cli.main import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@asynccontextmanager
async def following(
    env: dict[str, str], *args: str
) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """`kb logs --follow --json ARGS` running; yields how to get the next record it prints."""
    command = ["-c", "from cli.main import main; main()", "logs", "--follow", "--json", *args]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout = process.stdout
    assert stdout

    async def next_record() -> dict[str, Any]:
        line = await asyncio.wait_for(stdout.readline(), 60)
        return dict(json.loads(line))

    try:
        yield next_record
    finally:
        process.terminate()
        await process.wait()


def tool_call(user: str, thread: str, query: str, age_s: float = 0) -> ToolCallRecord:
    """A search that found nothing, made `age_s` seconds ago."""
    return ToolCallRecord(
        time=stamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)),
        user=user,
        thread=thread,
        call_id=f"call_{query.replace(' ', '_')}",
        arguments=SearchArguments(query=query),
        duration_ms=1.0,
        results=[],
        error=None,
    )


class KbServe(ServerProcess):
    """`kb serve` in a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        port = free_port()
        command = [sys.executable, "-c", "from cli.main import main; main()", "serve"]
        url = f"http://127.0.0.1:{port}"
        super().__init__([*command, "--port", str(port)], url, "/healthz", log, env)


class Repeat(threading.Thread):
    """Calls `attempt` over and over until stopped; keeps every failure it returns (or
    raises) and the time each attempt finished."""

    def __init__(self, attempt: Callable[[], str | None]) -> None:
        super().__init__(daemon=True)
        self.attempt = attempt
        self.finished: list[float] = []
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                failure = self.attempt()
            except Exception as error:
                failure = f"{type(error).__name__}: {error}"
            if failure:
                self.failures.append(failure)
            self.finished.append(time.monotonic())

    def during(self, start: float, end: float) -> int:
        return sum(1 for moment in self.finished if start <= moment <= end)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=120)


@contextmanager
def repeating(*attempts: Callable[[], str | None]) -> Iterator[list[Repeat]]:
    """A `Repeat` loop for each attempt, every one under way before the body runs (and
    still running a moment after it), stopped afterwards."""
    loops = [Repeat(attempt) for attempt in attempts]
    for loop in loops:
        loop.start()
    time.sleep(1)
    try:
        yield loops
    finally:
        time.sleep(0.5)
        for loop in loops:
            loop.stop()


def search_attempts(http: httpx.Client, queries: list[str]) -> Callable[[], str | None]:
    """Each call: the next query, in the next mode, through POST /api/search."""
    cycle = itertools.cycle([(q, m) for q in queries for m in ("hybrid", "dense", "lexical")])

    def attempt() -> str | None:
        query, mode = next(cycle)
        response = http.post("/api/search", json={"query": query, "mode": mode})
        if response.status_code != 200:
            return f"{mode} {query!r}: {response.status_code} {response.text}"
        return None

    return attempt


def chat_attempts(client: ChatClient, questions: list[str]) -> Callable[[], str | None]:
    """Each call: the next question in a new thread; an error event is a failure."""
    cycle = itertools.cycle(questions)

    def attempt() -> str | None:
        events = client.ask(next(cycle))
        errors = [event for event in events if event["type"] == "error"]
        return f"error event: {errors[0]}" if errors else None

    return attempt
