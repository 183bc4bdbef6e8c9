"""ChatKit attachments over HTTP on loopback: the two-phase upload, its limits, hostile names,
other users, and a file attached to a message answering the question in its own thread."""

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from agents.testing import ScriptedModel, assistant_message, function_call

from server.app import create_app
from server.client import ChatClient, final_answer, thread_id_of, user_input
from server.passages import parse_passages
from tests.serving import LiveServer, copy_index
from tests.test_protocol_errors import refused

FACT = (
    "# Project Heron\n\nThe Heron launch code is VIOLET-4471. "
    "Project Heron ships on the ninth of March.\n"
)


def create(client: ChatClient, name: str, size: int, mime: str = "text/markdown") -> httpx.Response:
    return client.request("attachments.create", name=name, size=size, mime_type=mime)


def upload(client: ChatClient, attachment: dict[str, Any], data: bytes) -> httpx.Response:
    path = urlsplit(attachment["upload_descriptor"]["url"]).path
    return client.http.post(path, content=data, headers={"content-type": "text/markdown"})


def attach(client: ChatClient, name: str, data: bytes) -> dict[str, Any]:
    created = create(client, name, len(data))
    assert created.status_code == 200, created.text
    uploaded = upload(client, created.json(), data)
    assert uploaded.status_code == 200, uploaded.text
    return dict(uploaded.json())


def ask_with(client: ChatClient, question: str, ids: list[str], thread: str | None = None):
    body = {**user_input(question), "attachments": ids}
    if thread is None:
        return client.stream("threads.create", input=body)
    return client.stream("threads.add_user_message", thread_id=thread, input=body)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_create_upload_and_delete_before_sending(client, live, data_dir):
    created = create(client, "notes.md", len(FACT))
    assert created.status_code == 200, created.text
    attachment = created.json()
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "POST"
    assert descriptor["url"].startswith(live.url + "/api/attachments/")
    assert "metadata" not in attachment  # where the file lives stays on the server
    assert files_under(data_dir / "attachments") == []  # nothing before the bytes come

    uploaded = upload(client, attachment, FACT.encode())
    assert uploaded.status_code == 200, uploaded.text
    assert "upload_descriptor" not in uploaded.json()
    [stored] = files_under(data_dir / "attachments")
    assert stored.name == "notes.md" and stored.read_text() == FACT
    refused(upload(client, attachment, FACT.encode()), 409, "already uploaded")

    deleted = client.request("attachments.delete", attachment_id=attachment["id"])
    assert deleted.status_code == 200, deleted.text
    assert files_under(data_dir / "attachments") == []
    refused(client.request("attachments.delete", attachment_id=attachment["id"]), 404)


def test_hostile_names_are_cleaned_and_stay_in_the_data_dir(client, data_dir, tmp_path):
    names = {
        "../../../escape.md": "escape.md",
        "/etc/absolute.md": "absolute.md",
        "..\\..\\windows.txt": "windows.txt",
        "nul\x00byte.md": "nulbyte.md",
        ".hidden.md": "hidden.md",
        "rapport d’été 📄.md": "rapport d’été 📄.md",
        "bell\x07 and\nnewline.MD": "bell and newline.md",
    }
    for hostile, cleaned in names.items():
        attachment = attach(client, hostile, b"# Title\n\nSome text.\n")
        assert attachment["name"] == cleaned
    long = attach(client, "x" * 400 + ".md", b"# Long\n\nName.\n")
    assert long["name"].endswith(".md") and len(long["name"].encode()) <= 120
    stored = files_under(data_dir / "attachments")
    assert sorted(p.name for p in stored) == sorted([*names.values(), long["name"]])
    outside = [p for p in files_under(tmp_path) if not p.is_relative_to(data_dir)]
    assert not [p for p in outside if p.name in {"escape.md", "absolute.md", "windows.txt"}]


def test_size_and_type_are_refused_before_the_upload(client, data_dir):
    message = refused(create(client, "big.pdf", 21 * 2**20, "application/pdf"), 413, "big.pdf")
    assert "KB_ATTACHMENT_MAX_MB" in message and "20.0 MB" in message
    message = refused(create(client, "setup.exe", 10, "application/x-msdownload"), 415, ".exe")
    assert ".pdf" in message and ".docx" in message
    refused(create(client, "README", 10, "text/plain"), 415, "(no extension)")
    refused(create(client, "empty.md", 0), 400, "empty")
    attachment = create(client, "short.md", 4).json()
    refused(upload(client, attachment, b"far more than four bytes"), 413, "4 bytes")
    refused(upload(client, attachment, b"ab"), 400, "2 bytes of the 4")
    assert files_under(data_dir / "attachments") == []  # nothing half-written is kept
    form = client.http.post(
        urlsplit(attachment["upload_descriptor"]["url"]).path,
        files={"file": ("short.md", b"abcd")},
    )
    refused(form, 415, "not a form")


def test_another_user_cannot_read_delete_upload_or_send_it(live, connect):
    alice, bob = connect(live.url, "alice"), connect(live.url, "bob")
    pending = create(alice, "plan.md", len(FACT)).json()
    refused(upload(bob, pending, FACT.encode()), 404, pending["id"])
    uploaded = attach(alice, "mine.md", FACT.encode())
    refused(bob.request("attachments.delete", attachment_id=uploaded["id"]), 404)
    body = {**user_input("What is the launch code?"), "attachments": [uploaded["id"]]}
    refused(bob.request("threads.create", input=body), 404, uploaded["id"])
    assert bob.request("threads.list", limit=10).json()["data"] == []
    assert upload(alice, pending, FACT.encode()).status_code == 200  # still alice's


