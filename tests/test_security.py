"""The security promise, as a reviewer can read it (README "Security model").

Three collections (hr, eng, handbook); alice may read hr and handbook, bob eng and handbook,
carol is an admin; dana signs in with a JWT of the identity provider (group hr-team: hr).
A real server on 127.0.0.1, the chat database on SQLite and (with KB_TEST_DATABASE_URL)
PostgreSQL; the provider's keys are served by a real HTTP server on 127.0.0.1.
"""

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cli.main import cli
from kb.settings import Settings
from server.app import create_app
from server.client import ChatClient, final_answer, request_body, thread_id_of
from tests.security_world import (
    DOCS,
    OPERATOR,
    IdentityProvider,
    World,
    add_people,
    b64,
    database,
    populate,
    world_settings,
)
from tests.serving import LiveServer

BACKENDS = ["sqlite", "postgresql"]
QUESTION = "What does Zephyrcorp say about leave, deploys and offices?"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory, embedder) -> Iterator[World]:
    test_url = os.environ.get("KB_TEST_DATABASE_URL")
    if request.param == "postgresql" and not test_url:
        pytest.skip("set KB_TEST_DATABASE_URL to run the suite on PostgreSQL")
    tmp = tmp_path_factory.mktemp(f"security-{request.param}")
    idp = IdentityProvider()
    with database(request.param, tmp, test_url) as url:
        settings = world_settings(tmp / "data", url, idp)
        docs, chunks = populate(settings, tmp / "docs", embedder)
        world = World("", settings, {}, docs, chunks, idp, {"docs": tmp / "docs"})
        world.tokens = world.accounts(add_people)
        with LiveServer(create_app(settings, embedder=embedder)) as server:
            world.url = server.url
            yield world
    idp.close()


def as_user(world: World, token: str | None, **headers: str) -> httpx.Client:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=world.url, headers=headers, timeout=60)


@pytest.fixture
def chat(world: World) -> Iterator[Callable[..., ChatClient]]:
    """Make ChatKit clients signed in as a user, claiming to be `user_header` (ignored);
    closed after the test."""
    made: list[ChatClient] = []

    def make(name: str, user_header: str = "local") -> ChatClient:
        made.append(ChatClient(world.url, user=user_header, token=world.tokens[name]))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


def sources(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["source"] for hit in hits}


NAMES = {collection: name for collection, (name, _) in DOCS.items()}


