"""A synthetic index: generated text and random unit vectors, written without a model.

Words are drawn from a generated vocabulary with Zipf-distributed frequencies, as in real
text. Queries draw their words from the same distribution without its 100 most frequent
words, which act as stopwords do in real text (and real queries drop those).
"""

import time
from operator import itemgetter

import numpy as np

from kb.index import DocumentWrite, KnowledgeIndex
from kb.index.catalog import DocumentRecord, NewChunk
from kb.settings import Settings

DIMENSION = 384
VOCABULARY = 30_000
WORDS_PER_CHUNK = 110
CHUNKS_PER_DOCUMENT = 100
DOCUMENTS_PER_WRITE = 100  # 10,000 chunks per catalog transaction and Chroma upsert
STOPWORD_RANKS = 100
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["an", "er", "in", "on"]


class RandomEmbedder:
    """Random unit vectors in the shape of a real embedder (for query vectors)."""

    max_tokens = 256

    def __init__(self, name: str, seed: int = 1) -> None:
        self.name = name
        self._rng = np.random.default_rng(seed)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(text.split()) + 2 for text in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        return unit_vectors(self._rng, len(texts))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ZipfText:
    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self.words = _vocabulary(rng)
        weights = 1.0 / (np.arange(len(self.words)) + 2.7)  # Zipf-Mandelbrot, s = 1
        self._p = weights / weights.sum()
        tail = weights[STOPWORD_RANKS:]
        self._query_p = tail / tail.sum()

    def passages(self, count: int) -> list[str]:
        ids = self._rng.choice(len(self.words), size=(count, WORDS_PER_CHUNK), p=self._p)
        return [" ".join(itemgetter(*row)(self.words)) for row in ids.tolist()]

    def queries(self, count: int) -> list[str]:
        sizes = self._rng.integers(3, 8, size=count)
        tail = self.words[STOPWORD_RANKS:]
        return [
            " ".join(tail[i] for i in self._rng.choice(len(tail), size=n, p=self._query_p))
            for n in sizes
        ]


def _vocabulary(rng: np.random.Generator) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        parts = rng.choice(len(SYLLABLES), size=rng.integers(1, 5))
        words["".join(SYLLABLES[p] for p in parts)] = None
    return list(words)


def build_synthetic(settings: Settings, chunks: int, seed: int = 0) -> ZipfText:
    """Write `chunks` chunks into the (empty) index the settings name, embedded or on
    servers, through the product's write path; returns the text generator (for queries)."""
    rng = np.random.default_rng(seed)
    text = ZipfText(rng)
    index = KnowledgeIndex.open(settings)
    try:
        documents = -(-chunks // CHUNKS_PER_DOCUMENT)
        for first in range(0, documents, DOCUMENTS_PER_WRITE):
            last = min(first + DOCUMENTS_PER_WRITE, documents)
            index.write_documents([_write(n, text, rng, chunks) for n in range(first, last)])
    finally:
        index.close()
    return text


def _write(n: int, text: ZipfText, rng: np.random.Generator, total: int) -> DocumentWrite:
    count = min(CHUNKS_PER_DOCUMENT, total - n * CHUNKS_PER_DOCUMENT)
    title = f"Synthetic document {n}"
    record = DocumentRecord(
        doc_id=f"syn{n:06d}",
        root="synthetic",
        path=f"doc{n:06d}.md",
        size=0,
        mtime_ns=0,
        content_hash=f"synthetic-{n}",
        title=title,
        error=None,
        indexed_at=time.time(),
    )
    chunks = [
        NewChunk(f"syn{n:06d}-{i}", title, "", None, passage)
        for i, passage in enumerate(text.passages(count))
    ]
    return DocumentWrite(record, chunks, unit_vectors(rng, count))
