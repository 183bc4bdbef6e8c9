"""The real app over HTTP on loopback, with the offline model over the sample docs."""

import json

import pytest

from kb.index import KnowledgeIndex
from kb.settings import Settings
from server.app import create_app
from server.client import final_answer, search_tasks, thread_id_of, user_input
from tests.serving import LiveServer, copy_index


def test_first_question_searches_streams_and_cites_the_right_file(client, settings):
    events = client.ask("How do I use Ollama?")
    kinds = [e["type"] for e in events]
    assert "thread.created" in kinds
    deltas = [
        e
        for e in events
        if e["type"] == "thread.item.updated"
        and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    assert len(deltas) > 5  # streamed word by word
    tasks = search_tasks(events)
    assert tasks and tasks[0]["title_query"] == "How do I use Ollama?"
    assert "hits in" in tasks[0]["title"] and tasks[0]["sources"]
    answer = final_answer(events).item
    text = answer["content"][0]["text"]
    annotations = answer["content"][0]["annotations"]
    assert "[1]" in text or "[2]" in text
    assert annotations
    sources = {a["source"]["data"]["source"] for a in annotations}
    assert sources & {"models.md", "faq.txt"}
    for annotation in annotations:
        assert f"[{annotation['source']['data']['n']}]" in text
    log = settings.logs_dir / "tool_calls.jsonl"
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["tool"] == "search_docs" and record["user"] == "local"
    assert record["thread"] == thread_id_of(events)
    assert record["results"][0]["rank"] == 1 and record["call_id"]


def test_follow_up_uses_history_and_cites_pdf_pages(client):
    first = client.ask("What is the default of KB_MAX_REQUEST_KB in the release notes?")
    thread = thread_id_of(first)
    follow = client.ask("and KB_PORT?", thread_id=thread)
    tasks = search_tasks(follow)
    assert "KB_MAX_REQUEST_KB" in tasks[0]["title_query"]  # folded in the earlier question
    annotations = final_answer(follow).item["content"][0]["annotations"]
    pdf = [a for a in annotations if a["source"]["data"]["source"] == "release-notes.pdf"]
    assert pdf and all(a["source"]["data"]["page"] >= 1 for a in pdf)
    items = client.items(thread)
    assert [i["type"] for i in items].count("assistant_message") == 2
    assert [i["type"] for i in items].count("workflow") == 2


def test_thread_gets_a_title_from_the_first_question(client):
    events = client.ask("Why does kb say the embedding model changed?")
    thread = client.request("threads.get_by_id", thread_id=thread_id_of(events)).json()
    assert thread["title"] == "Why does kb say the embedding model changed?"


def test_nothing_relevant_says_so(client):
    answer = final_answer(client.ask("zxqv wprt")).item
    assert "couldn't find" in answer["content"][0]["text"]
    assert answer["content"][0]["annotations"] == []


def test_bad_requests_get_clear_errors(client, live):
    http = client.http
    response = http.post("/chatkit", content=b"{not json")
    assert response.status_code == 400 and "invalid ChatKit request" in response.json()["error"]
    response = http.post("/chatkit", json={"type": "threads.explode", "params": {}})
    assert response.status_code == 400
    response = client.request(
        "threads.add_user_message", thread_id="thr_missing", input=user_input("hi")
    )
    assert response.status_code == 404 and "thr_missing" in response.json()["error"]
    assert client.request("threads.get_by_id", thread_id="thr_missing").status_code == 404
    thread = thread_id_of(client.ask("What file types are supported?"))
    response = client.request("threads.retry_after_item", thread_id=thread, item_id="msg_nope")
    assert response.status_code == 404
    response = http.post("/chatkit", content=b"x" * (600 * 1024))
    assert response.status_code == 413
    assert http.get("/api/chunks/nope").status_code == 404
    assert http.get("/api/documents/nope/file").status_code == 404
    assert http.post("/chatkit", json={}, headers={"X-KB-User": ""}).status_code == 400


def test_users_cannot_see_each_others_threads(live, connect):
    alice, bob = connect(live.url, "alice"), connect(live.url, "bob")
    thread = thread_id_of(alice.ask("How do I delete a document from the index?"))
    assert bob.request("threads.list", limit=10).json()["data"] == []
    assert bob.request("threads.get_by_id", thread_id=thread).status_code == 404
    assert bob.request("items.list", thread_id=thread).status_code == 404
    assert bob.request("threads.delete", thread_id=thread).status_code == 404
    assert [t["id"] for t in alice.request("threads.list", limit=10).json()["data"]] == [thread]


def test_token_is_required_when_configured(settings, sample_index, embedder, connect):
    copy_index(sample_index / "index", settings.index_dir)
    secured = settings.model_copy(update={"auth_token": "s3cret"})
    with LiveServer(create_app(secured, embedder=embedder)) as server:
        assert connect(server.url).request("threads.list").status_code == 401
        assert connect(server.url, token="wrong").request("threads.list").status_code == 401
        assert connect(server.url, token="s3cret").request("threads.list").status_code == 200
        assert connect(server.url).http.get("/api/status").status_code == 401
        assert connect(server.url).http.get("/healthz").status_code == 200
        doc = next(d for d in _documents(secured) if d.path == "faq.txt")
        files = connect(server.url).http
        assert files.get(f"/api/documents/{doc.doc_id}/file").status_code == 401
        # The token never goes in a URL: "Open original" asks for a signed link instead.
        assert files.get(f"/api/documents/{doc.doc_id}/file?token=s3cret").status_code == 401
        signed = connect(server.url, token="s3cret").http.post(f"/api/documents/{doc.doc_id}/link")
        assert files.get(signed.json()["url"]).status_code == 200
        assert "s3cret" not in signed.json()["url"]
        assert files.get("/api/status?token=s3cret").status_code == 401


def test_api_status_chunk_and_original_file(client):
    status = client.http.get("/api/status").json()
    assert status["documents"] == 12 and status["chunks"] > 0
    # The model output the index holds: bf16 on a CPU that computes it (KB_EMBEDDING_RUNTIME)
    assert status["embedding_model"] == Settings().embedding_variant
    assert status["embedding_model"].startswith("all-MiniLM-L6-v2")
    assert status["chat_model"] == "offline"
    answer = final_answer(
        client.ask("What is the default of KB_MAX_REQUEST_KB in the release notes?")
    ).item
    data = next(
        a["source"]["data"]
        for a in answer["content"][0]["annotations"]
        if a["source"]["data"]["source"] == "release-notes.pdf"
    )
    chunk = client.http.get(f"/api/chunks/{data['chunk_id']}").json()
    assert chunk["source"] == "release-notes.pdf" and chunk["page"] == data["page"]
    original = client.http.get(data["url"])
    assert original.status_code == 200
    assert original.headers["content-type"] == "application/pdf"
    assert original.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("question", "source", "kind"),
    [
        ("What is the default of KB_MAX_ROWS?", "settings-reference.xlsx", "sheet"),
        ("Which searches did the agent run? Where to look?", "tour.pptx", "slide"),
        ("Which Debian packages install Tesseract?", "scanned-support-note.png", "page"),
    ],
)
def test_citations_point_into_sheets_slides_and_scans(client, question, source, kind):
    answer = final_answer(client.ask(question)).item
    cited = [a["source"] for a in answer["content"][0]["annotations"]]
    found = next(c for c in cited if c["data"]["source"] == source)
    locator = found["data"]["locator"]
    assert locator["kind"] == kind
    assert found["title"].startswith(f"{source}, {locator['label']}")
    chunk = client.http.get(f"/api/chunks/{found['data']['chunk_id']}").json()
    assert chunk["locator"] == locator
    original = client.http.get(found["data"]["url"])
    assert original.status_code == 200
    disposition = original.headers["content-disposition"]
    assert disposition.startswith("inline" if kind == "page" else "attachment")


