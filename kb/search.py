"""Search the knowledge index: dense (Chroma), lexical (FTS5 BM25) or both fused.

This is the API the CLI, the evaluation harness and the chat agent's `search_docs` share.
"""

import fnmatch
from dataclasses import dataclass

import numpy as np

from kb.catalog import ChunkRow
from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.types import Hit, SearchMode


@dataclass(frozen=True)
class FusionParams:
    """How hybrid mode fuses the dense and lexical rankings (tuned on SciFact train).

    `rrf`: weighted reciprocal-rank fusion, sum of weight / (k + rank).
    `convex`: alpha * dense + (1 - alpha) * lexical, each score min-max normalised over
    its candidates (a candidate missing from one side gets 0 there).
    """

    method: str = "convex"
    k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    alpha: float = 0.7
    depth: int = 100  # candidates taken from each retriever


class Searcher:
    def __init__(
        self, index: KnowledgeIndex, embedder: Embedder, fusion: FusionParams | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or FusionParams()

    def search(
        self, query: str, k: int = 5, mode: SearchMode = "hybrid", source: str | None = None
    ) -> list[Hit]:
        ranked = self.rank(query, k, mode, source)
        rows = self.index.catalog.get_chunks([chunk_id for chunk_id, _ in ranked])
        return [_hit(rows[cid], score) for cid, score in ranked if cid in rows]

    def rank(
        self, query: str, k: int, mode: SearchMode, source: str | None = None
    ) -> list[tuple[str, float]]:
        """The best `k` (chunk id, score) pairs that are live in the catalog."""
        if not query.strip() or k <= 0:
            return []
        doc_ids = self._doc_ids(source) if source else None
        if mode == "lexical":
            return self.index.catalog.lexical_search(query, k, doc_ids)
        if mode == "dense":
            return self._live(self.index.vectors.query(self._vector(query), k + 8, doc_ids))[:k]
        dense, lexical = self.candidates(query, max(k, self.fusion.depth), doc_ids)
        return fuse(dense, lexical, self.fusion)[:k]

    def candidates(
        self, query: str, depth: int, doc_ids: list[str] | None = None
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """Dense and lexical candidates, each side scored for every candidate of the other:
        a passage just past one retriever's cut-off still counts with its real score."""
        vector = self._vector(query)
        dense = dict(self._live(self.index.vectors.query(vector, depth + 8, doc_ids))[:depth])
        lexical = dict(self.index.catalog.lexical_search(query, depth, doc_ids))
        dense |= self.index.vectors.similarities(vector, [c for c in lexical if c not in dense])
        lexical |= self.index.catalog.lexical_scores(query, [c for c in dense if c not in lexical])
        return list(dense.items()), list(lexical.items())

    def _vector(self, query: str) -> np.ndarray:
        return self.embedder.embed([query])[0]

    def _live(self, found: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Drop vectors of chunks not (or no longer) in the catalog: a document being
        replaced, or orphans of a crash awaiting clean-up."""
        live = self.index.catalog.live_chunk_ids([chunk_id for chunk_id, _ in found])
        return [(cid, score) for cid, score in found if cid in live]

    def _doc_ids(self, pattern: str) -> list[str]:
        return [
            doc.doc_id
            for doc in self.index.catalog.documents()
            if fnmatch.fnmatch(doc.path, pattern)
            or fnmatch.fnmatch(doc.path.rsplit("/", 1)[-1], pattern)
        ]


def fuse(
    dense: list[tuple[str, float]], lexical: list[tuple[str, float]], params: FusionParams
) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    if params.method == "convex":
        sides = ((dense, params.alpha), (lexical, 1.0 - params.alpha))
        for ranking, weight in sides:
            for chunk_id, score in _normalised(ranking):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * score
    else:
        sides = ((dense, params.dense_weight), (lexical, params.lexical_weight))
        for ranking, weight in sides:
            for rank, (chunk_id, _) in enumerate(ranking, start=1):
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (params.k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def _normalised(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    if not ranking:
        return []
    values = [score for _, score in ranking]
    low, span = min(values), (max(values) - min(values)) or 1.0
    return [(chunk_id, (score - low) / span) for chunk_id, score in ranking]


def _hit(row: ChunkRow, score: float) -> Hit:
    return Hit(
        chunk_id=row.chunk_id,
        doc_id=row.doc_id,
        source=row.source,
        title=row.title,
        page=row.page,
        heading=row.heading,
        score=round(score, 6),
        text=row.text,
    )
