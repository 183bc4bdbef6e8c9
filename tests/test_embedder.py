"""The ONNX model `make install` builds: offline, the same vectors as torch fp32."""

import socket

import numpy as np
import pytest

from ingest.pipeline import ingest
from kb.embedder import CachedEmbedder, Embedder, LocalEmbedder, create_embedder
from kb.index import KnowledgeIndex
from kb.onnx_runtime import OnnxEmbedder, length_batches
from kb.search import Searcher
from kb.types import SearchMode
from tests.conftest import REPO

SAMPLE_DOCS = REPO / "data" / "docs"


def real_texts() -> list[str]:
    """Paragraphs of the sample docs, short and long (the chunker keeps them <= 256 tokens)."""
    paragraphs = [
        part.strip()
        for path in sorted(SAMPLE_DOCS.glob("*.md"))
        for part in path.read_text(encoding="utf-8").split("\n\n")
        if len(part.strip()) > 20
    ]
    return paragraphs[:120]


@pytest.fixture(scope="module")
def torch_fp32() -> LocalEmbedder:
    return LocalEmbedder()


def test_the_built_model_loads_offline_and_matches_torch_fp32(torch_fp32, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    texts = real_texts()
    assert len(texts) >= 50
    built = OnnxEmbedder().embed(texts)
    cosines = np.sum(built * torch_fp32.embed(texts), axis=1)
    assert cosines.min() >= 0.9999, sorted(cosines)[:5]
    assert np.allclose(np.linalg.norm(built, axis=1), 1.0, atol=1e-4)


def test_a_query_embeds_the_same_alone_or_in_a_batch():
    embedder = OnnxEmbedder()
    texts = real_texts()[:40]
    alone = embedder.embed([texts[7]])[0]
    assert float(alone @ embedder.embed(texts)[7]) > 0.9999


def test_batches_group_similar_lengths_and_keep_every_text():
    lengths = [5, 200, 7, 180, 6, 190]
    batches = length_batches(lengths, batch_size=3)
    assert [sorted(lengths[i] for i in batch) for batch in batches] == [[180, 190, 200], [5, 6, 7]]


def test_an_index_built_on_torch_is_searched_on_onnx_without_rebuild(settings, docs):
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")
    ingest(settings.model_copy(update={"embedding_runtime": "torch"}), docs)
    assert settings.embedding_runtime == "onnx"  # the default
    with KnowledgeIndex.open(settings) as index:
        hits = Searcher(index, create_embedder(settings)).search(
            "how are retries handled", k=1, mode=SearchMode.DENSE
        )
    assert [hit.source for hit in hits] == ["notes.md"]


class Counting:
    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.max_tokens = inner, inner.name, inner.max_tokens
        self.embedded = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed(texts)


def test_vectors_cached_by_torch_serve_onnx(tmp_path, torch_fp32):
    texts, cache = real_texts()[:5], tmp_path / "embeddings.sqlite"
    torch_counting, onnx_counting = Counting(torch_fp32), Counting(OnnxEmbedder())
    caches = [CachedEmbedder(inner, cache) for inner in (torch_counting, onnx_counting)]
    for cached in caches:
        cached.embed(texts)
        cached.close()
    assert (torch_counting.embedded, onnx_counting.embedded) == (5, 0)
