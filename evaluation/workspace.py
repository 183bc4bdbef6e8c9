"""A throwaway index for an evaluation run; embeddings come from the shared cache."""

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from uuid import uuid4

from evaluation.metrics import percentile
from ingest.pipeline import ingest
from ingest.progress import IngestProgress
from ingest.report import IngestReport
from kb.embedder import Embedder, create_embedder
from kb.index import KnowledgeIndex
from kb.index.generations import ServerGenerations
from kb.search import Searcher
from kb.settings import Settings
from kb.types import Hit, SearchMode

T = TypeVar("T")


@dataclass
class Workspace:
    settings: Settings
    searcher: Searcher
    report: IngestReport
    chunk_source: dict[str, str]  # chunk id -> source path

    def timed_rank(self, query: str, k: int, mode: SearchMode, latencies: list[float]) -> list[str]:
        ranked = _timed(lambda: self.searcher.rank(query, k, mode), latencies)
        return [chunk_id for chunk_id, _ in ranked]

    def timed_search(
        self, query: str, k: int, mode: SearchMode, latencies: list[float]
    ) -> list[Hit]:
        """The passages a user (or the agent's `search_docs`) gets."""
        return _timed(lambda: self.searcher.search(query, k, mode), latencies)


def _timed(call: Callable[[], T], latencies: list[float]) -> T:
    """`call()`, its wall time in ms appended to `latencies`."""
    started = time.perf_counter()
    result = call()
    latencies.append((time.perf_counter() - started) * 1000)
    return result


@contextmanager
def workspace(
    settings: Settings,
    docs: Path,
    embedder: Embedder | None = None,
    progress: IngestProgress | None = None,
) -> Iterator[Workspace]:
    """Index `docs` into a temporary data dir, sharing the embedding cache of `settings`;
    with an index on servers, into a knowledge base of its own there, dropped after."""
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp, _scratch(settings) as scratch:
        local = scratch.model_copy(
            update={"data_dir": Path(tmp), "cache_dir": settings.embedding_cache.parent}
        )
        embedder = embedder or create_embedder(local)
        report = ingest(local, docs, embedder=embedder, progress=progress)
        with KnowledgeIndex.open(local) as index:
            rows = index.catalog.db.execute(
                "SELECT c.chunk_id, d.path FROM chunks c JOIN documents d USING (doc_id)"
            )
            searcher = Searcher(index, embedder, passage_chars=settings.passage_chars)
            yield Workspace(local, searcher, report, dict(rows.fetchall()))


@contextmanager
def _scratch(settings: Settings) -> Iterator[Settings]:
    if not settings.index_url:
        yield settings
        return
    scratch = settings.model_copy(update={"index_name": f"kb_eval_{uuid4().hex[:12]}"})
    try:
        yield scratch
    finally:
        ServerGenerations(scratch).drop()


def latency_summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
    }
