"""MiniLM in fp32 on ONNX Runtime: the local embedder where the CPU lacks bf16 hardware
(KB_EMBEDDING_RUNTIME=auto or onnx), and the one that embeds queries under bf16.

The model file is a fused graph (attention, LayerNorm and GELU each one kernel) that
`make install` builds from the shipped weights (kb.onnx_build). It computes what torch
computes (cosine to torch fp32 > 0.9999: only the summation order differs), so it keeps the
model's name: indexes and cached vectors stay valid whichever of the two made them.
"""

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.embedder import QUERY_BATCH, BaseEmbedder, minilm_tokenizer
from kb.errors import KBError
from kb.settings import DEFAULT_EMBEDDING_MODEL

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

TOKEN_BUDGET = 8192  # tokens per batch (padding included): big enough to keep cores busy


def models_dir() -> Path:
    """Where `make install` builds the models: inside the virtualenv, beside its packages."""
    return Path(sys.prefix) / "share" / "kb"


def model_file(folder: Path | None = None) -> Path:
    return (folder or models_dir()) / f"{DEFAULT_EMBEDDING_MODEL}.onnx"


class OnnxEmbedder(BaseEmbedder):
    name = DEFAULT_EMBEDDING_MODEL
    max_tokens = 256

    def __init__(self, folder: Path | None = None, batch_size: int = 32) -> None:
        super().__init__()
        self.path = model_file(folder)
        if not self.path.is_file():
            raise KBError(
                f"the ONNX embedding model {self.path} is not built: run `make install` "
                f"(or `python -m kb.onnx_build`), or set KB_EMBEDDING_RUNTIME=torch"
            )
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._sessions: dict[int, InferenceSession] = {}
        self._threads = os.cpu_count() or 1
        self._encoder = minilm_tokenizer()
        self._encoder.enable_truncation(self.max_tokens)  # as sentence-transformers does

    def embed(self, texts: list[str]) -> np.ndarray:
        # A query runs on one thread (see LocalEmbedder.embed); batches on every core.
        threads = 1 if len(texts) <= QUERY_BATCH else self._threads
        encodings = self._encoder.encode_batch(texts, add_special_tokens=True)
        ids = [e.ids for e in encodings]
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for batch in length_batches([len(i) for i in ids], self.batch_size):
            vectors[batch] = self._run([ids[i] for i in batch], threads)
        return vectors

    def _run(self, ids: list[list[int]], threads: int) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        with self._lock:  # the session already uses the cores; serialise callers
            (output,) = self._session(threads).run(
                None, {"input_ids": input_ids, "attention_mask": mask}
            )
        return np.asarray(output, dtype=np.float32)

    def _session(self, threads: int) -> "InferenceSession":
        if threads not in self._sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Idle threads sleep instead of spinning: the parser process needs the core.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[threads] = onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped by similar length (longest first), at most `batch_size` texts and
    about TOKEN_BUDGET padded tokens each, so padding costs almost nothing."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        last = batches[-1] if batches else []
        if last and len(last) < batch_size and lengths[last[0]] * (len(last) + 1) <= TOKEN_BUDGET:
            last.append(i)
        else:
            batches.append([i])
    return batches
