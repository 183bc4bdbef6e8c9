"""The agent flow with a scripted model, and real client code against an OpenAI-compatible
server faked on 127.0.0.1: tool calls, citations, history, failures, a closed tab."""

import json
import time
from pathlib import Path

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from click.testing import CliRunner

from cli.main import cli
from ingest.pipeline import ingest
from kb.embedder import create_embedder
from kb.errors import KBError
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.settings import Settings
from kb.types import SearchMode
from server.app import create_app
from server.client import (
    ChatClient,
    SSEDecoder,
    final_answer,
    is_text_delta,
    question_body,
    search_tasks,
    thread_id_of,
)
from tests.fake_openai import FakeOpenAI, Reply
from tests.serving import LiveServer, copy_index


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def indexed(settings: Settings, sample_index: Path) -> Settings:
    copy_index(sample_index / "index", settings.index_dir)
    return settings


def serve(settings: Settings, embedder, model=None) -> LiveServer:
    return LiveServer(create_app(settings, model=model, embedder=embedder))


def test_scripted_model_searches_then_cites(indexed, embedder):
    model = ScriptedModel(
        [
            [function_call("search_docs", {"query": "Ollama", "top_k": 3}, call_id="call_1")],
            [assistant_message("Point KB_MODEL_BASE_URL at Ollama [1]. Not [9].")],
        ]
    )
    with serve(indexed, embedder, model) as server:
        client = ChatClient(server.url)
        events = client.ask("How do I use Ollama?")
        client.http.close()
    tool_output = next(
        item for item in model.calls[1].input if item.get("type") == "function_call_output"
    )
    assert tool_output["output"].startswith("[1] ")
    assert len(search_tasks(events)[0]["sources"]) == 3
    annotations = final_answer(events).item["content"][0]["annotations"]
    assert [a["source"]["data"]["n"] for a in annotations] == [1]  # [9] was never a passage
    record = json.loads((indexed.logs_dir / "tool_calls.jsonl").read_text().splitlines()[-1])
    assert record["call_id"] == "call_1" and record["arguments"]["top_k"] == 3
    assert annotations[0]["source"]["id"] == record["results"][0]["chunk_id"]


def test_chat_completions_server_streams_tool_call_then_answer(indexed, embedder, fake):
    fake.replies = [
        Reply(tool_call=("search_docs", {"query": "PostgreSQL database"})),
        Reply(text="Set KB_DATABASE_URL to a postgresql+asyncpg URL [1]."),
        Reply(tool_call=("search_docs", {"query": "auth token"})),
        Reply(text="Set KB_AUTH_TOKEN [2]. Also [7]."),
    ]
    settings = indexed.model_copy(update={"model_base_url": fake.base_url, "model": "fake-llm"})
    with serve(settings, embedder) as server:
        client = ChatClient(server.url)
        status = client.http.get("/api/status").json()
        first = client.ask("How do I run kb on PostgreSQL?")
        thread = thread_id_of(first)
        second = client.ask("And how do I require a token?", thread_id=thread)
        client.http.close()
    assert status["chat_model"] == "fake-llm"
    assert final_answer(first).item["content"][0]["text"].startswith("Set KB_DATABASE_URL")
    assert final_answer(first).item["content"][0]["annotations"]
    chats = [r["body"] for r in fake.requests if r["path"].endswith("/chat/completions")]
    assert chats[0]["model"] == "fake-llm" and chats[0]["stream"] is True
    assert any(
        m["role"] == "tool" and m["content"].startswith("[1] ") for m in chats[1]["messages"]
    )
    assert len(chats) == 4, [e for e in second if e["type"] == "error"]
    history = [(m["role"], _text(m)) for m in chats[2]["messages"] if m["role"] != "system"]
    assert history[0] == ("user", "How do I run kb on PostgreSQL?")
    assert history[1] == ("assistant", "Set KB_DATABASE_URL to a postgresql+asyncpg URL [1].")
    assert history[-1] == ("user", "And how do I require a token?")
    cited = [
        a["source"]["data"]["n"] for a in final_answer(second).item["content"][0]["annotations"]
    ]
    assert cited == [2]  # 5 passages this turn: [7] names none, so it is no source


def test_history_counts_messages_not_thread_items(indexed, embedder, fake):
    """KB_HISTORY_TURNS=3: the third question is sent with the 3 newest messages, however
    many workflow items (one per search) sit between them."""
    questions = ["How do I install kb?", "Which formats are read?", "How do I serve it?"]
    fake.replies = [
        reply
        for n in range(3)
        for reply in (Reply(tool_call=("search_docs", {"query": f"q{n}"})), Reply(text=f"A{n}."))
    ]
    settings = indexed.model_copy(
        update={"model_base_url": fake.base_url, "model": "fake-llm", "history_turns": 3}
    )
    with serve(settings, embedder) as server:
        client = ChatClient(server.url)
        thread = thread_id_of(client.ask(questions[0]))
        for question in questions[1:]:
            client.ask(question, thread_id=thread)
        client.http.close()
    chats = [r["body"] for r in fake.requests if r["path"].endswith("/chat/completions")]
    third = [(m["role"], _text(m)) for m in chats[4]["messages"] if m["role"] != "system"]
    assert third == [("user", questions[1]), ("assistant", "A1."), ("user", questions[2])]


