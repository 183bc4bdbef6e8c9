"""Chat over HTTP: `kb serve` with the offline model on loopback, timed from the client.

Each request is a ChatKit `threads.create`; the answer streams as SSE. Measured per request:
time to the first assistant text delta and to the end of the stream.
"""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.procs import child_env, kb_command
from benchmarks.servers import ServerProcess, free_port
from evaluation.metrics import percentile
from server.client import is_text_delta, question_body, stream_events

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


def bench_chat(
    data_dir: Path,
    questions: list[str],
    load: Load,
    servers: dict[str, str] | None = None,
    workers: int = 1,
) -> dict:
    with serve(data_dir, servers, workers) as url:
        return asyncio.run(_measure(url, questions, load, workers))


async def _measure(url: str, questions: list[str], load: Load, workers: int) -> dict:
    limits = httpx.Limits(max_connections=load.concurrency + 1)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        # Loads the embedding model in the server: in each worker, as asked at once they
        # are likely to reach different ones.
        await asyncio.gather(*(ask(http, questions[0]) for _ in range(workers)))
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
def serve(data_dir: Path, servers: dict[str, str] | None = None, workers: int = 1) -> Iterator[str]:
    """`kb serve` on a free loopback port, stopped on the way out, whatever happens;
    `servers`: the settings of an index on servers (benchmarks.backends.server_env)."""
    port = free_port()
    env = child_env(data_dir, model="offline", host="127.0.0.1", port=port, **(servers or {}))
    command = kb_command("serve", f"--workers={workers}")
    url = f"http://127.0.0.1:{port}"
    with ServerProcess(command, url, "/healthz", data_dir / "serve.log", env, cwd=data_dir):
        yield url
