"""Soak (`kb bench --soak`): chats that never stop while the folder keeps changing.

`kb serve` (offline model) on a copy of the sample docs; 8 chats ask question after question
for 5 minutes while, every 30 s, the folder changes and `kb ingest` runs (which hands the job
to the server; every fourth round is a `--rebuild`). Each round adds a file, rewrites a
sentence of another and deletes the file the previous round added; the moment `kb ingest`
returns, /api/search and /api/status must show all three changes. Counted: every search
the agent made (the server's tool-call log) and how many failed, chat requests and errors,
and the rounds whose changes were visible at once.
"""

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.chat import Sample, ask, chat_stats, serve
from benchmarks.corpora import SAMPLE_DOCS, SAMPLE_QUESTIONS
from benchmarks.machine import machine_info
from benchmarks.procs import child_env, kb_command
from evaluation.metrics import percentile

Log = Callable[[str], None]


@dataclass(frozen=True)
class SoakPlan:
    seconds: float
    chats: int
    interval_s: float
    rebuild_every: int  # rounds


SOAK = SoakPlan(seconds=300, chats=8, interval_s=30, rebuild_every=4)
QUICK_SOAK = SoakPlan(seconds=40, chats=4, interval_s=10, rebuild_every=3)


def run_soak(quick: bool, log: Log) -> dict[str, Any]:
    started = time.perf_counter()
    plan = QUICK_SOAK if quick else SOAK
    with tempfile.TemporaryDirectory(prefix="kb-soak-") as tmp:
        docs, data = Path(tmp) / "docs", Path(tmp) / "data"
        shutil.copytree(SAMPLE_DOCS, docs)
        log("soak: indexing the sample docs, then kb serve")
        every = (
            f"{plan.chats} chats for {plan.seconds:.0f} s, an ingest every {plan.interval_s:.0f} s"
        )
        with serve(_indexed(docs, data)) as url:
            log(f"soak: {every}")
            result = asyncio.run(_soak(url, docs, data, plan, log))
        result["searches"] = _searches(data / "logs" / "tool_calls.jsonl")
    return {
        "soak": True,
        "quick": quick,
        "machine": machine_info(),
        "plan": vars(plan),
        **result,
        "duration_s": round(time.perf_counter() - started, 1),
    }


def _indexed(docs: Path, data: Path) -> Path:
    env = child_env(data)
    command = kb_command("ingest", str(docs))
    asyncio.run(_run(command, env))
    return data


async def _soak(url: str, docs: Path, data: Path, plan: SoakPlan, log: Log) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=plan.chats + 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        samples: list[Sample] = []
        finish = time.monotonic() + plan.seconds
        chats = [
            asyncio.create_task(_chat(http, offset, finish, samples))
            for offset in range(plan.chats)
        ]
        rounds = await _rounds(http, docs, data, plan, finish, log)
        await asyncio.gather(*chats)
    return {"chat": chat_stats(samples, plan.seconds), "rounds": rounds, **_summary(rounds)}


async def _chat(http: httpx.AsyncClient, offset: int, finish: float, samples: list[Sample]) -> None:
    turn = offset
    while time.monotonic() < finish:
        samples.append(await ask(http, SAMPLE_QUESTIONS[turn % len(SAMPLE_QUESTIONS)]))
        turn += 1


async def _rounds(
    http: httpx.AsyncClient, docs: Path, data: Path, plan: SoakPlan, finish: float, log: Log
) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = []
    # Each round leaves the sample docs plus that round's one added file.
    expected_documents = (await http.get("/api/status")).json()["documents"] + 1
    first = time.monotonic()
    number = 0
    while first + (number + 1) * plan.interval_s < finish:
        number += 1
        await asyncio.sleep(max(0.0, first + number * plan.interval_s - time.monotonic()))
        rebuild = number % plan.rebuild_every == 0
        _change(docs, number)
        started = time.monotonic()
        args = ["ingest", str(docs), "--json", *(["--rebuild"] if rebuild else [])]
        report = json.loads(await _run(kb_command(*args), child_env(data)))
        seconds = time.monotonic() - started
        missing = await _invisible(http, number, expected_documents)
        rounds.append(
            {
                "round": number,
                "rebuild": rebuild,
                "ingest_s": round(seconds, 2),
                "added": report["added"],
                "updated": report["updated"],
                "deleted": report["deleted"],
                "not_visible": missing,
            }
        )
        outcome = f"NOT visible: {missing}" if missing else "every change visible"
        log(f"soak: round {number}{' (rebuild)' if rebuild else ''}, {seconds:.1f} s: {outcome}")
    return rounds


def _change(docs: Path, number: int) -> None:
    """Add soak-N.md, rewrite faq.txt's soak sentence, delete soak-(N-1).md."""
    (docs / f"soak-{number}.md").write_text(
        f"# Soak {number}\n\nThe word {_added(number)} appears in this file only.\n",
        encoding="utf-8",
    )
    faq = docs / "faq.txt"
    text = faq.read_text(encoding="utf-8").split("\n\nSoak sentence:")[0]
    faq.write_text(f"{text}\n\nSoak sentence: {_rewritten(number)}.\n", encoding="utf-8")
    (docs / f"soak-{number - 1}.md").unlink(missing_ok=True)


def _added(number: int) -> str:
    return f"addedword{number}"


def _rewritten(number: int) -> str:
    return f"rewrittenword{number}"


async def _invisible(http: httpx.AsyncClient, number: int, documents: int) -> list[str]:
    """The changes of round `number` that search or status does not show yet."""
    expectations = [
        (_added(number), f"soak-{number}.md"),
        (_rewritten(number), "faq.txt"),
        (_rewritten(number - 1), None),  # replaced
        (_added(number - 1), None),  # its file was deleted
    ]
    missing = []
    for word, source in expectations:
        found = await http.post("/api/search", json={"query": word, "mode": "lexical", "k": 1})
        sources = [hit["source"] for hit in found.json()]
        if sources != ([source] if source else []):
            missing.append(f"{word}: {sources}")
    shown = (await http.get("/api/status")).json()["documents"]
    if shown != documents:
        missing.append(f"status: {shown} documents, not {documents}")
    return missing


async def _run(command: list[str], env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command[-3:]} exited {process.returncode}: {err.decode()[-2000:]}")
    return out.decode()


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    times = [r["ingest_s"] for r in rounds]
    return {
        "ingests": len(rounds),
        "ingests_visible_at_once": sum(1 for r in rounds if not r["not_visible"]),
        "ingest_p50_s": round(percentile(times, 50), 2) if times else None,
        "ingest_max_s": max(times, default=None),
    }


def _searches(log: Path) -> dict[str, Any]:
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    durations = [r["duration_ms"] for r in records]
    return {
        "count": len(records),
        "failed": sum(1 for r in records if r["error"]),
        "first_error": next((r["error"] for r in records if r["error"]), None),
        "p50_ms": round(percentile(durations, 50), 1),
        "p95_ms": round(percentile(durations, 95), 1),
        "max_ms": round(max(durations, default=0.0), 1),
    }