def test_provider_failure_is_readable_and_retry_works(indexed, embedder, fake):
    fake.replies = [
        Reply(status=401),
        Reply(tool_call=("search_docs", {"query": "file types"})),
        Reply(text="Markdown, text, RST, HTML and PDF [1]."),
    ]
    settings = indexed.model_copy(update={"model_base_url": fake.base_url, "model": "fake-llm"})
    with serve(settings, embedder) as server:
        client = ChatClient(server.url)
        events = client.ask("What file types are supported?")
        error = next(e for e in events if e["type"] == "error")
        assert "401" in error["message"] and error["allow_retry"] is True
        thread = thread_id_of(events)
        question = next(i for i in client.items(thread) if i["type"] == "user_message")
        retried = client.stream(
            "threads.retry_after_item", thread_id=thread, item_id=question["id"]
        )
        client.http.close()
    assert final_answer(retried).item["content"][0]["text"].startswith("Markdown")


def test_unreachable_model_server(indexed, embedder):
    settings = indexed.model_copy(
        update={"model_base_url": "http://127.0.0.1:9/v1", "model": "fake-llm"}
    )
    with serve(settings, embedder) as server:
        client = ChatClient(server.url)
        events = client.ask("Anything?")
        client.http.close()
    assert (
        "Cannot reach the chat model" in next(e for e in events if e["type"] == "error")["message"]
    )


def test_closed_tab_keeps_the_partial_answer(indexed, embedder, fake):
    words = " ".join(f"word{i}" for i in range(60))
    fake.replies = [
        Reply(tool_call=("search_docs", {"query": "ingest"})),
        Reply(text=words, delay_s=0.1),
    ]
    settings = indexed.model_copy(update={"model_base_url": fake.base_url, "model": "fake-llm"})
    with serve(settings, embedder) as server:
        body = question_body("Tell me about ingest")
        thread, decoder = None, SSEDecoder()
        with httpx.stream("POST", f"{server.url}/chatkit", json=body, timeout=30) as response:
            events = (event for part in response.iter_bytes() for event in decoder.feed(part))
            for event in events:
                if event["type"] == "thread.created":
                    thread = event["thread"]["id"]
                if is_text_delta(event):
                    break  # the user closes the tab mid-answer
        assert thread is not None
        client = ChatClient(server.url)
        for _ in range(50):
            saved = [i for i in client.items(thread) if i["type"] == "assistant_message"]
            if saved:
                break
            time.sleep(0.1)
        client.http.close()
    text = saved[0]["content"][0]["text"]
    assert text.startswith("word0") and "word59" not in text


def test_openai_compatible_embeddings_backend(settings, docs, fake):
    (docs / "a.md").write_text("# Alpha\n\nThe heron protocol.")
    (docs / "b.md").write_text("# Beta\n\nThe osprey protocol.")
    remote = settings.model_copy(
        update={"embedding_model": "openai:fake-embed", "embedding_base_url": fake.base_url}
    )
    report = ingest(remote, docs)
    assert report.counts()["added"] == 2
    embedded = [
        t for r in fake.requests if r["path"].endswith("/embeddings") for t in r["body"]["input"]
    ]
    assert len(embedded) == 2 and all(r["body"]["model"] == "fake-embed" for r in fake.requests)
    index = KnowledgeIndex.open(remote)
    hits = Searcher(index, create_embedder(remote)).search(
        "Alpha\nThe heron protocol.", k=1, mode=SearchMode.DENSE
    )
    index.close()
    assert hits[0].source == "a.md"
    with pytest.raises(KBError, match="openai:fake-embed"):
        KnowledgeIndex.open(settings)  # the local model cannot read this index


def _text(message: dict) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else " ".join(p["text"] for p in content)


def test_serve_refuses_a_bad_configuration_with_a_clear_message(indexed):
    run = CliRunner().invoke(cli, ["serve"], env={"KB_MODEL_BASE_URL": "http://127.0.0.1:9/v1"})
    assert run.exit_code == 1 and "also set KB_MODEL" in run.output
    run = CliRunner().invoke(cli, ["serve"], env={"KB_EMBEDDING_MODEL": "openai:other"})
    assert run.exit_code == 1 and "kb ingest --rebuild" in run.output
