"""The SEC 10-Q layout: docs/ (PDF filings) and qna_data.csv (questions, source-doc globs,
reference answers with figures)."""

import csv
import fnmatch
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from evaluation.metrics import evidence_recall
from evaluation.workspace import Workspace, latency_summary, workspace
from kb.embedder import Embedder
from kb.settings import Settings
from kb.types import SearchMode

TOP_K = 5


@dataclass(frozen=True)
class Question:
    text: str
    source_glob: str
    kind: str  # "Question Type"
    answer: str

    def matches(self, source: str) -> bool:
        return fnmatch.fnmatch(Path(source).name, self.source_glob)


def is_sec(folder: Path) -> bool:
    return (folder / "qna_data.csv").is_file() and (folder / "docs").is_dir()


def load_questions(folder: Path) -> list[Question]:
    with (folder / "qna_data.csv").open(encoding="utf-8-sig") as handle:
        return [
            Question(row["Question"], row["Source Docs"], row["Question Type"], row["Answer"])
            for row in csv.DictReader(handle)
        ]


def evaluate_sec(
    folder: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    progress=None,
    answers: bool = False,
) -> dict:
    questions = load_questions(folder)
    with workspace(settings, folder / "docs", embedder, progress) as space:
        modes = {mode: _evaluate_mode(space, questions, mode) for mode in SearchMode}
        result = {"dataset": folder.name, "split": "all", "queries": len(questions), "modes": modes}
        if answers:
            from evaluation.answers import evaluate_answers

            result["answers"] = evaluate_answers(space, questions)
    return result


def _evaluate_mode(space: Workspace, questions: list[Question], mode: SearchMode) -> dict:
    latencies: list[float] = []
    per_type: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for question in questions:
        chunk_ids = space.timed_rank(question.text, TOP_K, mode, latencies)
        rows = space.searcher.index.catalog.get_chunks(chunk_ids)
        hit = any(question.matches(space.chunk_source[c]) for c in chunk_ids)
        evidence = "\n".join(rows[c].text for c in chunk_ids if c in rows)
        per_type[question.kind].append((float(hit), evidence_recall(question.answer, evidence)))
    everything = [score for scores in per_type.values() for score in scores]
    by_type = {
        kind: {**_summary(scores), "queries": len(scores)} for kind, scores in per_type.items()
    }
    return {**_summary(everything), **latency_summary(latencies), "by_type": by_type}


def _summary(scores: list[tuple[float, float | None]]) -> dict[str, float]:
    recalls = [r for _, r in scores if r is not None]
    return {
        "doc_hit@5": round(sum(h for h, _ in scores) / max(len(scores), 1), 4),
        "evidence_recall@5": round(sum(recalls) / max(len(recalls), 1), 4),
    }
