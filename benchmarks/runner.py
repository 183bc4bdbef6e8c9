"""One bench run: every section in turn, in scratch folders, into one JSON object."""

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.backends import EMBEDDED, POSTGRES, SERVERS, Backends, embedded_settings
from benchmarks.chat import Load, bench_chat
from benchmarks.corpora import SAMPLE_DOCS, SAMPLE_QUESTIONS, corpora
from benchmarks.ingest import Workdir, bench_ingest
from benchmarks.machine import machine_info
from benchmarks.ocr import bench_ocr
from benchmarks.search import bench_lexical_side, bench_search, open_index
from benchmarks.synthetic import RandomEmbedder, build_synthetic
from benchmarks.team import bench_team
from ingest.pipeline import ingest
from kb.embedder import Embedder, create_embedder
from kb.settings import DEFAULT_EMBEDDING_MODEL, Settings

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    questions: int  # per index and mode
    synthetic_chunks: tuple[int, ...]
    server_chunks: tuple[int, ...]  # synthetic sizes on servers (each builds slower there)
    chat: Load


FULL = Plan(200, (100_000, 1_000_000), (100_000,), chat=Load(30, 16, 3))
QUICK = Plan(12, (10_000,), (10_000,), chat=Load(5, 4, 1))


@dataclass(frozen=True)
class Options:
    quick: bool = False
    synthetic: tuple[int, ...] = ()  # search alone, on synthetic indexes of these sizes
    backends: tuple[str, ...] = (EMBEDDED,)
    team: bool = False  # the team figures alone (benchmarks.team)
    postgres: str | None = None  # where the servers backend creates databases (POSTGRES)
    corpora: tuple[str, ...] = ()  # the ingest and search of these corpora alone


def run_bench(settings: Settings, options: Options, log: Log) -> dict:
    """Every section for the chosen backends, or only the synthetic or the team ones."""
    started = time.perf_counter()
    log = _with_clock(log, started)
    plan = QUICK if options.quick else FULL
    result: dict = {"machine": machine_info(), "duration_s": 0.0, "quick": options.quick}
    with (
        tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp,
        Backends(Path(tmp), settings, options.postgres or POSTGRES) as backends,
    ):
        if options.synthetic:
            runs = [(n, b) for n in options.synthetic for b in options.backends]
            result |= _synthetic(backends, runs, plan.questions, log)
        elif options.team:
            result["team"] = bench_team(backends, options.quick, log)
        elif options.corpora:
            ingested, searched = _corpora(
                backends.root, settings, plan, options, create_embedder(settings), log
            )
            result |= {"ingest": ingested, "search": searched}
        else:
            result |= _everything(backends, plan, options, log)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    return result


def _everything(backends: Backends, plan: Plan, options: Options, log: Log) -> dict:
    root, settings = backends.root, backends.settings
    embedder = create_embedder(settings)
    ingested, searched = _corpora(root, settings, plan, options, embedder, log)
    runs = [(n, EMBEDDED) for n in plan.synthetic_chunks]
    if SERVERS in options.backends:
        runs += [(n, SERVERS) for n in plan.server_chunks]
    synthetic = _synthetic(backends, runs, plan.questions, log)
    chat = _chat(root, settings, plan, embedder, log)
    log("ocr: pages per second")
    ocr = bench_ocr(options.quick)
    result = {"ingest": ingested, "search": searched | synthetic["search"]}
    result |= {"indexes": synthetic["indexes"], "chat": chat, "ocr": ocr}
    if SERVERS in options.backends:
        result["team"] = bench_team(backends, options.quick, log)
    return result


def _corpora(
    root: Path,
    settings: Settings,
    plan: Plan,
    options: Options,
    embedder: Embedder,
    log: Log,
) -> tuple[dict, dict]:
    ingested, searched = {}, {}
    chosen = [c for c in corpora(options.quick) if not options.corpora or c.name in options.corpora]
    for corpus in chosen:
        work = Workdir(root / corpus.name / "docs", root / corpus.name / "data", root)
        ingested[corpus.name] = bench_ingest(corpus, work, settings, log)
        log(f"{corpus.name}: search latency")
        with open_index(embedded_settings(settings, work.data), embedder) as searcher:
            searched[corpus.name] = bench_search(searcher, corpus.questions(plan.questions))
    return ingested, searched


def _chat(root: Path, settings: Settings, plan: Plan, embedder: Embedder, log: Log) -> dict:
    data = root / "sample_docs" / "data"  # indexed already by a quick run
    if not data.exists():
        log("chat: indexing the sample docs")
        data = _chat_data(root, settings, embedder)
    log("chat: kb serve with the offline model")
    return bench_chat(data, SAMPLE_QUESTIONS, plan.chat)


def _with_clock(log: Log, started: float) -> Log:
    return lambda line: log(f"[{time.perf_counter() - started:6.1f} s] {line}")


def _synthetic(backends: Backends, runs: list[tuple[int, str]], questions: int, log: Log) -> dict:
    """Search latency on synthetic indexes of (chunks, backend), each built, measured and
    deleted in turn; on the embedded index, also the lexical side of hybrid search as the
    previous release computed it."""
    searched, indexes = {}, {}
    for chunks, backend in runs:
        name = f"synthetic_{chunks // 1000}k" + ("" if backend == EMBEDDED else f"_{backend}")
        with backends.fresh(backend, name) as settings:
            log(f"{name}: building {chunks:,} chunks")
            started = time.perf_counter()
            text = build_synthetic(settings, chunks)
            build_s = time.perf_counter() - started
            log(f"{name}: search latency")
            queries = text.queries(questions)
            embedder = RandomEmbedder(settings.embedding_model)  # one query set for every index
            with open_index(settings, embedder) as searcher:
                searched[name] = bench_search(searcher, queries)
                side = bench_lexical_side(searcher, queries) if backend == EMBEDDED else None
        indexes[name] = {"chunks": chunks, "backend": backend, "build_s": round(build_s, 1)}
        indexes[name] |= {"chunks_per_s": round(chunks / build_s)}
        if side is not None:
            indexes[name]["hybrid_lexical_side"] = side
    return {"search": searched, "indexes": indexes}


def _chat_data(root: Path, settings: Settings, embedder: Embedder) -> Path:
    data = root / "chat"
    local = Settings(
        data_dir=data,
        cache_dir=data / "cache",
        embedding_model=DEFAULT_EMBEDDING_MODEL,
        embedding_runtime=settings.embedding_runtime,
        chunk_tokens=settings.chunk_tokens,
    )
    ingest(local, SAMPLE_DOCS, embedder=embedder)
    return data


def save_result(result: dict, data_dir: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = data_dir / "bench" / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path
