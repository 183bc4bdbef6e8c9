"""The offline answering model: an `agents.Model` that needs no LLM.

It behaves like a disciplined tool-using model: on a new question it calls `search_docs`
(folding in the previous question when a follow-up leans on it); once the passages are
back, it answers with the sentences of those passages that best match the question, each
cited as [n], streamed word by word. Deterministic and fast.
"""

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

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

from kb.lexical import query_terms
from server.passages import parse_passages

ModelInput = str | list[TResponseInputItem]
JSON = dict[str, Any]
SEARCH_TOOL = "search_docs"
NOTHING_FOUND = (
    "I couldn't find anything about that in the knowledge base. "
    "Try other words, or check that the documents you expect are ingested (`kb status`)."
)
MAX_SENTENCES = 4
AMOUNT_QUESTION = re.compile(
    r"\b(how (much|many)|what (was|were|is|are) the|total|amount|revenue|sales|income|"
    r"margin|cost|price|percent|percentage|rate|ratio|growth|change|increase|decrease)\b",
    re.IGNORECASE,
)
FIGURE = re.compile(r"\$\s?\d|\d[\d,]*\.?\d*\s?%|\d{1,3}(,\d{3})+")
FIGURE_BONUS = 0.25
FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|why|how so|more|then)\b|\b(it|its|this|that|these|those|"
    r"they|them|their|there|he|she|him|her)\b",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"(?<=[?!])\s+|(?<=\.)\s+(?=[A-Z0-9\"'(\[])")
ROW = re.compile(r"\||^([-*•]|\d+[.)])\s|\d[\d,.]*%?\)?$")  # table row, list item, figures


class OfflineModel(Model):
    name = "offline"

    async def get_response(
        self, system_instructions: str | None, input: ModelInput, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        item = _next_output(_as_items(input))
        return ModelResponse(output=[item], usage=Usage(), response_id=None)

    async def stream_response(
        self, system_instructions: str | None, input: ModelInput, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        item = _next_output(_as_items(input))
        for event in _stream_events(item):
            yield event


def _as_items(input: ModelInput) -> list[JSON]:
    if isinstance(input, str):
        return [{"role": "user", "content": input}]
    items: list[Any] = list(input)  # TypedDicts, or SDK models in some runner paths
    return [i if isinstance(i, dict) else i.model_dump() for i in items]


def _next_output(items: list[JSON]) -> Any:
    questions = [_text(i) for i in items if i.get("role") == "user"]
    last_user = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
    results = [i for i in items[last_user + 1 :] if i.get("type") == "function_call_output"]
    if not results:
        query = fold_follow_up(questions[-1] if questions else "", questions[:-1])
        call_id = f"call_{uuid.uuid4().hex[:16]}"
        return function_call(SEARCH_TOOL, {"query": query}, call_id=call_id)
    passages_text = "\n\n".join(str(r.get("output", "")) for r in results)
    question = fold_follow_up(questions[-1], questions[:-1])
    return assistant_message(compose_answer(question, passages_text), item_id=_id("msg"))


def fold_follow_up(question: str, earlier: list[str]) -> str:
    """A short or pronoun-led question is searched together with the previous one."""
    if not earlier:
        return question
    if len(query_terms(question)) <= 2 or FOLLOW_UP.search(question):
        return f"{earlier[-1]} {question}"
    return question


def compose_answer(question: str, passages_text: str) -> str:
    terms = {_stem(t) for t in query_terms(question)}
    wants_figures = bool(AMOUNT_QUESTION.search(question))
    scored: list[tuple[float, int, int, str]] = []
    for passage in parse_passages(passages_text):
        sentences = list(_sentences(passage.text))
        scored += _score_sentences(passage.number, sentences, terms, wants_figures)
    best: list[tuple[float, int, int, str]] = []
    seen: set[str] = set()
    for candidate in sorted(scored, key=lambda s: -s[0]):
        key = candidate[3].lower()
        if key not in seen and len(best) < MAX_SENTENCES:
            seen.add(key)
            best.append(candidate)
    if not best:
        return NOTHING_FOUND
    best.sort(key=lambda s: (s[1], s[2]))  # read in passage order
    lines = [f"- {sentence} [{number}]" for _, number, _, sentence in best]
    return "Here is what the knowledge base says:\n\n" + "\n".join(lines)


def _score_sentences(
    number: int, sentences: list[str], terms: set[str], wants_figures: bool
) -> list[tuple[float, int, int, str]]:
    """Sentences sharing words with the question; a matching question in the passage
    (an FAQ entry) lends its score to the sentence that answers it; a question about an
    amount prefers sentences that state one."""
    scored = []
    lent = 0.0
    for position, sentence in enumerate(sentences):
        overlap = len(terms & {_stem(t) for t in query_terms(sentence)}) / max(len(terms), 1)
        if overlap and wants_figures and FIGURE.search(sentence):
            overlap += FIGURE_BONUS
        if sentence.endswith("?"):
            lent = overlap
            continue
        bonus, lent = lent, 0.0
        if overlap or bonus:
            scored.append((overlap + bonus - 0.03 * number, number, position, sentence))
    return scored


def _sentences(text: str) -> Iterable[str]:
    """Sentences of prose (hard-wrapped lines joined); rows of tables and lists as is."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        units = (
            lines
            if any(ROW.search(line) for line in lines)
            else SENTENCE_END.split(" ".join(lines))
        )
        for unit in units:
            sentence = " ".join(unit.split()).lstrip("-*• ").strip()
            if len(sentence) >= 12:
                yield sentence


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


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
