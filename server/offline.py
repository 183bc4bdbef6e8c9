"""The offline answering model: an `agents.Model` that needs no LLM.

It behaves like a disciplined tool-using model: on a new question it calls `search_docs`
(folding in the previous question when a follow-up leans on it); once the passages are
back, it answers with what of those passages best answers the question (server/answer.py),
each line cited as [n], streamed word by word. Deterministic and fast.
"""

import asyncio
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import numpy as np
from agents import Model, ModelResponse, TResponseInputItem, Usage
from agents.testing import assistant_message, function_call
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from kb.embedder import Embedder
from kb.index.lexical import query_terms
from server.answer import compose_answer

ModelInput = str | list[TResponseInputItem]
JSON = dict[str, Any]
SEARCH_TOOL = "search_docs"
VECTORS_KEPT = 4096  # sentence vectors remembered: a passage quoted again is not re-embedded
FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|why|how so|more|then)\b|\b(it|its|this|that|these|those|"
    r"they|them|their|there|he|she|him|her)\b",
    re.IGNORECASE,
)


class OfflineModel(Model):
    name = "offline"

    def __init__(self, embedder: Embedder | None = None) -> None:
        """With an embedder (the search's own), sentences are chosen by meaning too."""
        self._embed = VectorCache(embedder) if embedder else None

    async def get_response(
        self, system_instructions: str | None, input: ModelInput, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        item = await self._next_output(_as_items(input))
        return ModelResponse(output=[item], usage=Usage(), response_id=None)

    async def stream_response(
        self, system_instructions: str | None, input: ModelInput, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        item = await self._next_output(_as_items(input))
        for event in _stream_events(item):
            yield event

    async def _next_output(self, items: list[JSON]) -> Any:
        questions = [_text(i) for i in items if i.get("role") == "user"]
        last_user = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
        results = [i for i in items[last_user + 1 :] if i.get("type") == "function_call_output"]
        question = fold_follow_up(questions[-1] if questions else "", questions[:-1])
        if not results:
            call_id = f"call_{uuid.uuid4().hex[:16]}"
            return function_call(SEARCH_TOOL, {"query": question}, call_id=call_id)
        passages = "\n\n".join(str(r.get("output", "")) for r in results)
        # Embedding is CPU work: off the event loop, as the search is.
        answer = await asyncio.to_thread(compose_answer, question, passages, self._embed)
        return assistant_message(answer, item_id=_id("msg"))


class VectorCache:
    """An embedder's vectors for the texts it saw last: chat turns quote the same
    passages again and again."""

    def __init__(self, embedder: Embedder, size: int = VECTORS_KEPT) -> None:
        self._embedder = embedder
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # the embedder runs one batch at a time anyway
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if missing:
                self._vectors.update(
                    zip(missing, self._embedder.embed_queries(missing), strict=True)
                )
            vectors = np.stack([self._vectors[t] for t in texts])
            for text in texts:
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vectors


def _as_items(input: ModelInput) -> list[JSON]:
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    items: list[Any] = list(input)  # TypedDicts, or SDK models in some runner paths
    return [i if isinstance(i, dict) else i.model_dump() for i in items]


def fold_follow_up(question: str, earlier: list[str]) -> str:
    """A short or pronoun-led question is searched together with the previous one."""
    if not earlier:
        return question
    if len(query_terms(question)) <= 2 or FOLLOW_UP.search(question):
        return f"{earlier[-1]} {question}"
    return question


def _text(item: JSON) -> str:
    content = item.get("content", "")
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if isinstance(part, dict))


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def _stream_events(item: Any) -> Iterable[Any]:
    """The Responses API event sequence for one output item."""
    response = _response([])
    seq = iter(range(10**6))
    yield ResponseCreatedEvent(
        type="response.created", response=response, sequence_number=next(seq)
    )
    if item.type == "function_call":
        pending = item.model_copy(update={"arguments": ""})
    else:  # the text arrives as deltas
        pending = item.model_copy(update={"status": "in_progress", "content": []})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added", item=pending, output_index=0, sequence_number=next(seq)
    )
    if item.type == "function_call":
        yield ResponseFunctionCallArgumentsDoneEvent.model_validate(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item.id,
                "output_index": 0,
                "arguments": item.arguments,
                "name": item.name,
                "sequence_number": next(seq),
            }
        )
    else:
        yield from _text_events(item.id, item.content[0].text, seq)
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=0, sequence_number=next(seq)
    )
    yield ResponseCompletedEvent(
        type="response.completed", response=_response([item]), sequence_number=next(seq)
    )


def _text_events(item_id: str, text: str, seq: Iterable[int]) -> Iterable[Any]:
    counter = iter(seq)
    common = {"item_id": item_id, "output_index": 0, "content_index": 0}
    empty = ResponseOutputText(type="output_text", text="", annotations=[], logprobs=[])
    yield ResponseContentPartAddedEvent(
        type="response.content_part.added", part=empty, sequence_number=next(counter), **common
    )
    for word in re.findall(r"\s*\S+", text):
        yield ResponseTextDeltaEvent(
            type="response.output_text.delta",
            delta=word,
            logprobs=[],
            sequence_number=next(counter),
            **common,
        )
    yield ResponseTextDoneEvent(
        type="response.output_text.done",
        text=text,
        logprobs=[],
        sequence_number=next(counter),
        **common,
    )
    done = empty.model_copy(update={"text": text})
    yield ResponseContentPartDoneEvent(
        type="response.content_part.done", part=done, sequence_number=next(counter), **common
    )


def _response(output: list[Any]) -> Response:
    return Response(
        id=_id("resp"),
        created_at=time.time(),
        model="offline",
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        parallel_tool_calls=False,
        status="completed" if output else "in_progress",
        usage=ResponseUsage(
            input_tokens=0,
            output_tokens=0,
            total_tokens=0,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        ),
    )
