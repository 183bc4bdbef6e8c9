"""Search latency per mode through the same API the CLI and the agent use."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evaluation.metrics import percentile
from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.types import SearchMode
from kb.vectors import release_vector_stores

TOP_K = 5
WARM_UP = 3


@contextmanager
def open_index(index_dir: Path, embedder: Embedder) -> Iterator[Searcher]:
    index = KnowledgeIndex(index_dir, embedder.name)
    try:
        yield Searcher(index, embedder)
    finally:
        index.close()
        release_vector_stores()


def bench_search(searcher: Searcher, questions: list[str]) -> dict[str, dict[str, float]]:
    for question in questions[:WARM_UP]:  # model, Chroma segments and SQLite pages loaded
        searcher.search(question, TOP_K, SearchMode.HYBRID)
    return {mode: latency_stats(_timed(searcher, questions, mode)) for mode in SearchMode}


def _timed(searcher: Searcher, questions: list[str], mode: SearchMode) -> list[float]:
    latencies = []
    for question in questions:
        started = time.perf_counter()
        searcher.search(question, TOP_K, mode)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def latency_stats(latencies: list[float]) -> dict[str, float]:
    return {f"p{q}_ms": round(percentile(latencies, q), 2) for q in (50, 95, 99)}
