"""The product on servers, end to end: the index in PostgreSQL and a Chroma server, the chat
database in PostgreSQL, `kb ingest` run from a third place, and two `kb serve` processes,
each with a data dir of its own as if on two hosts. Real processes throughout, set up once
for the module: the tests run in file order, and the last one kills the first server.
Needs KB_TEST_INDEX_URL and KB_TEST_DATABASE_URL (fresh databases for the module)."""

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from benchmarks.servers import fresh_chroma_database, fresh_postgres_database
from kb.index.postgres import ingest_lock_holders as ingest_lock_holders_of
from server.client import (
    ChatClient,
    SSEDecoder,
    final_answer,
    is_text_delta,
    question_body,
    search_tasks,
    thread_id_of,
)
from tests.serving import (
    SAMPLE_DOCS,
    KbServe,
    chat_attempts,
    kb_env,
    repeating,
    run_kb,
    search_attempts,
)

INDEX_URL = os.environ.get("KB_TEST_INDEX_URL")
DATABASE_URL = os.environ.get("KB_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (INDEX_URL and DATABASE_URL),
        reason="set KB_TEST_INDEX_URL and KB_TEST_DATABASE_URL to run the team tests",
    ),
]
TOKEN = "team-token"
SAMPLES = {path.name for path in SAMPLE_DOCS.iterdir()}
QUESTIONS = ["How do I use Ollama?", "What file types are supported?"]
QUERIES = ["ocelot switch", "KB_AUTH_TOKEN", "How do I change the embedding model?"]
OCELOT = "The ocelot switch turns on verbose logging on every host."
CAPYBARA = "# Capybara ledger\n\nThe capybara ledger reconciles every account at midnight.\n"


@dataclass
class Team:
    docs: Path
    index_url: str
    cli_env: dict[str, str]  # `kb` on a third host: same servers, a data dir of its own
    servers: list[KbServe]

    def ingest(self) -> dict[str, int]:
        done = run_kb(self.cli_env, "ingest", str(self.docs), "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[Team]:
    """The sample docs ingested by `kb ingest`, then two `kb serve` started side by side."""
    assert INDEX_URL and DATABASE_URL
    tmp = tmp_path_factory.mktemp("team")
    docs = tmp / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    with ExitStack() as stack:
        shared = {
            "index_url": stack.enter_context(fresh_postgres_database(INDEX_URL, "kb_idx")),
            "chroma_url": chroma_url,
            "chroma_database": stack.enter_context(fresh_chroma_database(chroma_url)),
            "database_url": stack.enter_context(fresh_postgres_database(DATABASE_URL, "kb_chat")),
            "auth_token": TOKEN,
        }
        team = Team(docs, shared["index_url"], kb_env(tmp / "cli", **shared), [])
        assert team.ingest()["added"] == len(SAMPLES)
        hosts = [KbServe(kb_env(tmp / f"host{n}", **shared), tmp / f"host{n}.log") for n in (1, 2)]
        team.servers = [stack.enter_context(server) for server in hosts]
        yield team


def test_a_thread_begun_on_one_server_goes_on_on_the_other(
    team: Team, connect: Callable[..., ChatClient]
):
    first, second = (connect(server.url, "ann", TOKEN) for server in team.servers)
    question = "How do I change the embedding model?"
    begun = first.ask(question)
    thread = thread_id_of(begun)
    followed = second.ask("And what about Ollama?", thread)

    # Server 2 read the first turn from the shared database: the follow-up is searched
    # together with the question before it, and the thread shows both turns.
    assert search_tasks(followed)[0]["queries"] == [f"{question} And what about Ollama?"]
    assert [item["type"] for item in first.items(thread)] == 2 * [
        "user_message",
        "workflow",
        "assistant_message",
    ]
    for events in (begun, followed):
        cited = final_answer(events).cited_sources
        assert cited and set(cited) <= SAMPLES
    assert "models.md" in final_answer(followed).cited_sources


def test_an_ingest_while_both_servers_answer_fails_nothing_and_shows_on_both(
    team: Team, connect: Callable[..., ChatClient]
):
    clients = [connect(s.url, f"during-ingest-{n}", TOKEN) for n, s in enumerate(team.servers, 1)]
    with (team.docs / "faq.txt").open("a", encoding="utf-8") as faq:
        faq.write(f"\n\n{OCELOT}\n")
    searching = [search_attempts(client.http, QUERIES) for client in clients]
    chatting = [chat_attempts(client, QUESTIONS) for client in clients]
    with repeating(*searching, *chatting) as loops:
        started = time.monotonic()
        report = team.ingest()
        ended = time.monotonic()

    assert [failure for loop in loops for failure in loop.failures] == []
    assert [loop.during(started, ended) > 0 for loop in loops] == 4 * [True]
    assert (report["added"], report["updated"], report["deleted"]) == (0, 1, 0)
    for client in clients:  # the sentence is found on each host, at once
        for mode in ("lexical", "hybrid"):
            top = top_hit(client.http, "ocelot switch", mode)
            assert (top["source"], OCELOT in top["text"]) == ("faq.txt", True), mode


def test_kb_logs_shows_the_tool_calls_made_through_both_servers(
    team: Team, connect: Callable[..., ChatClient]
):
    threads = {}
    for n, server in enumerate(team.servers, 1):
        user = f"logged-{n}"
        threads[user] = thread_id_of(connect(server.url, user, TOKEN).ask("How do I use Ollama?"))
    done = run_kb(team.cli_env, "logs", "--json")
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in done.stdout.splitlines()]
    assert threads.items() <= {(call["user"], call["thread"]) for call in calls}
    assert [call for call in calls if call["error"] or not call["results"]] == []


