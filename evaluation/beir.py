"""BEIR-layout datasets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

import csv
import json
import tempfile
from collections import defaultdict
from itertools import islice
from pathlib import Path

from evaluation.metrics import mrr_at, ndcg_at, recall_at
from evaluation.workspace import Workspace, latency_summary, workspace
from kb.embedder import Embedder
from kb.errors import KBError
from kb.settings import Settings
from kb.types import SearchMode

CHUNK_DEPTH = 300  # chunks fetched per query: enough for 100 distinct documents


def is_beir(folder: Path) -> bool:
    return (folder / "corpus.jsonl").is_file()


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    path = folder / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise KBError(f"no qrels for split {split!r}: {path} is missing")
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return qrels


def load_queries(folder: Path, wanted: set[str]) -> dict[str, str]:
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["_id"] in wanted:
                queries[record["_id"]] = record["text"]
    return queries


def write_corpus(folder: Path, target: Path, limit: int | None = None) -> None:
    """One Markdown file per record (the first `limit`): the title is its heading, as a
    user's doc would be."""
    with (folder / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in islice(handle, limit):
            record = json.loads(line)
            title = " ".join(record.get("title", "").split())
            body = f"# {title}\n\n{record['text']}\n" if title else record["text"]
            (target / f"{record['_id']}.md").write_text(body, encoding="utf-8")


def rank_documents(chunk_ids: list[str], space: Workspace) -> list[str]:
    """Documents in the order of their best chunk."""
    ranked = (Path(space.chunk_source[c]).stem for c in chunk_ids if c in space.chunk_source)
    return list(dict.fromkeys(ranked))


def evaluate_beir(
    folder: Path, split: str, settings: Settings, embedder: Embedder | None = None, progress=None
) -> dict:
    qrels = load_qrels(folder, split)
    queries = load_queries(folder, set(qrels))
    with tempfile.TemporaryDirectory(prefix="kb-corpus-") as corpus:
        write_corpus(folder, Path(corpus))
        with workspace(settings, Path(corpus), embedder, progress) as space:
            modes = {mode: _evaluate_mode(space, queries, qrels, mode) for mode in SearchMode}
    return {"dataset": folder.name, "split": split, "queries": len(queries), "modes": modes}


def _evaluate_mode(space: Workspace, queries: dict, qrels: dict, mode: SearchMode) -> dict:
    totals: dict[str, float] = defaultdict(float)
    latencies: list[float] = []
    for query_id, text in queries.items():
        ranked = rank_documents(space.timed_rank(text, CHUNK_DEPTH, mode, latencies), space)
        relevant = qrels[query_id]
        totals["ndcg@10"] += ndcg_at(ranked, relevant, 10)
        totals["recall@10"] += recall_at(ranked, relevant, 10)
        totals["recall@100"] += recall_at(ranked, relevant, 100)
        totals["mrr@10"] += mrr_at(ranked, relevant, 10)
    scores = {name: round(value / max(len(queries), 1), 4) for name, value in totals.items()}
    return {**scores, **latency_summary(latencies)}
