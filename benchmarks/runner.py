"""One bench run: every section in turn, in scratch folders, into one JSON object."""

import datetime as dt
import json
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
from benchmarks.search import bench_search, open_index
from benchmarks.synthetic import RandomEmbedder, build_synthetic
from ingest.pipeline import ingest
from kb.embedder import Embedder, create_embedder
from kb.settings import DEFAULT_EMBEDDING_MODEL, Settings

Log = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    questions: int  # per index and mode
    synthetic_chunks: int
    chat: Load


FULL = Plan(questions=200, synthetic_chunks=100_000, chat=Load(30, 16, 3))
QUICK = Plan(questions=12, synthetic_chunks=10_000, chat=Load(5, 4, 1))


def run_bench(settings: Settings, quick: bool, log: Log) -> dict:
    started = time.perf_counter()
    log = _with_clock(log, started)
    plan = QUICK if quick else FULL
    embedder = create_embedder(settings)
    result: dict = {"machine": machine_info(), "duration_s": 0.0, "quick": quick}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        root = Path(tmp)
        ingested, searched = _corpora(root, settings, plan, quick, embedder, log)
        name, synthetic = _synthetic(root, settings, plan, log)
        searched[name] = synthetic.pop("modes")
        chat = _chat(root, settings, plan, embedder, log)
    log("ocr: pages per second")
    ocr = bench_ocr(quick)
    result |= {"ingest": ingested, "search": searched, "indexes": {name: synthetic}, "chat": chat}
    result["ocr"] = ocr
    result["duration_s"] = round(time.perf_counter() - started, 1)
    return result


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


def _synthetic(root: Path, settings: Settings, plan: Plan, log: Log) -> tuple[str, dict]:
    name = f"synthetic_{plan.synthetic_chunks // 1000}k"
    log(f"{name}: building {plan.synthetic_chunks:,} chunks")
    started = time.perf_counter()
    text = build_synthetic(root / name, plan.synthetic_chunks, settings.embedding_model)
    build_s = time.perf_counter() - started
    log(f"{name}: search latency")
    with open_index(root / name, RandomEmbedder(settings.embedding_model)) as searcher:
        modes = bench_search(searcher, text.queries(plan.questions))
    return name, {"chunks": plan.synthetic_chunks, "build_s": round(build_s, 1), "modes": modes}


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
