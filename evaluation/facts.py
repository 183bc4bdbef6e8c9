"""A question set with the facts each answer must state (evaluation/sample-docs), scored
by fact recall through the server's own chat path: `kb eval evaluation/sample-docs`."""

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.metrics import percentile
from evaluation.workspace import workspace
from ingest.progress import IngestProgress
from kb.embedder import Embedder
from kb.settings import Settings

QUESTIONS = "questions.json"
SPLITS = ("tune", "test")
_MARKUP = re.compile(r"[`*]|\[\d+\]")  # emphasis, code marks and citation markers


@dataclass(frozen=True)
class FactQuestion:
    text: str
    facts: list[list[str]]  # each fact: alternatives, any one of which counts
    split: str


def is_fact_set(folder: Path) -> bool:
    return (folder / QUESTIONS).is_file()


def load_fact_set(folder: Path) -> tuple[Path, list[FactQuestion]]:
    """The documents folder the questions are about, and the questions."""
    data = json.loads((folder / QUESTIONS).read_text(encoding="utf-8"))
    questions = [
        FactQuestion(q["question"], [list(alternatives) for alternatives in q["facts"]], q["split"])
        for q in data["questions"]
    ]
    return (folder / data["docs"]).resolve(), questions


def stated(fact: list[str], answer: str) -> bool:
    """Whether the answer states one of the fact's alternatives: case, Markdown emphasis,
    code marks and [n] aside, as whole words (`off` is not found in `offline`)."""
    text = " ".join(_MARKUP.sub("", answer).lower().split())
    return any(
        re.search(rf"(?<![a-z0-9]){re.escape(' '.join(alt.lower().split()))}(?![a-z0-9])", text)
        for alt in fact
    )


def fact_recall(question: FactQuestion, answer: str) -> float:
    return sum(stated(fact, answer) for fact in question.facts) / len(question.facts)


def evaluate_facts(
    folder: Path,
    settings: Settings,
    embedder: Embedder | None = None,
    progress: IngestProgress | None = None,
) -> dict[str, Any]:
    docs, questions = load_fact_set(folder)
    with workspace(settings, docs, embedder, progress) as space:
        result = answer_all(space.settings, space.searcher.embedder, questions)
    return {"dataset": folder.name, **result}


def answer_all(
    settings: Settings, embedder: Embedder, questions: list[FactQuestion]
) -> dict[str, Any]:
    """Each question through the chat model the settings name, on their data dir's index."""
    return asyncio.run(_answer_all(settings, embedder, questions))


async def _answer_all(
    settings: Settings, embedder: Embedder, questions: list[FactQuestion]
) -> dict[str, Any]:
    from server.client import ask_in_process, final_answer
    from server.context import RequestContext
    from server.services import open_chat

    rows: list[dict[str, Any]] = []
    latencies: list[float] = []
    async with open_chat(settings, embedder=embedder) as services:
        for question in questions:
            started = time.perf_counter()
            events = await ask_in_process(services.chat, question.text, RequestContext("eval"))
            latencies.append((time.perf_counter() - started) * 1000)
            answer = final_answer(events).text
            missed = [fact[0] for fact in question.facts if not stated(fact, answer)]
            recall = fact_recall(question, answer)
            rows.append(
                {
                    "question": question.text,
                    "split": question.split,
                    "recall": recall,
                    "missed": missed,
                }
            )
        model = services.model_name
    return {
        "model": model,
        "questions": len(questions),
        **{
            f"fact_recall_{s}": _mean([r["recall"] for r in rows if r["split"] == s])
            for s in SPLITS
        },
        "fact_recall": _mean([r["recall"] for r in rows]),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "misses": [r for r in rows if r["missed"]],
    }


def _mean(values: list[float]) -> float:
    return round(sum(values) / max(len(values), 1), 4)
