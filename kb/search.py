"""Search the knowledge index: dense (Chroma), lexical (FTS5 BM25) or both fused.

This is the API the CLI, the evaluation harness and the chat agent's `search_docs` share.
"""

import fnmatch
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Protocol

import numpy as np

from kb.collections import is_scratch
from kb.embedder import Embedder
from kb.index import KnowledgeIndex
from kb.index.catalog import ChunkRow, Owner
from kb.index.tokens import text_terms
from kb.index.vectors import vector_ids
from kb.settings import PASSAGE_CHARS
from kb.types import DocFilter, Hit, SearchMode


class FusionMethod(StrEnum):
    CONVEX = "convex"
    RRF = "rrf"


@dataclass(frozen=True)
class FusionParams:
    """How hybrid mode fuses dense and lexical evidence (tuned on SciFact train).

    `convex`: alpha * dense + (1 - alpha) * lexical, where the lexical side gives
    `document_weight` of its share to BM25 of the passage's whole document and the rest
    to BM25 of the passage. Each score is min-max normalised over the candidates (a
    candidate missing from a side gets 0 there).
    `rrf`: weighted reciprocal-rank fusion of the two passage rankings, sum of
    weight / (k + rank); kept as the reference the convex fusion is measured against.
    """

    method: FusionMethod = FusionMethod.CONVEX
    k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    alpha: float = 0.65
    document_weight: float = 0.9
    name_weight: float = 0.3  # added for the share of a document's file name the query says
    depth: int = 100  # candidates taken from each retriever

    def __post_init__(self) -> None:
        FusionMethod(self.method)  # an unknown method is an error, never silently RRF


@dataclass(frozen=True)
class Candidates:
    """One query's evidence, chunk id -> raw score, for every candidate passage of either
    retriever: a passage just past one retriever's cut-off still counts with its real
    score on that side."""

    dense: dict[str, float]  # cosine similarity of the passage
    lexical: dict[str, float]  # BM25 of the passage (absent: no query term)
    document: dict[str, float]  # BM25 of the passage's whole document (absent: no term)
    named: dict[str, float] = field(default_factory=dict)  # share of its file's name said


class DocumentSearch(Protocol):
    """What the chat agent searches with: a Searcher, or the server's LiveSearcher."""

    def search(
        self,
        query: str,
        k: int = 5,
        mode: SearchMode = SearchMode.HYBRID,
        source: str | None = None,
        collections: frozenset[str] | None = None,
    ) -> list[Hit]: ...


PASSAGE_REACH = 5  # neighbours read on either side of a hit (SEC's chunks: ~540 characters)
PASSAGE_DEPTH = 3  # chunks ranked per passage asked for: neighbours collapse into one