def test_without_credentials_only_health_and_the_page_answer(world):
    doc, chunk = world.doc_ids["hr"], world.chunk_ids["hr"]
    routes = [
        ("POST", "/chatkit", request_body("threads.list", limit=5)),
        ("GET", "/api/status", None),
        ("GET", "/api/me", None),
        ("GET", "/api/collections", None),
        ("POST", "/api/search", {"query": "leave"}),
        ("GET", f"/api/chunks/{chunk}", None),
        ("POST", f"/api/documents/{doc}/link", None),
        ("GET", f"/api/documents/{doc}/file", None),
        ("GET", "/api/threads/t/tool-calls", None),
        ("GET", "/api/threads/t/feedback", None),
        ("POST", "/api/jobs", {"root": "/tmp"}),
    ]
    attempts = [
        {},
        {"X-KB-User": "alice"},  # the single-person header means nothing now
        {"X-Forwarded-User": "carol"},  # from 127.0.0.1, not a trusted proxy
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {OPERATOR}"},
        {"Authorization": "Bearer " + world.tokens["alice"][:-1]},  # one character short
    ]
    for headers in attempts:
        with as_user(world, None, **headers) as http:
            for method, path, body in routes:
                response = http.request(method, path, json=body)
                assert response.status_code == 401, (headers, path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
            assert http.get("/healthz").status_code == 200
            assert http.get("/").status_code == 200


def test_the_agent_sees_only_passages_of_granted_collections(world, chat):
    for name, allowed in (("alice", {"hr", "handbook"}), ("bob", {"eng", "handbook"})):
        client = chat(name, user_header="carol")  # claiming to be the admin
        events = client.ask(QUESTION)
        cited = set(final_answer(events).cited_sources)
        assert cited and cited <= {NAMES[c] for c in allowed}, (name, cited)
        thread = thread_id_of(events)
        shown = json.dumps(client.items(thread))
        for collection in {"hr", "eng", "handbook"} - allowed:
            assert NAMES[collection] not in shown and world.chunk_ids[collection] not in shown
        records = client.http.get(f"/api/threads/{thread}/tool-calls").json()["data"]
        assert records and all(r["user"] == name for r in records)
        assert all(r["collections"] == sorted(allowed) for r in records)
        assert {r["source"] for rec in records for r in rec["results"]} <= {
            NAMES[c] for c in allowed
        }


def test_every_route_to_content_checks_the_grants(world):
    with as_user(world, world.tokens["alice"], **{"X-KB-User": "carol"}) as alice:
        me = alice.get("/api/me").json()
        assert me == {
            "user": "alice",
            "groups": ["everyone"],
            "is_admin": False,
            "multi_user": True,
        }
        found = alice.post("/api/search", json={"query": "Zephyrcorp", "k": 10}).json()
        assert sources(found) == {"leave.md", "welcome.md"}
        asked = alice.post("/api/search", json={"query": "deploys", "collections": ["eng"]})
        assert asked.json() == []
        assert alice.post("/api/search", json={"query": "x", "as_user": "bob"}).status_code == 403
        listed = [row["name"] for row in alice.get("/api/collections").json()["data"]]
        assert listed == ["handbook", "hr"]
        status = alice.get("/api/status").json()
        assert (status["documents"], status["failed_documents"]) == (2, 0)
        assert alice.get(f"/api/chunks/{world.chunk_ids['hr']}").status_code == 200
        assert alice.get(f"/api/chunks/{world.chunk_ids['eng']}").status_code == 403
        eng = world.doc_ids["eng"]
        assert alice.post(f"/api/documents/{eng}/link").status_code == 403
        assert alice.get(f"/api/documents/{eng}/file").status_code == 403
        hr = world.doc_ids["hr"]
        assert b"26 weeks" in alice.get(f"/api/documents/{hr}/file").content
    with as_user(world, world.tokens["carol"]) as carol:  # an admin sees everything
        assert carol.get("/api/status").json()["documents"] == 3
        found = carol.post("/api/search", json={"query": "Zephyrcorp", "k": 10}).json()
        assert sources(found) == set(NAMES.values())
        assert carol.get(f"/api/chunks/{world.chunk_ids['eng']}").status_code == 200


def test_ingest_jobs_need_write_access_to_their_collection(world):
    job = {"root": str(world.extra["docs"] / "eng"), "collection": "eng", "dry_run": True}
    with as_user(world, world.tokens["alice"]) as alice:  # reads hr and handbook only
        assert alice.post("/api/jobs", json=job).status_code == 403
    with as_user(world, world.tokens["bob"]) as bob:  # granted eng with --write
        assert bob.post("/api/jobs", json=job).status_code == 202
        assert bob.post("/api/jobs", json={**job, "collection": "hr"}).status_code == 403


def test_the_operator_searches_as_a_user_sees(world):
    with as_user(world, OPERATOR) as operator:
        body = {"query": "Zephyrcorp", "k": 10, "as_user": "bob"}
        assert sources(operator.post("/api/search", json=body).json()) == {
            "deploy.md",
            "welcome.md",
        }
        nobody = operator.post("/api/search", json={**body, "as_user": "mallory"}).json()
        assert nobody == []  # an unknown user is granted nothing


def test_another_users_threads_are_out_of_reach_for_every_request_type(world, chat):
    alice = chat("alice")
    events = alice.ask("How long is parental leave?")
    thread = thread_id_of(events)
    items = alice.items(thread)
    user_item = next(item["id"] for item in items if item["type"] == "user_message")
    answer = next(item["id"] for item in items if item["type"] == "assistant_message")
    before = (alice.request("threads.get_by_id", thread_id=thread).json(), items)
    bob = chat("bob", user_header="alice")  # bob, pretending with the header
    message: dict[str, Any] = {
        "content": [{"type": "input_text", "text": "hi"}],
        "attachments": [],
        "inference_options": {},
    }
    requests: dict[str, dict[str, Any]] = {
        "threads.get_by_id": {"thread_id": thread},
        "items.list": {"thread_id": thread},
        "threads.update": {"thread_id": thread, "title": "mine now"},
        "threads.delete": {"thread_id": thread},
        "items.feedback": {"thread_id": thread, "item_ids": [answer], "kind": "negative"},
        "threads.add_user_message": {"thread_id": thread, "input": message},
        "threads.retry_after_item": {"thread_id": thread, "item_id": user_item},
        "threads.add_client_tool_output": {"thread_id": thread, "result": {}},
        "threads.add_structured_input": {
            "thread_id": thread,
            "item_id": answer,
            "input": {"type": "text", "text": "x"},
        },
        "threads.custom_action": {
            "thread_id": thread,
            "item_id": answer,
            "action": {"type": "x", "payload": {}},
        },
    }
    for request_type, params in requests.items():
        response = bob.request(request_type, **params)
        assert response.status_code in (400, 404), (request_type, response.text)
        if request_type not in ("threads.custom_action",):  # refused as unsupported first
            assert response.status_code == 404, (request_type, response.text)
    listed = bob.request("threads.list", limit=100).json()["data"]
    assert thread not in {t["id"] for t in listed}
    assert bob.http.get(f"/api/threads/{thread}/tool-calls").status_code == 404
    assert bob.http.get(f"/api/threads/{thread}/feedback").status_code == 404
    after = (alice.request("threads.get_by_id", thread_id=thread).json(), alice.items(thread))
    assert after == before


def test_open_original_links_are_signed_short_lived_and_for_one_document(world):
    hr, handbook = world.doc_ids["hr"], world.doc_ids["handbook"]
    with as_user(world, world.tokens["alice"]) as alice:
        url = alice.post(f"/api/documents/{hr}/link").json()["url"]
    assert world.tokens["alice"] not in url and OPERATOR not in url
    with httpx.Client(base_url=world.url) as anyone:  # a new tab: no Authorization header
        assert b"26 weeks" in anyone.get(url).content
        assert anyone.get(url.replace(hr, handbook)).status_code == 403
        assert anyone.get(url.replace("user=alice", "user=bob")).status_code == 403
        tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert anyone.get(tampered).status_code == 403
        key = world.accounts(lambda accounts: accounts.secret("links"))
        past = int(time.time()) - 1
        message = f"{hr}\nalice\n{past}".encode()
        expired = hmac.new(key, message, hashlib.sha256).hexdigest()
        stale = f"/api/documents/{hr}/file?user=alice&exp={past}&sig={expired}"
        assert anyone.get(stale).status_code == 403


def test_rotation_and_removal_count_on_the_very_next_request(world):
    old = world.accounts(lambda accounts: accounts.add_user("frank", False, frozenset()))
    with as_user(world, old) as frank:
        assert frank.get("/api/me").json()["user"] == "frank"
        new = world.accounts(lambda accounts: accounts.rotate("frank"))
        assert frank.get("/api/me").status_code == 401  # the same connection, next request
    with as_user(world, new) as frank:
        assert frank.get("/api/me").status_code == 200
        world.accounts(lambda accounts: accounts.remove("frank"))
        assert frank.get("/api/me").status_code == 401
        assert frank.post("/chatkit", json=request_body("threads.list")).status_code == 401


def test_single_sign_on_accepts_only_valid_tokens_of_the_issuer(world):
    idp = world.idp
    valid = idp.token()
    with as_user(world, valid) as dana:
        assert dana.get("/api/me").json()["user"] == "dana"
        found = dana.post("/api/search", json={"query": "Zephyrcorp", "k": 10}).json()
        assert sources(found) == {"leave.md"}  # through the grant to @hr-team
    with as_user(world, idp.token(kid="e1")) as ec_signed:
        assert ec_signed.get("/api/me").json()["groups"] == ["hr-team"]
    admin = idp.token(idp.claims(groups=["kb-admins"]))
    with as_user(world, admin) as boss:
        assert boss.get("/api/status").json()["documents"] == 3
    header, payload, signature = valid.split(".")
    forged_claims = b64(json.dumps(idp.claims(groups=["kb-admins"])).encode())
    none_header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "r1"}).encode())
    hs_header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "r1"}).encode())
    public_pem = idp.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = hmac.new(public_pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "expired": idp.token(idp.claims(exp=int(time.time()) - 120)),
        "wrong issuer": idp.token(idp.claims(iss="https://evil.example")),
        "wrong audience": idp.token(idp.claims(aud="someone-else")),
        "wrong key": idp.token(key=other_key),
        "alg none": f"{none_header}.{payload}.",
        "tampered claims": f"{header}.{forged_claims}.{signature}",
        "HS256 with the public key": f"{hs_header}.{payload}.{b64(confused)}",
        "no expiry": idp.token({k: v for k, v in idp.claims().items() if k != "exp"}),
    }
    for why, token in refused.items():
        with as_user(world, token) as caller:
            response = caller.get("/api/status")
            assert response.status_code == 401, why


