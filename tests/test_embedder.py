"""The ONNX models `make install` builds: offline, matching torch fp32, variants kept apart."""

import socket

import numpy as np
import pytest

from ingest.pipeline import ingest
from kb.embedder import CachedEmbedder, Embedder, LocalEmbedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.onnx_runtime import OnnxEmbedder, length_batches
from kb.settings import ONNX, ONNX_INT8
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


@pytest.mark.parametrize(("runtime", "least"), [(ONNX, 0.9999), (ONNX_INT8, 0.99)])
def test_the_built_models_load_offline_and_match_torch_fp32(
    torch_fp32, monkeypatch, runtime, least
):
    def no_network(*args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    texts = real_texts()
    assert len(texts) >= 50
    built = OnnxEmbedder(runtime).embed(texts)
    cosines = np.sum(built * torch_fp32.embed(texts), axis=1)
    assert cosines.min() >= least, sorted(cosines)[:5]
    assert np.allclose(np.linalg.norm(built, axis=1), 1.0, atol=1e-4)


def test_a_query_embeds_the_same_alone_or_in_a_batch():
    embedder = OnnxEmbedder(ONNX)
    texts = real_texts()[:40]
    alone = embedder.embed([texts[7]])[0]
    assert float(alone @ embedder.embed(texts)[7]) > 0.9999


def test_batches_group_similar_lengths_and_keep_every_text():
    lengths = [5, 200, 7, 180, 6, 190]
    batches = length_batches(lengths, batch_size=3)
    assert [sorted(lengths[i] for i in batch) for batch in batches] == [[180, 190, 200], [5, 6, 7]]


def test_torch_and_onnx_fp32_share_an_index_and_int8_asks_for_rebuild(settings, docs):
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")
    ingest(settings.model_copy(update={"embedding_runtime": "torch"}), docs)
    KnowledgeIndex.open(settings).close()  # the default, ONNX fp32: the same model output
    int8 = settings.model_copy(update={"embedding_runtime": ONNX_INT8})
    with pytest.raises(KBError) as raised:
        KnowledgeIndex.open(int8)
    message = str(raised.value)
    assert "'all-MiniLM-L6-v2'" in message and "'all-MiniLM-L6-v2/onnx-int8'" in message
    assert "kb ingest --rebuild" in message and "KB_EMBEDDING_RUNTIME=onnx" in message
    assert ingest(int8, docs, rebuild=True).added == ["notes.md"]
    with KnowledgeIndex.open(int8) as index:
        assert index.catalog.get_meta("embedding_model") == "all-MiniLM-L6-v2/onnx-int8"


class Counting:
    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.max_tokens = inner, inner.name, inner.max_tokens
        self.embedded = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed(texts)


def test_the_cache_keeps_int8_vectors_apart_from_fp32(tmp_path, torch_fp32):
    texts, cache = real_texts()[:5], tmp_path / "embeddings.sqlite"
    onnx, int8 = Counting(OnnxEmbedder(ONNX)), Counting(OnnxEmbedder(ONNX_INT8))
    caches = [CachedEmbedder(inner, cache) for inner in (Counting(torch_fp32), onnx, int8)]
    for cached in caches:
        cached.embed(texts)
    assert onnx.embedded == 0  # fp32 on ONNX reuses torch fp32's vectors
    caches[2].embed(texts)
    assert int8.embedded == 5  # never served fp32 vectors; its own are cached
    for cached in caches:
        cached.close()
