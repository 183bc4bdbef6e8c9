"""A team's deployment against the embedded default, in one run: `kb ingest` of the same
corpus into each backend, and chat from `kb serve --workers 2` with the index on servers.

Both ingests read one embedding cache, filled by an ingest before them: the embeddings are
the same work on either backend, so with them cached the figures compare what differs,
the writes to the index.
"""

from collections.abc import Callable
from pathlib import Path

from benchmarks.backends import EMBEDDED, SERVERS, Backends, server_env
from benchmarks.chat import Load, bench_chat
from benchmarks.corpora import SAMPLE_DOCS, SAMPLE_QUESTIONS, team_corpus
from benchmarks.ingest import ingest_env, json_result
from benchmarks.procs import kb_command, run_measured
from kb.settings import Settings

WORKERS = 2
CHAT = Load(sequential=5, concurrency=16, rounds=3)
QUICK_CHAT = Load(sequential=2, concurrency=16, rounds=1)


def bench_team(backends: Backends, quick: bool, log: Callable[[str], None]) -> dict:
    corpus = team_corpus(quick)
    docs = backends.root / "team" / corpus.name
    docs.mkdir(parents=True)
    corpus.fill(docs)
    ingested = {corpus.name: _compare_ingest(backends, docs, 1 if quick else 2, log)}
    log(f"team: chat, kb serve --workers {WORKERS} on servers")
    return {"ingest": ingested, "chat": _chat(backends, QUICK_CHAT if quick else CHAT)}


def _compare_ingest(
    backends: Backends, docs: Path, rounds: int, log: Callable[[str], None]
) -> dict:
    """Each backend's fastest of `rounds` ingests, the two taking turns (so a neighbour's
    load on the machine weighs on both alike)."""
    cache = backends.root / "team" / f"{docs.name}-cache"
    log(f"{docs.name}: filling the embedding cache (an embedded ingest)")
    with backends.fresh(EMBEDDED, f"{docs.name}-warm-up") as settings:
        _ingest(docs, settings, cache)
    runs: dict[str, list[tuple[float, int]]] = {EMBEDDED: [], SERVERS: []}
    for round_ in range(rounds):
        for backend in runs:
            log(f"{docs.name}: kb ingest into {backend}, embeddings cached ({round_ + 1})")
            with backends.fresh(backend, docs.name) as settings:
                seconds, report = _ingest(docs, settings, cache)
            runs[backend].append((seconds, report["chunks"]))
    figures = {backend: _figures(min(found)) for backend, found in runs.items()}
    ratio = figures[SERVERS]["ingest_s"] / figures[EMBEDDED]["ingest_s"]
    return figures | {"servers_vs_embedded": round(ratio, 3), "rounds": rounds}


def _figures(run: tuple[float, int]) -> dict:
    seconds, chunks = run
    per_s = round(chunks / seconds, 1)
    return {"ingest_s": round(seconds, 2), "chunks": chunks, "chunks_per_s": per_s}


def _ingest(docs: Path, settings: Settings, cache: Path) -> tuple[float, dict]:
    runtime = settings.embedding_runtime
    env = ingest_env(settings.data_dir, settings, runtime, cache_dir=cache, **server_env(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    finished = run_measured(kb_command("ingest", str(docs), "--json"), env, settings.data_dir)
    return finished.seconds, json_result(finished, "kb ingest")


def _chat(backends: Backends, load: Load) -> dict:
    with backends.fresh(SERVERS, "chat") as settings:
        _ingest(SAMPLE_DOCS, settings, settings.data_dir / "cache")
        return bench_chat(settings.data_dir, SAMPLE_QUESTIONS, load, server_env(settings), WORKERS)
