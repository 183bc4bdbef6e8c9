"""Chat over HTTP: `kb serve` with the offline model on loopback, timed from the client.

Each request is a ChatKit `threads.create`; the answer streams as SSE. Measured per request:
time to the first assistant text delta and to the end of the stream.
"""

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.procs import child_env, kb_command
from evaluation.metrics import percentile
from kb.errors import KBError
from server.client import is_text_delta, question_body, stream_events

START_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Sample:
    first_delta_ms: float | None
    total_ms: float
    error: str | None


@dataclass(frozen=True)
class Load:
    sequential: int  # requests one after another
    concurrency: int  # streams at once
    rounds: int


def bench_chat(data_dir: Path, questions: list[str], load: Load) -> dict:
    with serve(data_dir) as url:
        return asyncio.run(_measure(url, questions, load))


async def _measure(url: str, questions: list[str], load: Load) -> dict:
    limits = httpx.Limits(max_connections=load.concurrency + 1)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        await ask(http, questions[0])  # loads the embedding model in the server
        single, single_s = await _phase(http, questions, 1, load.sequential)
        many, many_s = await _phase(http, questions, load.concurrency, load.rounds)
    return {
        "streams_1": chat_stats(single, single_s),
        "streams_16": {**chat_stats(many, many_s), "concurrency": load.concurrency},
    }


async def _phase(
    http: httpx.AsyncClient, questions: list[str], concurrency: int, rounds: int
) -> tuple[list[Sample], float]:
    """`rounds` times, `concurrency` requests at once; the samples and the wall time."""
    started = time.perf_counter()
    samples: list[Sample] = []
    for round_ in range(rounds):
        first = round_ * concurrency
        picked = [questions[(first + n) % len(questions)] for n in range(concurrency)]
        samples += await asyncio.gather(*(ask(http, question) for question in picked))
    return samples, time.perf_counter() - started


async def ask(http: httpx.AsyncClient, question: str) -> Sample:
    started = time.perf_counter()
    first: float | None = None
    error: str | None = None
    try:
        async for event in stream_events(http, question_body(question)):
            if event["type"] == "error":
                error = f"error event: {event}"
            elif first is None and is_text_delta(event):
                first = time.perf_counter()
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    total = time.perf_counter()
    if first is None and error is None:
        error = "no text delta in the answer"
    first_ms = None if first is None else (first - started) * 1000
    return Sample(first_ms, (total - started) * 1000, error)


def chat_stats(samples: list[Sample], seconds: float) -> dict:
    firsts = [s.first_delta_ms for s in samples if s.error is None and s.first_delta_ms]
    totals = [s.total_ms for s in samples if s.error is None]
    return {
        "first_delta_p50_ms": round(percentile(firsts, 50), 1),
        "first_delta_p95_ms": round(percentile(firsts, 95), 1),
        "total_p50_ms": round(percentile(totals, 50), 1),
        "total_p95_ms": round(percentile(totals, 95), 1),
        "requests_per_s": round(len(samples) / seconds, 2) if seconds else 0.0,
        "requests": len(samples),
        "errors": sum(1 for s in samples if s.error),
        "first_error": next((s.error for s in samples if s.error), None),
    }


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """`kb serve` on a free loopback port; killed on the way out, whatever happens."""
    port = free_port()
    env = child_env(data_dir, model="offline", host="127.0.0.1", port=port)
    log_path = data_dir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            kb_command("serve"), env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process, log_path)
            yield url
        finally:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KBError(f"kb serve exited {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise KBError(f"kb serve did not answer /healthz in {START_TIMEOUT_S} s")
