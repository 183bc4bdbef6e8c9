"""The `kb` command as a real process: whatever users or documents put in names, questions
and text is printed as it is, and odd bytes never crash it."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from ingest.pipeline import ingest
from kb.settings import Settings
from tests.serving import following, kb_env, tool_call

KB = Path(sys.executable).parent / "kb"
MARKUP = "Tick [x] when done, see [note], never [/bold] or [red]"


def run_kb(*args: str | bytes) -> subprocess.CompletedProcess[str]:
    """`kb ARGS` with the test's data dir (KB_DATA_DIR), wide enough that nothing wraps."""
    env = {**os.environ, "COLUMNS": "400"}
    argv = [os.fsencode(KB), *(os.fsencode(arg) for arg in args)]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=600)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def test_logs_print_questions_and_sources_literally(settings: Settings):
    record = {
        "time": "2025-01-01T12:00:00.000+00:00",
        "user": "[bold]eve",
        "thread": "thr_[1]",
        "call_id": "call_1",
        "tool": "search_docs",
        "arguments": {"query": f"why {MARKUP}"},
        "duration_ms": 12.0,
        "results": [
            {"rank": 1, "chunk_id": "c", "source": "[draft].md", "page": None, "score": 0.5}
        ],
        "error": None,
    }
    settings.logs_dir.mkdir(parents=True)
    (settings.logs_dir / "tool_calls.jsonl").write_text(json.dumps(record) + "\n")
    done = run_kb("logs")
    assert done.returncode == 0, done.stderr
    for text in (f"why {MARKUP}", "[bold]eve", "thr_[1]", "[draft].md"):
        assert text in done.stdout


async def test_logs_follow_prints_calls_as_the_server_appends_them(settings: Settings):
    settings.logs_dir.mkdir(parents=True)
    with settings.tool_log.open("w") as log:
        log.write(tool_call("ann", "thr_1", "first").model_dump_json() + "\n")
    async with following(kb_env(settings.data_dir), "-n", "1") as next_record:
        assert (await next_record())["arguments"]["query"] == "first"
        with settings.tool_log.open("a") as log:
            log.write(tool_call("ann", "thr_1", "second").model_dump_json() + "\n")
        assert (await next_record())["arguments"]["query"] == "second"


def test_logs_on_a_database_that_does_not_answer_say_which(monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("KB_DATABASE_URL", f"postgresql+asyncpg://kb:secret@127.0.0.1:{port}/team")
    done = run_kb("logs")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    shown = f"kb:***@127.0.0.1:{port}/team"  # where it looked, without the password
    assert "cannot read the chat database (KB_DATABASE_URL)" in done.stderr and shown in done.stderr


def test_search_prints_markup_like_text_literally(settings: Settings, docs: Path, embedder):
    (docs / "[draft] notes.md").write_text(
        f"# Setup [red]guide[/red]\n\nThe zebra checklist. {MARKUP}.\n", encoding="utf-8"
    )
    assert ingest(settings, docs, embedder=embedder).exit_code == 0
    done = run_kb("search", "zebra checklist", "--mode", "lexical")
    assert done.returncode == 0, done.stderr
    for text in ("[draft] notes.md", "Setup [red]guide[/red]", MARKUP):
        assert text in done.stdout


def test_query_with_undecodable_bytes_still_searches(settings: Settings, docs: Path, embedder):
    (docs / "zebra.md").write_text("# Zebra\n\nThe zebra crossing is painted white.\n")
    assert ingest(settings, docs, embedder=embedder).exit_code == 0
    done = run_kb("search", b"\xff zebra crossing")  # what a shell passes for $'\xff ...'
    assert done.returncode == 0, done.stderr
    assert "zebra.md" in done.stdout


def test_file_name_that_is_not_utf8_fails_alone_and_the_rest_is_indexed(
    settings: Settings, docs: Path
):
    (docs / "good.md").write_text("# Good\n\nThe heron nests by the river.\n")
    bad_name = os.path.join(os.fsencode(docs), b"caf\xe9 notes.md")
    with open(bad_name, "wb") as handle:
        handle.write(b"# Cafe\n\nAn espresso costs two euros.\n")
    (docs / "[bold]broken.pdf").write_bytes(b"not a PDF [/bold] at all")
    first = run_kb("ingest", str(docs), "--json")
    assert first.returncode == 2, first.stderr  # some files failed, the rest is indexed
    report = json.loads(first.stdout)
    assert (report["added"], report["failed"]) == (1, 2)
    failures = {failure["path"]: failure["error"] for failure in report["failures"]}
    assert "not valid UTF-8" in failures["caf\\xe9 notes.md"]
    assert "[bold]broken.pdf" in failures
    again = run_kb("ingest", str(docs))  # the table; the same one failure, nothing else lost
    assert again.returncode == 2, again.stderr
    assert "caf\\xe9 notes.md" in again.stdout and "[bold]broken.pdf" in again.stdout
    found = run_kb("search", "heron nests", "--mode", "lexical", "--json")
    assert [hit["source"] for hit in json.loads(found.stdout)] == ["good.md"]


def test_serve_refuses_workers_on_the_embedded_index_naming_the_settings():
    done = run_kb("serve", "--workers", "2")
    assert done.returncode == 1
    for setting in ("KB_INDEX_URL", "KB_CHROMA_URL", "KB_DATABASE_URL"):
        assert setting in done.stderr


def test_unreachable_index_servers_are_one_clear_error_without_the_password(monkeypatch):
    monkeypatch.setenv("KB_INDEX_URL", "postgresql://kb:s3cret-pw@127.0.0.1:1/kb")
    monkeypatch.setenv("KB_CHROMA_URL", "http://127.0.0.1:1")
    done = run_kb("status")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "cannot use the index database 127.0.0.1:1/kb (KB_INDEX_URL)" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
    monkeypatch.setenv("KB_INDEX_URL", "postgresql://kb@127.0.0.1:5432/kb")
    monkeypatch.delenv("KB_CHROMA_URL")
    done = run_kb("search", "anything")
    assert done.returncode == 1 and "KB_CHROMA_URL is not set" in done.stderr
