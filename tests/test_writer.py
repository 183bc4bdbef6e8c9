"""`kb ingest` while `kb serve` runs: real processes, searches and chats running throughout.

The server is the data dir's one writer; `kb ingest` hands it the job, `kb search` and
`kb status` ask it. The previous release opened the embedded Chroma from both processes:
searches failed during and after the ingest, and new documents never reached dense search.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from cli.main import cli
from ingest.pipeline import ingest
from kb.errors import KBError
from kb.types import Hit
from kb.writer import SERVER_FILE, running_server, writer_lock
from server.app import create_app
from tests.serving import (
    SAMPLE_DOCS,
    ChatClient,
    KbServe,
    LiveServer,
    chat_attempts,
    kb_env,
    repeating,
    run_kb,
    search_attempts,
)

TOKEN = "s3cret-token"
NEW_DOC = "# Capybara ledger\n\nThe capybara ledger reconciles every account at midnight.\n"
QUERIES = ["How do I change the embedding model?", "capybara ledger", "KB_AUTH_TOKEN"]
QUESTIONS = ["How do I use Ollama?", "What file types are supported?"]
COUNTS = ["added", "updated", "unchanged", "deleted", "skipped", "failed"]


@pytest.fixture
def served(tmp_path, settings, embedder):
    """Sample docs ingested, then `kb serve` on them with a token; (docs, env, server)."""
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    ingest(settings, docs, embedder=embedder)
    env = kb_env(settings.data_dir, auth_token=TOKEN)
    with KbServe(env, tmp_path / "serve.log") as server:
        yield docs, env, server


def client(url):
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)


def ingest_while_searching(env, docs, url, *args):
    """`kb ingest DOCS ARGS --json` with two search loops and a chat loop running; the
    report, stderr, and how many searches finished while the ingest ran."""
    searchers = [client(url), client(url)]
    chat = ChatClient(url, token=TOKEN)
    with repeating(
        search_attempts(searchers[0], QUERIES),
        search_attempts(searchers[1], QUERIES[::-1]),
        chat_attempts(chat, QUESTIONS),
    ) as loops:
        started = time.monotonic()
        run = run_kb(env, "ingest", str(docs), "--json", *args)
        ended = time.monotonic()
    for http in [*searchers, chat.http]:
        http.close()
    assert run.returncode == 0, run.stderr
    failures = [failure for loop in loops for failure in loop.failures]
    assert failures == []
    return json.loads(run.stdout), run.stderr, sum(loop.during(started, ended) for loop in loops)


def top_sources(http, query, mode):
    response = http.post("/api/search", json={"query": query, "mode": mode, "k": 3})
    assert response.status_code == 200, response.text
    return [hit["source"] for hit in response.json()]


def test_ingest_and_rebuild_while_serving_fail_no_search_and_show_at_once(
    served, settings, tmp_path
):
    docs, env, server = served
    http = client(server.url)
    samples = http.get("/api/status").json()["documents"]
    (docs / "capybara.md").write_text(NEW_DOC, encoding="utf-8")
    with (docs / "faq.txt").open("a", encoding="utf-8") as faq:
        faq.write("\n\nThe ocelot switch turns on verbose logging.\n")
    (docs / "searching.md").unlink()

    report, stderr, overlapping = ingest_while_searching(env, docs, server.url)
    assert "runs in kb serve" in stderr
    assert (report["added"], report["updated"], report["deleted"]) == (1, 1, 1)
    assert overlapping > 0  # searches really ran during the ingest
    # Found the moment `kb ingest` returns, by every mode, dense included.
    assert top_sources(http, "capybara ledger reconciles accounts", "dense")[0] == "capybara.md"
    assert top_sources(http, "capybara ledger", "hybrid")[0] == "capybara.md"
    assert top_sources(http, "ocelot switch", "lexical")[0] == "faq.txt"
    assert "searching.md" not in top_sources(http, "searching the knowledge base", "hybrid")
    assert http.get("/api/status").json()["documents"] == samples  # one added, one deleted

    report, _, overlapping = ingest_while_searching(env, docs, server.url, "--rebuild")
    assert report["added"] == samples and overlapping > 0
    assert top_sources(http, "capybara ledger reconciles accounts", "dense")[0] == "capybara.md"
    status = http.get("/api/status").json()
    assert status["documents"] == samples and status["chunks"] == report["chunks"]
    index_entries = sorted(entry.name for entry in settings.index_dir.iterdir())
    assert index_entries[0] == "CURRENT" and len(index_entries) == 2  # the old one is gone

    http.close()

    tool_calls = (settings.logs_dir / "tool_calls.jsonl").read_text().splitlines()
    assert tool_calls and [r for r in map(json.loads, tool_calls) if r["error"]] == []
    assert TOKEN not in server.log.read_text()


def test_cli_search_and_status_ask_the_server_without_loading_the_model(served, settings):
    _docs, env, server = served
    expected = httpx.post(
        f"{server.url}/api/search",
        json={"query": "embedding model", "k": 3},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    run = run_kb(env, "search", "embedding model", "-k", "3", "--json", python=("-X", "importtime"))
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [Hit.from_fields(hit).to_json() for hit in expected]
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
    assert not imported & {"torch", "chromadb", "sentence_transformers", "kb.index"}

    status = run_kb(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert (
        json.loads(status.stdout)["documents"]
        == httpx.get(
            f"{server.url}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()["documents"]
    )

    unauthorised = run_kb({**env, "KB_AUTH_TOKEN": "wrong"}, "search", "embedding model")
    assert unauthorised.returncode == 1 and "missing or wrong token" in unauthorised.stderr

    server.__exit__()  # a clean stop: the record goes, and the CLI works locally again
    assert not (settings.data_dir / SERVER_FILE).exists()
    local = run_kb(env, "search", "embedding model", "-k", "3", "--json")
    assert local.returncode == 0, local.stderr
    assert [hit["chunk_id"] for hit in json.loads(local.stdout)] == [
        hit["chunk_id"] for hit in expected
    ]


def test_a_serving_data_dir_refuses_a_second_writer(settings, docs, embedder):
    (docs / "a.md").write_text("# A\n\nThe heron protocol.", encoding="utf-8")
    with LiveServer(create_app(settings, embedder=embedder)):
        with pytest.raises(KBError, match=r"`kb serve` \(pid \d+\) is writing to"):
            ingest(settings, docs, embedder=embedder)
        run = CliRunner().invoke(cli, ["serve"])
        assert run.exit_code == 1 and "`kb serve`" in run.output
    with writer_lock(settings.data_dir, "kb ingest"):
        run = CliRunner().invoke(cli, ["serve"])
        assert run.exit_code == 1 and "`kb ingest`" in run.output and "is writing" in run.output
    assert ingest(settings, docs, embedder=embedder).counts()["added"] == 1


def test_a_stale_server_record_is_ignored(settings, docs, embedder):
    (docs / "a.md").write_text("# A\n\nThe heron protocol.", encoding="utf-8")
    record = settings.data_dir / SERVER_FILE
    settings.data_dir.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    for pid in (int(dead.stdout), os.getpid()):  # a dead process; a live one without the lock
        record.write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:9", "started_at": 0}))
        assert running_server(settings.data_dir) is None
    run = CliRunner().invoke(cli, ["ingest", str(docs), "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["added"] == 1


def test_kb_ingest_reports_the_same_through_the_server(served, tmp_path):
    docs, env, server = served
    with client(server.url) as http:
        samples = http.get("/api/status").json()["documents"]
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    (docs / "tool.exe").write_bytes(b"MZ\x90\x00")
    (docs / "faq.txt").write_text("Only this now.", encoding="utf-8")
    dry = run_kb(env, "ingest", str(docs), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert planned.keys() == {*COUNTS, "chunks", "seconds", "dry_run", "failures", "skips"}
    assert [planned[name] for name in COUNTS] == [1, 1, samples - 1, 0, 1, 0]
    assert planned["dry_run"] is True and [s["path"] for s in planned["skips"]] == ["tool.exe"]
    real = run_kb(env, "ingest", str(docs))
    assert real.returncode == 2  # a file failed: the same exit status as a local ingest
    assert "failed  broken.pdf" in real.stdout and "Ingest of" in real.stdout
    missing = run_kb(env, "ingest", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "is not a folder" in missing.stderr
