"""Tune hybrid fusion on a BEIR split: `python -m evaluation.tune DATASET --split train`.

Candidates (every passage scored on every side) are computed once per query; each
fusion setting is then scored on them (nDCG@10) without searching again.
"""

import argparse
import itertools
import tempfile
from pathlib import Path

from evaluation.beir import load_qrels, load_queries, rank_documents, write_corpus
from evaluation.metrics import ndcg_at
from evaluation.workspace import workspace
from kb.search import Candidates, FusionMethod, FusionParams, fuse
from kb.settings import Settings

DEPTH = 300  # the deepest setting in the grid; shallower ones take a prefix


def grid() -> list[FusionParams]:
    rrf = [
        FusionParams(FusionMethod.RRF, k=k, dense_weight=w, depth=d)
        for k, w, d in itertools.product(
            (10, 20, 30, 60, 100), (0.6, 0.8, 1.0, 1.25, 1.5), (50, 100, 300)
        )
    ]
    # The document weight stops at 0.9: a passage's own BM25 keeps a share, so an exact
    # term lifts the passage that has it above the rest of its document.
    convex = [
        FusionParams(FusionMethod.CONVEX, alpha=a / 20, document_weight=w / 10, depth=d)
        for a, w, d in itertools.product(range(8, 17), range(0, 10), (50, 100, 300))
    ]
    return rrf + convex


def truncated(candidates: Candidates, depth: int) -> Candidates:
    """The candidates a search at a shallower depth would have had."""
    if depth >= DEPTH:
        return candidates
    keep = set(_top(candidates.dense, depth)) | set(_top(candidates.lexical, depth))

    def kept(scores: dict[str, float]) -> dict[str, float]:
        return {chunk_id: score for chunk_id, score in scores.items() if chunk_id in keep}

    return Candidates(
        kept(candidates.dense),
        kept(candidates.lexical),
        kept(candidates.document),
        kept(candidates.named),
    )


def _top(scores: dict[str, float], depth: int) -> list[str]:
    return sorted(scores, key=scores.__getitem__, reverse=True)[:depth]


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
            depths = {params.depth for params in grid()}
            at = {d: {qid: truncated(c, d) for qid, c in runs.items()} for d in depths}
            results = []
            for params in grid():
                total = 0.0
                for qid, candidates in at[params.depth].items():
                    fused = fuse(candidates, params)
                    ranked = rank_documents([cid for cid, _ in fused], space)
                    total += ndcg_at(ranked, qrels[qid], 10)
                results.append((total / len(runs), params))
    print("best settings:")
    for score, params in sorted(results, key=lambda r: -r[0])[:10]:
        print(f"{score:.4f}  {params}")
    print("best convex settings by the mean of their neighbourhood (robust to noise):")
    for score, params in smoothed(results)[:5]:
        print(f"{score:.4f}  {params}")


def smoothed(results: list[tuple[float, FusionParams]]) -> list[tuple[float, FusionParams]]:
    """Convex settings ranked by the mean score of the grid points within one step of
    them (alpha +-0.05, document weight +-0.1, same depth): a broad plateau beats a lone
    peak that the next dataset will not share."""
    convex = [(score, p) for score, p in results if p.method == "convex"]

    def near(a: FusionParams, b: FusionParams) -> bool:
        return (
            a.depth == b.depth
            and abs(a.alpha - b.alpha) < 0.051
            and abs(a.document_weight - b.document_weight) < 0.101
        )

    ranked = [
        (sum(score for score, q in convex if near(p, q)) / sum(near(p, q) for _, q in convex), p)
        for _, p in convex
    ]
    return sorted(ranked, key=lambda r: -r[0])


if __name__ == "__main__":
    main()