def test_a_message_needs_known_uploaded_attachments_before_any_stream(client):
    body = {**user_input("Summarise it"), "attachments": ["atc_missing"]}
    refused(client.request("threads.create", input=body), 404, "atc_missing")
    pending = create(client, "later.md", 10).json()
    body = {**user_input("Summarise it"), "attachments": [pending["id"]]}
    refused(client.request("threads.create", input=body), 409, "later.md", "not uploaded")
    assert client.request("threads.list", limit=10).json()["data"] == []


def test_attached_file_answers_in_its_thread_and_goes_with_it(client, live, connect, data_dir):
    status = client.http.get("/api/status").json()
    attachment = attach(client, "heron.md", FACT.encode())
    events = ask_with(client, "What is the Heron launch code?", [attachment["id"]])
    thread = thread_id_of(events)
    assert [e for e in events if e["type"] == "progress_update"]  # shown while it is read
    tasks = [t for i in done(events, "workflow") for t in i["workflow"]["tasks"]]
    assert tasks[0]["title"] == "Read heron.md"
    answer = final_answer(events)
    assert "VIOLET-4471" in answer.text and "heron.md" in answer.cited_sources
    [message] = done(events, "user_message")
    assert [a["name"] for a in message["attachments"]] == ["heron.md"]
    again = {**user_input("again"), "attachments": [attachment["id"]]}
    refused(client.request("threads.create", input=again), 409, "sent already")

    elsewhere = client.ask("What is the Heron launch code?")  # another thread: not its file
    assert "heron.md" not in final_answer(elsewhere).cited_sources
    follow_up = client.ask("When does Project Heron ship?", thread_id=thread)
    assert "heron.md" in final_answer(follow_up).cited_sources  # later turns search it too
    after = client.http.get("/api/status").json()  # the knowledge base did not grow
    assert (after["documents"], after["chunks"]) == (status["documents"], status["chunks"])

    source = answer.item["content"][0]["annotations"][0]["source"]
    chunk_id, file_url = source["id"], source["data"]["url"]
    assert client.http.get(f"/api/chunks/{chunk_id}").status_code == 200
    assert client.http.get(file_url).text == FACT
    bob = connect(live.url, "bob")
    refused(bob.http.get(f"/api/chunks/{chunk_id}"), 403, "another user")
    refused(bob.http.get(file_url), 403, "another user")
    refused(bob.request("threads.delete", thread_id=thread), 404)
    assert client.request("threads.delete", thread_id=thread).status_code == 200
    scratch = data_dir / "attachments" / "threads"
    wait_until(lambda: not any(scratch.iterdir()))
    assert files_under(data_dir / "attachments") == []
    wait_until(lambda: client.http.get(f"/api/chunks/{chunk_id}").status_code == 404)
    refused(client.request("attachments.delete", attachment_id=attachment["id"]), 404)


def test_a_corrupt_file_shows_its_reason_and_the_answer_goes_on(client):
    broken = attach(client, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    events = ask_with(client, "What does broken.pdf say?", [broken["id"]])
    tasks = [t for i in done(events, "workflow") for t in i["workflow"]["tasks"]]
    assert tasks[0]["title"] == "Could not read broken.pdf"
    assert tasks[0]["content"]  # the loader's reason
    assert final_answer(events).text  # the knowledge base still answers


def done(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == item_type
    ]


def wait_until(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def test_the_agent_sees_the_attachment_and_its_passages_come_first(
    settings, sample_index, embedder
):
    model = ScriptedModel(
        [
            [function_call("search_docs", {"query": "launch code", "top_k": 2}, call_id="c1")],
            [assistant_message("The launch code is VIOLET-4471 [1].")],
        ]
    )
    copy_index(sample_index / "index", settings.index_dir)
    with LiveServer(create_app(settings, model=model, embedder=embedder)) as server:
        client = ChatClient(server.url)
        heron = attach(client, "heron.md", FACT.encode())
        events = ask_with(client, "What is the launch code?", [heron["id"]])
        client.http.close()
    *_, note, question = model.calls[0].input
    assert note["role"] == "system" and "attached heron.md" in note["content"]
    assert question["content"] == [{"type": "input_text", "text": "What is the launch code?"}]
    output = next(i for i in model.calls[1].input if i.get("type") == "function_call_output")
    passages = parse_passages(output["output"])
    assert [p.number for p in passages][:1] == [1] and len(passages) <= 4  # top_k each side
    assert output["output"].startswith("[1] heron.md")
    assert final_answer(events).cited_sources == ["heron.md"]


def test_a_thread_deleted_while_the_server_was_down_leaves_nothing(
    settings, sample_index, embedder, data_dir
):
    copy_index(sample_index / "index", settings.index_dir)
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        client = ChatClient(server.url)
        heron = attach(client, "heron.md", FACT.encode())
        events = ask_with(client, "What is the Heron launch code?", [heron["id"]])
        chunk_id = final_answer(events).item["content"][0]["annotations"][0]["source"]["id"]
        client.http.close()
    [folder] = (data_dir / "attachments" / "threads").iterdir()
    (folder / "heron.md").unlink()  # what a deletion had done when the server stopped
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        client = ChatClient(server.url)
        wait_until(lambda: not folder.exists())
        wait_until(lambda: client.http.get(f"/api/chunks/{chunk_id}").status_code == 404)
        client.http.close()
