"""Several workers on one PostgreSQL chat database: `kb logs` shows every worker's tool calls
(filters and --follow included), feedback lands in the database, and no worker keeps JSONL
files of its own. Needs KB_TEST_DATABASE_URL (each test gets a fresh database)."""

import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call

from kb.embedder import Embedder
from kb.settings import Settings
from server.client import ask_in_process, final_answer, request_body, thread_id_of
from server.context import RequestContext
from server.services import ChatServices, open_chat
from server.store import FeedbackKind
from tests.security_world import database
from tests.serving import following, kb_env, run_kb, tool_call

PG_URL = os.environ.get("KB_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="set KB_TEST_DATABASE_URL to run the team log tests"),
]
ALICE, BOB = RequestContext("alice"), RequestContext("bob")


@dataclass
class Team:
    url: str
    workers: list[ChatServices]
    data_dirs: list[Path]
    threads: dict[str, str]  # user -> the thread they asked in
    answers: dict[str, str]  # user -> the id of the answer they got

    def env(self, tmp_path: Path) -> dict[str, str]:
        """For `kb` run elsewhere (its own data dir), on the team's database."""
        return {**kb_env(tmp_path / "cli", database_url=self.url), "COLUMNS": "400"}

    def kb_logs(self, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
        done = run_kb(self.env(tmp_path), "logs", "--json", *args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def team_db(tmp_path: Path) -> Iterator[str]:
    assert PG_URL
    with database("postgresql", tmp_path, PG_URL) as url:
        yield url


@pytest.fixture
async def team(tmp_path: Path, team_db: str, embedder: Embedder) -> AsyncIterator[Team]:
    """Two workers, each with its own data dir: alice asks the first, then bob the second."""
    data_dirs = [tmp_path / "worker1", tmp_path / "worker2"]
    async with AsyncExitStack() as stack:
        workers = [
            await stack.enter_async_context(
                open_chat(
                    Settings(data_dir=data_dir), scripted(), embedder=embedder, database_url=team_db
                )
            )
            for data_dir in data_dirs
        ]
        team = Team(team_db, workers, data_dirs, {}, {})
        for worker, context in zip(workers, (ALICE, BOB), strict=True):
            events = await ask_in_process(worker.chat, f"What does {context.user_id} ask?", context)
            team.threads[context.user_id] = thread_id_of(events)
            team.answers[context.user_id] = final_answer(events).item["id"]
        yield team


def scripted() -> ScriptedModel:
    """A model that searches for the question it is asked, once, then answers."""
    return ScriptedModel(
        [
            [function_call("search_docs", {"query": "leave policy"}, call_id="call_1")],
            [assistant_message("Nothing in the knowledge base says.")],
        ]
    )


def test_kb_logs_shows_the_calls_of_every_worker_and_filters_them(team: Team, tmp_path: Path):
    everyone = team.kb_logs(tmp_path)
    assert [(call["user"], call["thread"]) for call in everyone] == [
        ("alice", team.threads["alice"]),
        ("bob", team.threads["bob"]),
    ]
    assert [call["user"] for call in team.kb_logs(tmp_path, "--user", "alice")] == ["alice"]
    by_thread = team.kb_logs(tmp_path, "--thread", team.threads["bob"])
    assert [call["user"] for call in by_thread] == ["bob"]
    assert [call["user"] for call in team.kb_logs(tmp_path, "-n", "1")] == ["bob"]  # newest
    assert team.kb_logs(tmp_path, "--user", "mallory") == []
    table = run_kb(team.env(tmp_path), "logs").stdout
    assert team.threads["alice"] in table and team.threads["bob"] in table
    for data_dir in team.data_dirs:  # no worker keeps a file of its own
        assert not (data_dir / "logs").exists()


async def test_feedback_given_on_any_worker_lands_in_the_database(team: Team):
    thread, answer = team.threads["alice"], team.answers["alice"]
    body = request_body("items.feedback", thread_id=thread, item_ids=[answer], kind="negative")
    await team.workers[1].chat.process(json.dumps(body), ALICE)  # she asked workers[0]
    assert await team.workers[0].store.load_feedback(thread, ALICE) == {
        answer: FeedbackKind.NEGATIVE
    }
    assert not any((data_dir / "logs").exists() for data_dir in team.data_dirs)


async def test_follow_prints_new_calls_even_from_a_worker_whose_clock_lags(
    team: Team, tmp_path: Path
):
    async with following(team.env(tmp_path), "-n", "1") as next_record:
        assert (await next_record())["user"] == "bob"
        # Stamped before bob's call, by a clock 20 s behind, yet written after it was shown.
        late = tool_call("alice", team.threads["alice"], "written late", age_s=20)
        await team.workers[0].chat.tool_log.write(late, ALICE)
        new = await next_record()
        assert (new["user"], new["arguments"]["query"]) == ("alice", "written late")
