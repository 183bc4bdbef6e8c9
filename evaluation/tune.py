"""Tune hybrid fusion on a BEIR split: `python -m evaluation.tune DATASET --split train`.

Dense and lexical candidates (each scored on both sides) are computed once per query;
every fusion setting is then scored on them (nDCG@10), so the grid takes seconds.
"""

import argparse
import itertools
import tempfile
from pathlib import Path

from evaluation.beir import load_qrels, load_queries, rank_documents, write_corpus
from evaluation.metrics import ndcg_at
from evaluation.workspace import workspace
from kb.search import FusionParams, fuse
from kb.settings import Settings

DEPTH = FusionParams().depth


def grid() -> list[FusionParams]:
    rrf = [
        FusionParams("rrf", k=k, dense_weight=w, depth=d)
        for k, w, d in itertools.product(
            (10, 20, 30, 60, 100), (0.6, 0.8, 1.0, 1.25, 1.5), (50, 100, 300)
        )
    ]
    convex = [
        FusionParams("convex", alpha=a / 20, depth=d)
        for a, d in itertools.product(range(4, 17), (50, 100, 300))
    ]
    return rrf + convex


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    qrels = load_qrels(args.dataset, args.split)
    queries = load_queries(args.dataset, set(qrels))
    with tempfile.TemporaryDirectory() as corpus:
        write_corpus(args.dataset, Path(corpus))
        with workspace(Settings(), Path(corpus)) as space:
            runs = {qid: space.searcher.candidates(text, DEPTH) for qid, text in queries.items()}
            results = []
            for params in grid():
                total = 0.0
                for qid, (dense, lexical) in runs.items():
                    fused = fuse(dense, lexical, params)
                    ranked = rank_documents([cid for cid, _ in fused], space)
                    total += ndcg_at(ranked, qrels[qid], 10)
                results.append((total / len(runs), params))
    for score, params in sorted(results, key=lambda r: -r[0])[:15]:
        print(f"{score:.4f}  {params}")


if __name__ == "__main__":
    main()
