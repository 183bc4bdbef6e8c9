"""Search latency per mode through the same API the CLI and the agent use.

Wall-clock percentiles, and the process's CPU time per query next to them: on a machine
shared with other work the CPU time still tells what the search itself costs.
"""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from evaluation.metrics import percentile
from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.index.catalog import Catalog, Owner
from kb.index.lexical import query_terms
from kb.index.vectors import release_vector_stores
from kb.search import Searcher
from kb.settings import Settings
from kb.types import SearchMode

TOP_K = 5
WARM_UP = 3


@contextmanager
def open_index(settings: Settings, embedder: Embedder) -> Iterator[Searcher]:
    """The index the settings name (embedded or on servers), searched with `embedder`."""
    index = KnowledgeIndex.open(settings)
    try:
        yield Searcher(index, embedder)
    finally:
        index.close()
        release_vector_stores()


def bench_search(searcher: Searcher, questions: list[str]) -> dict[str, dict[str, float]]:
    for question in questions[:WARM_UP]:  # model, Chroma segments and SQLite pages loaded
        searcher.search(question, TOP_K, SearchMode.HYBRID)
    return {mode: latency_stats(_timed(_in_mode(searcher, mode), questions)) for mode in SearchMode}


def _in_mode(searcher: Searcher, mode: SearchMode) -> Callable[[str], object]:
    return lambda query: searcher.search(query, TOP_K, mode)


def bench_lexical_side(searcher: Searcher, questions: list[str]) -> dict[str, dict[str, float]]:
    """The lexical side of one hybrid search (BM25 of the top passages and of the dense
    candidates), as this release computes it and as the previous one did (two passes
    over every passage sharing a term), on the same index and queries."""
    catalog, depth = searcher.index.catalog, searcher.fusion.depth
    dense = {q: _dense_candidates(searcher, q, depth) for q in questions}

    def now(query: str) -> None:
        catalog.passage_scores(query, depth, None, [o.row for o in dense[query].values()])

    def previous(query: str) -> None:
        _previous_lexical(catalog, query, depth, list(dense[query]))

    return {
        "previous": latency_stats(_timed(previous, questions)),
        "now": latency_stats(_timed(now, questions)),
    }


def _dense_candidates(searcher: Searcher, query: str, depth: int) -> dict[str, Owner]:
    vector = searcher.embedder.embed_queries([query])[0]
    found = searcher.index.vectors.query(vector, depth)
    return searcher.index.catalog.chunk_owners([chunk_id for chunk_id, _ in found])


def _previous_lexical(catalog: Catalog, query: str, depth: int, dense: list[str]) -> None:
    """The previous release's two FTS5 passes, kept here as the baseline."""
    match = " OR ".join(f'"{term}"' for term in query_terms(query))
    if not match:
        return
    select = (
        "SELECT c.chunk_id, -bm25(chunks_fts) FROM chunks_fts"
        " JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH :match"
    )
    top = dict(
        catalog.db.execute(f"{select} ORDER BY rank LIMIT :depth", {"match": match, "depth": depth})
    )
    rest = json.dumps([chunk_id for chunk_id in dense if chunk_id not in top])
    catalog.db.execute(
        f"{select} AND c.chunk_id IN (SELECT value FROM json_each(:rest))",
        {"match": match, "rest": rest},
    ).fetchall()


def _timed(search: Callable[[str], object], questions: list[str]) -> list[tuple[float, float]]:
    """(wall ms, CPU ms) per question."""
    latencies = []
    for question in questions:
        wall, cpu = time.perf_counter(), time.process_time()
        search(question)
        latencies.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))
    return latencies


def latency_stats(latencies: list[tuple[float, float]]) -> dict[str, float]:
    wall = [w for w, _ in latencies]
    cpu = [c for _, c in latencies]
    stats = {f"p{q}_ms": round(percentile(wall, q), 2) for q in (50, 95, 99)}
    return stats | {f"cpu_p{q}_ms": round(percentile(cpu, q), 2) for q in (50, 95)}