def test_kb_logs_shows_one_users_calls_with_their_collections(world, chat, monkeypatch):
    client = chat("bob")
    client.ask("When do deploys freeze?")
    monkeypatch.setenv("KB_DATA_DIR", str(world.settings.data_dir))
    # The server's database: on PostgreSQL that is where the calls are, not in a JSONL file.
    monkeypatch.setenv("KB_DATABASE_URL", str(world.settings.database_url))
    result = CliRunner().invoke(cli, ["logs", "--user", "bob", "--json", "-n", "100"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert records and {r["user"] for r in records} == {"bob"}
    assert all(r["collections"] == ["eng", "handbook"] for r in records)


def test_a_proxy_user_header_counts_only_from_a_trusted_proxy(tmp_path, embedder):
    def me(proxies: str, **headers: str) -> httpx.Response:
        settings = Settings(
            data_dir=tmp_path / "data",
            trusted_user_header="X-Forwarded-User",
            trusted_groups_header="X-Forwarded-Groups",
            trusted_proxies=proxies,
            admin_groups="ops",
        )
        with LiveServer(create_app(settings, embedder=embedder)) as server:
            return httpx.get(f"{server.url}/api/me", headers=headers)

    erin = {"X-Forwarded-User": "erin", "X-Forwarded-Groups": "ops, hr-team"}
    trusted = me("10.0.0.0/8, 127.0.0.1", **erin).json()
    assert trusted["user"] == "erin" and trusted["groups"] == ["hr-team", "ops"]
    assert trusted["is_admin"] is True
    assert me("10.0.0.0/8", **erin).status_code == 401  # the same header from elsewhere
    assert me("127.0.0.1", **{"X-KB-User": "erin"}).status_code == 401
    assert me("127.0.0.1", **{"X-Forwarded-User": "@hr-team"}).status_code == 401
