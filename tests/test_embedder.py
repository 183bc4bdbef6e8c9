"""The local model's runtimes: the ONNX graph `make install` builds (offline, the same
vectors as torch fp32) and bf16 (close to fp32, and recorded as a variant of its own)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from ingest.pipeline import ingest
from kb import settings as settings_module
from kb.embedder import Bf16Embedder, CachedEmbedder, LocalEmbedder, create_embedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.onnx_runtime import OnnxEmbedder, length_batches
from kb.search import Searcher
from kb.settings import Settings
from kb.types import SearchMode
from tests.conftest import REPO
from tests.helpers import CountingEmbedder

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


def test_bf16_vectors_are_close_to_fp32_but_not_the_same(torch_fp32):
    texts = real_texts()
    bf16 = Bf16Embedder().embed(texts)
    cosines = np.sum(bf16 * torch_fp32.embed(texts), axis=1)
    assert cosines.min() >= 0.999, sorted(cosines)[:5]  # the bar is 0.99
    assert cosines.min() < 0.999999  # bf16 arithmetic did run
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    ("flags", "runtime", "variant"),
    [
        ({"avx2", "avx512f"}, "onnx", "all-MiniLM-L6-v2"),
        ({"avx512f", "avx512_bf16"}, "bf16", "all-MiniLM-L6-v2@bf16"),
        ({"amx_tile", "amx_bf16"}, "bf16", "all-MiniLM-L6-v2@bf16"),
    ],
)
def test_auto_embeds_in_bf16_only_where_the_cpu_computes_it(monkeypatch, flags, runtime, variant):
    monkeypatch.setattr(settings_module, "cpu_flags", lambda: frozenset(flags))
    auto = Settings()
    assert (auto.local_runtime, auto.embedding_variant) == (runtime, variant)
    torch = Settings(embedding_runtime="torch")
    assert (torch.local_runtime, torch.embedding_variant) == ("torch", "all-MiniLM-L6-v2")


def _searched(settings: Settings, query: str) -> list[str]:
    with KnowledgeIndex.open(settings) as index:
        hits = Searcher(index, create_embedder(settings)).search(query, k=1, mode=SearchMode.DENSE)
    return [hit.source for hit in hits]


def test_an_index_built_on_torch_is_searched_on_onnx_without_rebuild(settings, docs):
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")
    ingest(settings.model_copy(update={"embedding_runtime": "torch"}), docs)
    onnx = settings.model_copy(update={"embedding_runtime": "onnx"})
    assert _searched(onnx, "how are retries handled") == ["notes.md"]


def test_fp32_searches_a_bf16_index_but_asks_for_a_rebuild_to_write(settings, docs):
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")
    bf16 = settings.model_copy(update={"embedding_runtime": "bf16"})
    onnx = settings.model_copy(update={"embedding_runtime": "onnx"})
    ingest(bf16, docs)
    assert _searched(onnx, "how are retries handled") == ["notes.md"]
    (docs / "more.md").write_text("# More\n\nThe wombat protocol handles timeouts.\n")
    with pytest.raises(KBError) as refused:
        ingest(onnx, docs)
    assert "bf16 vectors" in str(refused.value) and "--rebuild" in str(refused.value)
    assert "KB_EMBEDDING_RUNTIME=bf16" in str(refused.value)
    assert _searched(bf16, "how are timeouts handled") == ["notes.md"]  # nothing written
    ingest(onnx, docs, rebuild=True)
    assert _searched(onnx, "how are timeouts handled") == ["more.md"]
    with pytest.raises(KBError, match="KB_EMBEDDING_RUNTIME=onnx"):
        ingest(bf16, docs)


def test_searching_a_bf16_index_from_the_cli_does_not_load_torch(settings, docs):
    """A query runs on the fp32 graph: `kb search` pays no PyTorch start-up."""
    (docs / "notes.md").write_text("# Notes\n\nThe quokka protocol handles retries.\n")
    ingest(settings.model_copy(update={"embedding_runtime": "bf16"}), docs)
    script = (
        "import json, sys\n"
        "from cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script, "search", "quokka retries", "--json"],
        cwd=REPO,
        env={**os.environ, "KB_EMBEDDING_RUNTIME": "bf16"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    *found, loaded = finished.stdout.strip().splitlines()
    assert "notes.md" in "".join(found)
    assert json.loads(loaded) == []


def test_vectors_cached_by_torch_serve_onnx_but_not_bf16(tmp_path, torch_fp32):
    texts, cache = real_texts()[:5], tmp_path / "embeddings.sqlite"
    counting = [CountingEmbedder(e) for e in (torch_fp32, OnnxEmbedder(), Bf16Embedder())]
    for embedder in counting:
        cached = CachedEmbedder(embedder, cache)
        cached.embed(texts)
        cached.close()
    assert [len(embedder.embedded) for embedder in counting] == [5, 0, 5]
