"""What a hostile page, client or file can do to a running server: nothing it should."""

import json
import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ingest.pipeline import ingest
from kb.index import KnowledgeIndex
from kb.settings import Settings
from server.app import create_app
from server.client import thread_id_of, user_input
from tests.serving import LiveServer, copy_index

NEW_THREAD = json.dumps({"type": "threads.create", "params": {"input": user_input("Hello?")}})


def port_of(url: str) -> int:
    return urlsplit(url).port or 80


def thread_count(http: httpx.Client) -> int:
    listed = http.post("/chatkit", json={"type": "threads.list", "params": {"limit": 100}})
    return len(listed.json()["data"])


def test_only_allowed_host_names_are_answered(live):
    port = port_of(live.url)
    with httpx.Client(base_url=live.url) as http:
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io"):
            response = http.get("/api/status", headers={"Host": host})
            assert response.status_code == 400, host
            assert "KB_ALLOWED_HOSTS" in response.json()["error"]
            assert "documents" not in response.text
        chat = http.post("/chatkit", content=NEW_THREAD, headers={"Host": "attacker.example"})
        assert chat.status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert http.get("/api/status", headers={"Host": host}).status_code == 200, host
        assert thread_count(http) == 0


def test_allowed_hosts_default_to_loopback_and_kb_host():
    assert Settings().allowed_host_names == {"localhost", "127.0.0.1", "::1"}
    assert "kb.lan" in Settings(host="kb.lan").allowed_host_names
    assert Settings(host="::1").allowed_host_names == {"localhost", "127.0.0.1", "::1"}
    configured = Settings(allowed_hosts="KB.example:8000, [fd00::5]")
    assert configured.allowed_host_names == {"kb.example", "fd00::5"}


def test_configured_host_names_replace_the_default(settings, sample_index, embedder):
    copy_index(sample_index / "index", settings.index_dir)
    named = settings.model_copy(update={"allowed_hosts": "kb.example"})
    with LiveServer(create_app(named, embedder=embedder)) as server, httpx.Client() as http:
        url = f"{server.url}/api/status"
        assert http.get(url, headers={"Host": "kb.example"}).status_code == 200
        assert http.get(url).status_code == 400  # 127.0.0.1 is no longer listed


def test_pages_on_other_origins_cannot_chat(client, live):
    cross_site = [
        {"Origin": "http://attacker.example", "Content-Type": "text/plain"},
        {"Origin": "http://attacker.example", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
    ]
    for headers in cross_site:
        response = client.http.post("/chatkit", content=NEW_THREAD, headers=headers)
        assert response.status_code == 403, headers
        assert "refused" in response.json()["error"]
    # The simple POST a form or beacon sends, even without the browser's headers.
    for form_type in ("text/plain;charset=UTF-8", "application/x-www-form-urlencoded"):
        response = client.http.post(
            "/chatkit", content=NEW_THREAD, headers={"Content-Type": form_type}
        )
        assert response.status_code == 415 and "application/json" in response.json()["error"]
    assert thread_count(client.http) == 0
    # Reading stays possible for the browser, but it shares nothing with the other page.
    status = client.http.get("/api/status", headers={"Origin": "http://attacker.example"})
    assert status.status_code == 200 and "access-control-allow-origin" not in status.headers
    ours = {"Origin": live.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
    response = client.http.post("/chatkit", content=NEW_THREAD, headers=ours)
    assert response.status_code == 200 and thread_count(client.http) == 1


def test_every_response_carries_the_security_headers(client, live):
    responses = [
        client.http.get("/"),
        client.http.get("/healthz"),
        client.http.get("/api/status"),
        client.http.get("/api/chunks/nope"),
        client.http.post("/chatkit", content=b"{not json"),
        client.http.get("/api/status", headers={"Host": "attacker.example"}),
        client.http.post("/chatkit", content=NEW_THREAD, headers={"Origin": "http://x.example"}),
        client.request("threads.create", input=user_input("What file types are supported?")),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert response.headers["referrer-policy"] == "no-referrer"


@pytest.fixture
def own_docs(settings: Settings, docs: Path, embedder) -> Path:
    (docs / "guide.md").write_text("# Guide\n\nThe zebra crossing is painted white.\n")
    (docs / "page.html").write_text("<title>Page</title><p>The heron<script>x()</script>.</p>")
    assert ingest(settings, docs, embedder=embedder).exit_code == 0
    return docs


def doc_ids(settings: Settings) -> dict[str, str]:
    index = KnowledgeIndex.open(settings)
    try:
        return {doc.path: doc.doc_id for doc in index.catalog.documents()}
    finally:
        index.close()


def test_original_files_are_served_only_as_indexed(settings, own_docs, embedder, connect):
    ids = doc_ids(settings)
    with LiveServer(create_app(settings, embedder=embedder)) as server:
        http = connect(server.url).http
        original = http.get(f"/api/documents/{ids['guide.md']}/file")
        assert original.status_code == 200
        assert original.content == (own_docs / "guide.md").read_bytes()
        policy = original.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert original.headers["x-content-type-options"] == "nosniff"
        page = http.get(f"/api/documents/{ids['page.html']}/file")
        assert page.headers["content-type"].startswith("text/plain")
        (own_docs / "guide.md").write_text("# Guide\n\nSomeone rewrote this file.\n")
        changed = http.get(f"/api/documents/{ids['guide.md']}/file")
        assert changed.status_code == 409
        assert "changed since it was indexed" in changed.json()["error"]
        assert b"rewrote" not in changed.content


def test_missing_token_asks_for_a_bearer_token(settings, sample_index, embedder, connect):
    copy_index(sample_index / "index", settings.index_dir)
    secured = settings.model_copy(update={"auth_token": "s3cret"})
    with LiveServer(create_app(secured, embedder=embedder)) as server:
        refused = connect(server.url).http.get("/api/status")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        # Non-ASCII guesses are compared (in constant time) as bytes: a 401, not a 500.
        guess = {"Authorization": "Bearer é".encode("latin-1")}
        assert connect(server.url).http.get("/api/status", headers=guess).status_code == 401
        doc = next(iter(doc_ids(secured).values()))
        link = connect(server.url).http.get(f"/api/documents/{doc}/file", params={"token": "é"})
        assert link.status_code == 401
        lower = connect(server.url).http.get(
            "/api/status", headers={"Authorization": "bearer s3cret"}
        )
        assert lower.status_code == 200


def test_thread_titles_keep_only_visible_text(client):
    events = client.ask("Why\x00 does \x1b[31mkb\u202e say\tthis?")
    thread = thread_id_of(events)
    title = client.request("threads.get_by_id", thread_id=thread).json()["title"]
    assert title == "Why does [31mkb say this?"
    renamed = client.request("threads.update", thread_id=thread, title="My\u2066 notes\x07\n")
    assert renamed.status_code == 200 and renamed.json()["title"] == "My notes"
    listed = client.request("threads.list", limit=10).json()["data"]
    assert [t["title"] for t in listed] == ["My notes"]


def test_client_that_hangs_up_mid_body_is_not_a_server_error(client, live, caplog):
    port = port_of(live.url)
    head = (
        f"POST /chatkit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
    )
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(head.encode() + b'{"type": "threads.list", "par')
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(4096):  # until the server closes its side
                pass
    for _ in range(3):  # by the time these are answered, the hang-ups have been handled
        assert client.http.get("/healthz").status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []
