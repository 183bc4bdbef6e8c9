"""A small typed client of our ChatKit endpoint, in Python.

Request bodies, Server-Sent-Event decoding and reading the answer out of the events, written
once: the eval's answer path (in process), the benchmarks (async HTTP) and the tests (HTTP)
all use it. Events stay the JSON objects of the wire format.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.chat import KBChatServer
from server.context import RequestContext

Event = dict[str, Any]
TEXT_DELTA = "assistant_message.content_part.text_delta"
_DATA = b"data: "


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def request_body(request_type: str, **params: Any) -> dict[str, Any]:
    return {"type": request_type, "params": params}


def question_body(question: str, thread_id: str | None = None) -> dict[str, Any]:
    """A new thread for the question, or the question added to `thread_id`."""
    if thread_id is None:
        return request_body("threads.create", input=user_input(question))
    return request_body("threads.add_user_message", thread_id=thread_id, input=user_input(question))


class SSEDecoder:
    """Bytes of a `text/event-stream` in, events out; a line may arrive in pieces."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line[len(_DATA) :]) for line in lines if line.startswith(_DATA)]


def decode_events(body: bytes) -> list[Event]:
    return SSEDecoder().feed(body + b"\n")


def is_text_delta(event: Event) -> bool:
    update = event.get("update")
    return isinstance(update, dict) and update.get("type") == TEXT_DELTA


@dataclass(frozen=True)
class Answer:
    """The final assistant message of a turn."""

    text: str
    cited_sources: list[str] = field(default_factory=list)  # the file of each annotation
    item: Event = field(default_factory=dict)


def done_items(events: list[Event], item_type: str) -> list[Event]:
    return [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == item_type
    ]


def final_answer(events: list[Event]) -> Answer:
    """The last answer in the events (empty when the turn produced none)."""
    answers = done_items(events, "assistant_message")
    if not answers:
        return Answer(text="")
    content = answers[-1]["content"]
    return Answer(
        text="".join(part["text"] for part in content),
        cited_sources=[
            annotation["source"]["data"]["source"]
            for part in content
            for annotation in part["annotations"]
        ],
        item=answers[-1],
    )


def thread_id_of(events: list[Event]) -> str:
    return str(next(e["thread"]["id"] for e in events if e["type"] == "thread.created"))


def search_tasks(events: list[Event]) -> list[Event]:
    return [task for item in done_items(events, "workflow") for task in item["workflow"]["tasks"]]


async def ask_in_process(chat: KBChatServer, question: str, context: RequestContext) -> list[Event]:
    """One question in a new thread through the server's own `process`, no HTTP."""
    result = await chat.process(json.dumps(question_body(question)), context)
    decoder = SSEDecoder()
    events: list[Event] = []
    async for chunk in result:  # type: ignore[union-attr]  # threads.create always streams
        events += decoder.feed(chunk)
    return events


async def stream_events(http: httpx.AsyncClient, body: dict[str, Any]) -> AsyncIterator[Event]:
    """POST a streaming request; its events as they arrive. HTTP errors raise."""
    async with http.stream("POST", "/chatkit", json=body) as response:
        if response.status_code != 200:
            detail = (await response.aread())[:200]
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}: {detail!r}",
                request=response.request,
                response=response,
            )
        decoder = SSEDecoder()
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                yield event


class ChatClient:
    """Synchronous client over HTTP, as one user (the tests' and scripts' client)."""

    def __init__(self, base_url: str, user: str = "local", token: str | None = None) -> None:
        headers = {"X-KB-User": user}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def request(self, request_type: str, **params: Any) -> httpx.Response:
        return self.http.post("/chatkit", json=request_body(request_type, **params))

    def stream(self, request_type: str, **params: Any) -> list[Event]:
        response = self.request(request_type, **params)
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        if response.status_code != 200 or not streaming:
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}: {response.text[:200]}",
                request=response.request,
                response=response,
            )
        return decode_events(response.content)

    def ask(self, question: str, thread_id: str | None = None) -> list[Event]:
        body = question_body(question, thread_id)
        return self.stream(body["type"], **body["params"])

    def items(self, thread_id: str) -> list[Event]:
        response = self.request("items.list", thread_id=thread_id, order="asc", limit=100)
        response.raise_for_status()
        data: list[Event] = response.json()["data"]
        return data
