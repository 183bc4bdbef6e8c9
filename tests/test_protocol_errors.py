"""Well-formed ChatKit requests the server cannot serve get a 4xx JSON error before any
stream starts: never a 500, never a 200 followed by a cut stream."""

from typing import Any

import httpx
import pytest

from server.client import ChatClient, final_answer, thread_id_of, user_input


def refused(response: httpx.Response, status: int, *words: str) -> str:
    """The JSON error of a refused request; `words` must appear in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    for word in words:
        assert word in message
    return message


@pytest.fixture
def answered(client: ChatClient) -> dict[str, Any]:
    """A thread with one question and its answer."""
    events = client.ask("What file types are supported?")
    question = next(
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "user_message"
    )
    return {
        "thread": thread_id_of(events),
        "question": question,
        "answer": final_answer(events).item,
    }


def thread_ids(client: ChatClient) -> list[str]:
    response = client.request("threads.list", limit=100)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["data"]]


def test_huge_limits_are_capped_and_negative_ones_refused(client, answered):
    page = client.request("threads.list", limit=10**20)
    assert page.status_code == 200
    assert [t["id"] for t in page.json()["data"]] == [answered["thread"]]
    items = client.request("items.list", thread_id=answered["thread"], limit=10**20)
    assert items.status_code == 200 and len(items.json()["data"]) >= 2
    refused(client.request("threads.list", limit=-1), 400, "limit")
    refused(client.request("items.list", thread_id=answered["thread"], limit=-3), 400, "limit")


def test_the_last_page_has_no_after_cursor(client):
    for question in ("What file types are supported?", "How do I use Ollama?"):
        client.ask(question)
    first = client.request("threads.list", limit=1).json()
    assert first["has_more"] is True and first["after"] == first["data"][0]["id"]
    last = client.request("threads.list", limit=1, after=first["after"]).json()
    assert last["has_more"] is False and "after" not in last  # null is left out
    assert len(last["data"]) == 1 and last["data"][0]["id"] != first["data"][0]["id"]


def test_unsupported_request_types_say_what_is_unsupported(client, answered):
    thread = answered["thread"]
    action = {"type": "open", "payload": None}
    requests: list[tuple[str, dict[str, Any]]] = [
        ("input.transcribe", {"audio_base64": "AAAA", "mime_type": "audio/webm"}),
        ("threads.sync_custom_action", {"thread_id": thread, "action": action}),
        ("threads.custom_action", {"thread_id": thread, "action": action}),
    ]
    for request_type, params in requests:
        refused(client.request(request_type, **params), 400, request_type, "not supported")


def test_unknown_attachment_is_a_404_and_creates_no_thread(client, answered):
    question = {**user_input("Summarise my file"), "attachments": ["atc_missing"]}
    refused(client.request("threads.create", input=question), 404, "atc_missing")
    assert thread_ids(client) == [answered["thread"]]  # no empty thread left behind
    response = client.request(
        "threads.add_user_message", thread_id=answered["thread"], input=question
    )
    refused(response, 404, "atc_missing")
    assert len([i for i in client.items(answered["thread"]) if i["type"] == "user_message"]) == 1


def test_client_tool_output_without_a_pending_call_is_a_conflict(client, answered):
    before = client.items(answered["thread"])
    response = client.request(
        "threads.add_client_tool_output", thread_id=answered["thread"], result={"ok": True}
    )
    refused(response, 409, "no client tool call")
    assert client.items(answered["thread"]) == before


def test_structured_input_must_answer_a_structured_input_item(client, answered):
    response = client.request(
        "threads.add_structured_input",
        thread_id=answered["thread"],
        item_id=answered["question"]["id"],
        input={"status": "answered", "answers": {}},
    )
    refused(response, 400, answered["question"]["id"], "user_message")


def test_retry_must_name_a_user_message(client, answered):
    before = client.items(answered["thread"])
    response = client.request(
        "threads.retry_after_item",
        thread_id=answered["thread"],
        item_id=answered["answer"]["id"],
    )
    refused(response, 400, answered["answer"]["id"], "assistant_message")
    assert client.items(answered["thread"]) == before
    retried = client.stream(
        "threads.retry_after_item",
        thread_id=answered["thread"],
        item_id=answered["question"]["id"],
    )
    assert final_answer(retried).item["content"][0]["text"]