def test_feedback_is_saved_and_logged(client, settings):
    events = client.ask("How do I run it on PostgreSQL?")
    thread, answer = thread_id_of(events), final_answer(events).item
    response = client.request(
        "items.feedback", thread_id=thread, item_ids=[answer["id"]], kind="positive"
    )
    assert response.status_code == 200
    line = json.loads((settings.logs_dir / "feedback.jsonl").read_text().splitlines()[-1])
    assert line == {"thread": thread, "items": [answer["id"]], "kind": "positive", "user": "local"}


def test_feedback_is_shown_again_after_a_reload_and_only_to_its_owner(client, live, connect):
    events = client.ask("How do I run it on PostgreSQL?")
    thread, answer = thread_id_of(events), final_answer(events).item
    client.request("items.feedback", thread_id=thread, item_ids=[answer["id"]], kind="negative")
    reloaded = client.http.get(f"/api/threads/{thread}/feedback")
    assert reloaded.status_code == 200 and reloaded.json() == {"data": {answer["id"]: "negative"}}
    other = connect(live.url, user="mallory").http.get(f"/api/threads/{thread}/feedback")
    assert other.status_code == 404


def test_tool_call_records_match_their_workflow_tasks(client, live, connect):
    thread = thread_id_of(client.ask("How do I use Ollama?"))
    client.ask("and the embedding model?", thread_id=thread)
    workflows = [item for item in client.items(thread) if item["type"] == "workflow"]
    response = client.http.get(f"/api/threads/{thread}/tool-calls")
    assert response.status_code == 200
    records = response.json()["data"]
    assert [(r["workflow_item"], r["task_index"]) for r in records] == [
        (workflow["id"], 0) for workflow in workflows
    ]
    for record, workflow in zip(records, workflows, strict=True):
        task = workflow["workflow"]["tasks"][0]
        assert record["arguments"]["query"] == task["title_query"]
        assert len(record["results"]) == len(task["sources"]) and record["duration_ms"] > 0
        first = record["results"][0]
        assert first["rank"] == 1 and first["chunk_id"] and first["source"] and first["score"]
    other = connect(live.url, user="mallory").http.get(f"/api/threads/{thread}/tool-calls")
    assert other.status_code == 404


def test_threads_titles_and_answers_survive_a_restart(settings, sample_index, embedder, connect):
    copy_index(sample_index / "index", settings.index_dir)
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        events = connect(server.url).ask("What file types are supported?")
        thread, answer = thread_id_of(events), final_answer(events).item
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        client = connect(server.url)
        threads = client.request("threads.list", limit=10).json()["data"]
        assert [(t["id"], t["title"]) for t in threads] == [
            (thread, "What file types are supported?")
        ]
        saved = [i for i in client.items(thread) if i["type"] == "assistant_message"]
        assert saved[0]["content"] == answer["content"]


def _documents(settings: Settings) -> list:
    index = KnowledgeIndex.open(settings)
    try:
        return index.catalog.documents()
    finally:
        index.close()