class Searcher:
    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: Embedder,
        fusion: FusionParams | None = None,
        passage_chars: int = PASSAGE_CHARS,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or FusionParams()
        self.passage_chars = passage_chars  # 0: a hit is its chunk alone

    def search(
        self,
        query: str,
        k: int = 5,
        mode: SearchMode = SearchMode.HYBRID,
        source: str | None = None,
        collections: frozenset[str] | None = None,
    ) -> list[Hit]:
        """The best `k` passages. `collections`: only documents of these (None: every
        collection)."""
        depth = k * PASSAGE_DEPTH if self.passage_chars else k
        catalog = self.index.catalog
        with catalog.snapshot():
            ranked = self.rank(query, depth, mode, source, collections)
            ids = [chunk_id for chunk_id, _ in ranked]
            if not self.passage_chars:
                rows = catalog.get_chunks(ids)
                return [_hit(rows[c], [rows[c]], score) for c, score in ranked if c in rows]
            near = catalog.chunks_near(ids, PASSAGE_REACH)  # the hits are among them
        found = [(near[chunk_id], score) for chunk_id, score in ranked if chunk_id in near]
        return self._passages(found, list(near.values()), k)

    def _passages(
        self, found: list[tuple[ChunkRow, float]], near: list[ChunkRow], k: int
    ) -> list[Hit]:
        """Each ranked chunk with its neighbours, best first; a chunk already shown in a
        better hit's passage is not a hit of its own, so `k` passages say `k` things."""
        shown: set[str] = set()
        hits = []
        for row, score in found:
            if row.chunk_id in shown:
                continue
            chunks = passage(row, near, self.passage_chars, shown)
            shown |= {chunk.chunk_id for chunk in chunks}
            hits.append(_hit(row, chunks, score))
            if len(hits) == k:
                break
        return hits

    def rank(
        self,
        query: str,
        k: int,
        mode: SearchMode,
        source: str | None = None,
        collections: frozenset[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The best `k` (chunk id, score) pairs that are live in the catalog."""
        mode = SearchMode(mode)  # an unknown mode is an error, never silently hybrid
        query = _encodable(query)
        if not query.strip() or k <= 0:
            return []
        within = self._filter(source, collections)
        if mode is SearchMode.LEXICAL:
            return self.index.catalog.lexical_search(query, k, within)
        if mode is SearchMode.DENSE:
            found, _ = self._dense(self._vector(query), k, within)
            return found
        candidates = self.candidates(query, max(k, self.fusion.depth), within)
        return fuse(candidates, self.fusion)[:k]

    def candidates(self, query: str, depth: int, within: DocFilter | None = None) -> Candidates:
        """The top `depth` passages of each retriever, each scored on every side."""
        catalog = self.index.catalog
        vector = self._vector(query)
        found, owners = self._dense(vector, depth, within)
        dense = dict(found)
        rows = catalog.passage_scores(query, depth, within, [o.row for o in owners.values()])
        known = {owner.row for owner in owners.values()}
        lexical_only = catalog.owners_by_row([row for row in rows if row not in known])
        owners |= {owner.chunk_id: owner for owner in lexical_only.values()}
        lexical = {c: rows[owner.row] for c, owner in owners.items() if owner.row in rows}
        unscored = [v for o in lexical_only.values() for v in vector_ids(o.chunk_id, o.vectors)]
        dense |= self.index.vectors.similarities(vector, unscored)
        doc_ids = sorted({o.doc_id for o in owners.values()})
        documents = catalog.document_scores(query, doc_ids)
        document = {c: documents[o.doc_id] for c, o in owners.items() if o.doc_id in documents}
        names = named(query, catalog.document_paths(doc_ids))
        return Candidates(
            dense,
            lexical,
            document,
            {c: names[o.doc_id] for c, o in owners.items() if o.doc_id in names},
        )

    def _vector(self, query: str) -> np.ndarray:
        return np.asarray(self.embedder.embed_queries([query])[0])

    def _dense(
        self, vector: np.ndarray, k: int, within: DocFilter | None
    ) -> tuple[list[tuple[str, float]], dict[str, Owner]]:
        """The best `k` vectors whose chunks are live in the catalog, and their owners.
        Vectors of a document being replaced, or orphans of a crash awaiting clean-up,
        are skipped."""
        found = self.index.vectors.query(vector, k + 8, within)
        owners = self.index.catalog.chunk_owners([chunk_id for chunk_id, _ in found])
        live = [(cid, score) for cid, score in found if cid in owners][:k]
        return live, {cid: owners[cid] for cid, _ in live}

    def _filter(self, pattern: str | None, collections: frozenset[str] | None) -> DocFilter | None:
        """The documents a search is restricted to (both retrievers filter inside, so `k`
        is still filled); None: no restriction. A thread's scratch space is searched only
        when it is named: "every collection" leaves its (few) documents out."""
        catalog = self.index.catalog
        if collections is None and not pattern:
            scratch = catalog.scratch_doc_ids()
            return DocFilter(scratch, excluded=True) if scratch else None
        if collections is None:
            collections = self._listed()
        chosen = catalog.documents(collections=collections)
        return DocFilter(
            tuple(
                doc.doc_id
                for doc in chosen
                if not pattern
                or fnmatch.fnmatch(doc.path, pattern)
                or fnmatch.fnmatch(doc.path.rsplit("/", 1)[-1], pattern)
            )
        )

    def _listed(self) -> frozenset[str]:
        """Every collection but the scratch spaces."""
        names = self.index.catalog.collection_names()
        return frozenset(name for name in names if not is_scratch(name))


def fuse(candidates: Candidates, params: FusionParams) -> list[tuple[str, float]]:
    """Candidates in fused order, best first, with their fused scores."""
    scores = dict.fromkeys(candidates.dense | candidates.lexical, 0.0)
    if params.method is FusionMethod.CONVEX:
        lexical_share = 1.0 - params.alpha
        sides = (
            (candidates.dense, params.alpha),
            (candidates.lexical, lexical_share * (1.0 - params.document_weight)),
            (candidates.document, lexical_share * params.document_weight),
        )
        for side, weight in sides:
            for chunk_id, score in _normalised(side).items():
                scores[chunk_id] += weight * score
        for chunk_id, share in candidates.named.items():
            scores[chunk_id] += params.name_weight * share
    else:
        rankings = (
            (candidates.dense, params.dense_weight),
            (candidates.lexical, params.lexical_weight),
        )
        for side, weight in rankings:
            ranking = sorted(side, key=side.__getitem__, reverse=True)
            for rank, chunk_id in enumerate(ranking, start=1):
                scores[chunk_id] += weight / (params.k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def named(query: str, paths: dict[str, str]) -> dict[str, float]:
    """Document id -> the share of its file name's words (as the lexical index stems them)
    that the query says, where above 0: people name a document by its file, "the Q3 2022
    10-Q" for `2022 Q3 MSFT.pdf`, and such words are too common in the texts for BM25."""
    (asked,) = text_terms([query])
    shares = {doc_id: _share(asked, _name_terms(path)) for doc_id, path in paths.items()}
    return {doc_id: share for doc_id, share in shares.items() if share}


def _share(asked: set[str], name: frozenset[str]) -> float:
    return len(name & asked) / len(name) if name else 0.0


@lru_cache(maxsize=65_536)
def _name_terms(path: str) -> frozenset[str]:
    """A file name's terms (every search asks them for its candidates' documents)."""
    return frozenset(text_terms([PurePosixPath(path).stem])[0])


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = (high - low) or 1.0
    return {chunk_id: (score - low) / span for chunk_id, score in scores.items()}


def _encodable(text: str) -> str:
    """Lone surrogates (undecodable bytes of a command-line argument) become "?": the
    tokenizer and SQLite take only valid Unicode."""
    return text.encode("utf-8", "replace").decode("utf-8")


def passage(hit: ChunkRow, near: list[ChunkRow], budget: int, shown: set[str]) -> list[ChunkRow]:
    """`hit` with the chunks before it in its section (same document, page or other
    locator, and heading path), then those after it, while the text fits in `budget`
    characters and no chunk is `shown` already. Before comes first: a table's caption and
    its period headers ("Three Months Ended July 1, 2023") precede its rows."""
    place = (hit.doc_id, hit.locator, hit.heading)
    by_ord = {row.ord: row for row in near if (row.doc_id, row.locator, row.heading) == place}
    chosen = [hit]
    size = len(hit.text)
    for step in (-1, 1):
        at = hit.ord + step
        while (row := by_ord.get(at)) and row.chunk_id not in shown:
            if size + len(row.text) > budget:
                break
            chosen.append(row)
            size += len(row.text)
            at += step
    return sorted(chosen, key=lambda row: row.ord)


def _hit(row: ChunkRow, chunks: list[ChunkRow], score: float) -> Hit:
    """The hit of `row`, shown with `chunks` (its passage, in document order)."""

    def joined(part: list[ChunkRow]) -> str:
        return "\n\n".join(chunk.text for chunk in part)

    return Hit(
        chunk_id=row.chunk_id,
        doc_id=row.doc_id,
        source=row.source,
        title=row.title,
        locator=row.locator,
        heading=row.heading,
        score=round(score, 6),
        text=row.text,
        before=joined([chunk for chunk in chunks if chunk.ord < row.ord]),
        after=joined([chunk for chunk in chunks if chunk.ord > row.ord]),
    )
