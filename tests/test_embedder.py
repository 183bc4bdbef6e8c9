"""The int8 ONNX model `make install` builds: offline, close to fp32, and its own variant."""

import socket
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import ingest
from kb.embedder import CachedEmbedder, Embedder, LocalEmbedder, create_embedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.onnx_runtime import OnnxEmbedder, length_batches, model_file
from kb.settings import Settings
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


def test_the_built_model_loads_offline_and_matches_fp32(torch_fp32, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert model_file().is_file(), "run `make install` to build the int8 model"
    texts = real_texts()
    assert len(texts) >= 50
    int8 = OnnxEmbedder().embed(texts)
    cosines = np.sum(int8 * torch_fp32.embed(texts), axis=1)
    assert cosines.min() >= 0.99, sorted(cosines)[:5]
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)


def test_a_query_embeds_the_same_alone_or_in_a_batch():
    embedder = OnnxEmbedder()
    texts = real_texts()[:40]
    alone = embedder.embed([texts[7]])[0]
    assert float(alone @ embedder.embed(texts)[7]) > 0.999


def test_batches_group_similar_lengths_and_keep_every_text():
    lengths = [5, 200, 7, 180, 6, 190]
    batches = length_batches(lengths, batch_size=3)
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    assert [sorted(lengths[i] for i in batch) for batch in batches] == [[180, 190, 200], [5, 6, 7]]


def sample(docs: Path) -> None:
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")


def test_an_index_from_another_variant_asks_for_rebuild(settings, docs, torch_fp32):
    sample(docs)
    previous = settings.model_copy(update={"embedding_runtime": "torch"})
    ingest(previous, docs, embedder=torch_fp32)
    with pytest.raises(KBError) as raised:
        KnowledgeIndex.open(settings)  # the default: onnx-int8
    message = str(raised.value)
    assert "'all-MiniLM-L6-v2'" in message and "'all-MiniLM-L6-v2/onnx-int8'" in message
    assert "kb ingest --rebuild" in message and "KB_EMBEDDING_RUNTIME=torch" in message
    report = ingest(settings, docs, rebuild=True)
    assert report.added == ["notes.md"]
    with KnowledgeIndex.open(settings) as index:
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


def test_the_cache_never_serves_one_variant_to_the_other(tmp_path, torch_fp32):
    texts = real_texts()[:5]
    cache = tmp_path / "embeddings.sqlite"
    fp32 = CachedEmbedder(Counting(torch_fp32), cache)
    fp32.embed(texts)
    int8_counting = Counting(create_embedder(Settings(data_dir=tmp_path)))
    int8 = CachedEmbedder(int8_counting, cache)
    int8.embed(texts)
    assert int8_counting.embedded == 5  # nothing taken from the fp32 vectors
    int8.embed(texts)
    assert int8_counting.embedded == 5  # its own vectors are cached
    fp32.close()
    int8.close()
