"""`kb eval --answers`: every question through the agent, by the server's own code path."""

import asyncio
import time

from evaluation.metrics import evidence_recall, percentile
from evaluation.sec import Question
from evaluation.workspace import Workspace
from server.client import ask_in_process, final_answer
from server.context import RequestContext
from server.services import open_chat


def evaluate_answers(space: Workspace, questions: list[Question]) -> dict:
    return asyncio.run(_evaluate(space, questions))


async def _evaluate(space: Workspace, questions: list[Question]) -> dict:
    recalls: list[float] = []
    cited = matching = errors = 0
    latencies: list[float] = []
    async with open_chat(space.settings, embedder=space.searcher.embedder) as services:
        for question in questions:
            started = time.perf_counter()
            events = await ask_in_process(services.chat, question.text, RequestContext("eval"))
            latencies.append((time.perf_counter() - started) * 1000)
            if any(event["type"] == "error" for event in events):
                errors += 1
            answer = final_answer(events)
            text, sources = answer.text, answer.cited_sources
            recall = evidence_recall(question.answer, text)
            if recall is not None:
                recalls.append(recall)
            cited += len(sources)
            matching += sum(question.matches(source) for source in sources)
        model = services.model_name
    return {
        "model": model,
        "questions": len(questions),
        "evidence_recall": round(sum(recalls) / max(len(recalls), 1), 4),
        "citation_precision": round(matching / max(cited, 1), 4),
        "citations": cited,
        "errors": errors,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
    }