def test_a_server_killed_mid_answer_and_mid_rebuild_leaves_the_other_answering(
    team: Team, connect: Callable[..., ChatClient]
):
    victim, survivor = team.servers
    with repeating(chat_attempts(connect(survivor.url, "survivor", TOKEN), QUESTIONS)) as loops:
        submitted = connect(victim.url, "admin", TOKEN).http.post(
            "/api/jobs", json={"root": str(team.docs), "rebuild": True}
        )
        assert submitted.status_code == 202, submitted.text
        wait_for(lambda: f"pid {victim.process.pid} " in " ".join(ingest_lock_holders(team)))
        killed = time.monotonic()
        kill_mid_answer(victim, "How do I use Ollama?")
        wait_for(lambda: ingest_lock_holders(team) == [])  # PostgreSQL saw its session end
    assert victim.process.returncode == -signal.SIGKILL
    assert loops[0].failures == [] and loops[0].during(killed, time.monotonic()) > 0

    (team.docs / "capybara.md").write_text(CAPYBARA, encoding="utf-8")
    assert team.ingest()["added"] == 1  # at once: the killed server holds no lock
    http = connect(survivor.url, "after", TOKEN).http
    assert top_hit(http, "capybara ledger", "hybrid")["source"] == "capybara.md"
    assert http.get("/api/status").json()["documents"] == len(SAMPLES) + 1


def top_hit(http: httpx.Client, query: str, mode: str) -> dict[str, Any]:
    response = http.post("/api/search", json={"query": query, "mode": mode, "k": 1})
    assert response.status_code == 200, response.text
    return dict(response.json()[0])


def kill_mid_answer(server: KbServe, question: str) -> None:
    """SIGKILL the server once its answer to `question` has begun streaming."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=60) as http,
        http.stream("POST", "/chatkit", json=question_body(question)) as response,
    ):
        decoder = SSEDecoder()
        for chunk in response.iter_bytes():
            if any(is_text_delta(event) for event in decoder.feed(chunk)):
                break
        else:
            pytest.fail("the answer ended before it could be interrupted")
        server.process.kill()
        server.process.wait()


def ingest_lock_holders(team: Team) -> list[str]:
    """Who holds the index's ingest lock: `kb serve` (pid N on HOST)."""
    with psycopg.connect(team.index_url) as db:
        return ingest_lock_holders_of(db, "kb")


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
