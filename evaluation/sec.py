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
        modes = {mode: evaluate_mode(space, questions, mode) for mode in SearchMode}
        result = {"dataset": folder.name, "split": "all", "queries": len(questions), "modes": modes}
        if answers:
            from evaluation.answers import evaluate_answers

            result["answers"] = evaluate_answers(space, questions)
    return result


def evaluate_mode(space: Workspace, questions: list[Question], mode: SearchMode) -> dict:
    latencies: list[float] = []
    per_type: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    per_split: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    lengths: list[int] = []
    for position, question in enumerate(questions):
        hits = space.timed_search(question.text, TOP_K, mode, latencies)
        hit = any(question.matches(h.source) for h in hits)
        evidence = "\n".join(h.passage for h in hits)
        lengths.append(len(evidence))
        score = (float(hit), evidence_recall(question.answer, evidence))
        per_type[question.kind].append(score)
        per_split[split_of(position)].append(score)
    everything = [score for scores in per_type.values() for score in scores]
    # What the five passages cost a reader (or an LLM's context), next to what they hold.
    size = {"chars@5": round(sum(lengths) / max(len(lengths), 1))}
    return {
        **_summary(everything),
        **size,
        **latency_summary(latencies),
        "by_split": _groups(per_split),
        "by_type": _groups(per_type),
    }


def split_of(position: int) -> str:
    """Questions by position, even ones to tune on, odd ones to report (as in the answers)."""
    return "tune" if position % 2 == 0 else "test"


def _groups(groups: dict[str, list[tuple[float, float | None]]]) -> dict[str, dict]:
    return {name: {**_summary(scores), "queries": len(scores)} for name, scores in groups.items()}


def _summary(scores: list[tuple[float, float | None]]) -> dict[str, float]:
    recalls = [r for _, r in scores if r is not None]
    return {
        "doc_hit@5": round(sum(h for h, _ in scores) / max(len(scores), 1), 4),
        "evidence_recall@5": round(sum(recalls) / max(len(recalls), 1), 4),
    }
