"""One bench run: every section in turn, in scratch folders, into one JSON object."""

import datetime as dt
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.chat import Load, bench_chat
from benchmarks.corpora import SAMPLE_DOCS, SAMPLE_QUESTIONS, corpora
from benchmarks.ingest import Workdir, bench_ingest
from benchmarks.machine import machine_info
from benchmarks.ocr import bench_ocr
from benchmarks.search import bench_lexical_side, bench_search, open_index
from benchmarks.synthetic import RandomEmbedder, build_synthetic
from ingest.pipeline import ingest
from kb.embedder import Embedder, create_embedder
from kb.settings import DEFAULT_EMBEDDING_MODEL, Settings

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    questions: int  # per index and mode
    synthetic_chunks: tuple[int, ...]
    chat: Load


FULL = Plan(questions=200, synthetic_chunks=(100_000, 1_000_000), chat=Load(30, 16, 3))
QUICK = Plan(questions=12, synthetic_chunks=(10_000,), chat=Load(5, 4, 1))


def run_bench(
    settings: Settings, quick: bool, log: Log, synthetic_only: tuple[int, ...] = ()
) -> dict:
    """Every section; with `synthetic_only`, search on synthetic indexes of those sizes alone."""
    started = time.perf_counter()
    log = _with_clock(log, started)
    plan = QUICK if quick else FULL
    result: dict = {"machine": machine_info(), "duration_s": 0.0, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        root = Path(tmp)
        if synthetic_only:
            searched, indexes = _synthetic(root, settings, synthetic_only, plan.questions, log)
            result |= {"search": searched, "indexes": indexes}
        else:
            result |= _everything(root, settings, plan, quick, log)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    return result


def _everything(root: Path, settings: Settings, plan: Plan, quick: bool, log: Log) -> dict:
    embedder = create_embedder(settings)
    ingested, searched = _corpora(root, settings, plan, quick, embedder, log)
    synthetic, indexes = _synthetic(root, settings, plan.synthetic_chunks, plan.questions, log)
    chat = _chat(root, settings, plan, embedder, log)
    log("ocr: pages per second")
    ocr = bench_ocr(quick)
    searched |= synthetic
    return {"ingest": ingested, "search": searched, "indexes": indexes, "chat": chat, "ocr": ocr}


def _corpora(
    root: Path, settings: Settings, plan: Plan, quick: bool, embedder: Embedder, log: Log
) -> tuple[dict, dict]:
    ingested, searched = {}, {}
    for corpus in corpora(quick):
        work = Workdir(root / corpus.name / "docs", root / corpus.name / "data", root)
        ingested[corpus.name] = bench_ingest(corpus, work, settings, log)
        log(f"{corpus.name}: search latency")
        with open_index(work.data / "index", embedder) as searcher:
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


def _synthetic(
    root: Path, settings: Settings, sizes: tuple[int, ...], questions: int, log: Log
) -> tuple[dict, dict]:
    """Search latency on synthetic indexes, each built, measured and deleted in turn;
    with the lexical side of hybrid search as the previous release computed it."""
    searched, indexes = {}, {}
    for chunks in sizes:
        name = f"synthetic_{chunks // 1000}k"
        log(f"{name}: building {chunks:,} chunks")
        started = time.perf_counter()
        text = build_synthetic(root / name, chunks, settings.embedding_model)
        build_s = time.perf_counter() - started
        log(f"{name}: search latency")
        queries = text.queries(questions)
        with open_index(root / name, RandomEmbedder(settings.embedding_model)) as searcher:
            searched[name] = bench_search(searcher, queries)
            lexical_side = bench_lexical_side(searcher, queries)
        shutil.rmtree(root / name)
        indexes[name] = {
            "chunks": chunks,
            "build_s": round(build_s, 1),
            "hybrid_lexical_side": lexical_side,
        }
    return searched, indexes


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
