"""Folders that stay in sync: `kb watch` (a real process), KB_WATCH in the server, and one
sync per burst of changes."""

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.report import IngestReport
from ingest.scan import scan
from kb.errors import KBError
from kb.settings import Settings
from kb.watch import WatchedFolder, parse_watch
from server.app import create_app
from server.jobs import IngestRequest
from server.syncs import Syncs
from server.watcher import FolderWatcher
from tests.serving import REPO, LiveServer, kb_env

BOUND_S = 120  # a change must be synced within this


class WatchProcess:
    """`kb watch DIR --json`, its JSON lines read as they come."""

    def __init__(self, folder: Path, data_dir: Path) -> None:
        command = [sys.executable, "-c", "from cli.main import main; main()", "watch", "--json"]
        self.process = subprocess.Popen(
            [*command, str(folder)],
            env=kb_env(data_dir),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def next_sync(self) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=BOUND_S)
        except queue.Empty:
            raise AssertionError(f"no sync within {BOUND_S} s") from None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def watching(docs: Path, data_dir: Path) -> Iterator[WatchProcess]:
    (docs / "first.md").write_text("# First\n\nThe first note is about herons.\n")
    process = WatchProcess(docs, data_dir)
    try:
        yield process
    finally:
        process.stop()


def counts(sync: dict[str, Any]) -> dict[str, int]:
    assert sync["error"] is None, sync
    names = ("added", "updated", "deleted", "failed")
    return {name: sync[name] for name in names if sync[name]}


def test_kb_watch_picks_up_create_modify_rename_and_delete(
    watching: WatchProcess, docs: Path
) -> None:
    assert counts(watching.next_sync()) == {"added": 1}
    (docs / "second.md").write_text("# Second\n\nThe second note is about cranes.\n")
    assert counts(watching.next_sync()) == {"added": 1}
    (docs / "second.md").write_text("# Second\n\nThe second note is now about storks.\n")
    assert counts(watching.next_sync()) == {"updated": 1}
    (docs / "sub").mkdir()
    (docs / "second.md").rename(docs / "sub" / "renamed.md")
    assert counts(watching.next_sync()) == {"added": 1, "deleted": 1}
    (docs / "first.md").unlink()
    assert counts(watching.next_sync()) == {"deleted": 1}


def test_a_burst_of_1000_files_is_one_sync(docs: Path) -> None:
    seen: list[int] = []  # files each sync found

    def work(request: IngestRequest, progress: Any) -> IngestReport:
        found, _, _ = scan(Path(request.root), 2**20)
        seen.append(len(found))
        return IngestReport(root=request.root)

    syncs = Syncs(work)
    watcher = FolderWatcher(syncs, [WatchedFolder(docs.resolve())])
    watcher.start()
    try:
        wait_until(lambda: seen == [0])
        time.sleep(1)  # let the watch start before the burst
        for n in range(1000):
            (docs / f"note{n:04}.md").write_text(f"note {n}")
        wait_until(lambda: seen[-1:] == [1000])
        (docs / "last.md").write_text("the end of the burst")
        wait_until(lambda: seen[-1:] == [1001])
    finally:
        watcher.close()
        syncs.close()
    assert seen == [0, 1000, 1001]


def test_kb_watch_setting_syncs_at_start_and_after_a_change(
    settings: Settings, embedder: Any, docs: Path
) -> None:
    (docs / "kestrel.md").write_text("# Kestrel\n\nKestrels hover over the meadow.\n")
    watched = settings.model_copy(update={"watch": f"{docs}=default"})
    with LiveServer(create_app(watched, embedder=embedder)) as server, httpx.Client() as http:
        url = server.url

        def synced() -> dict[str, Any] | None:
            folders = http.get(f"{url}/api/library/folders").json()
            last: dict[str, Any] | None = folders[0]["last_sync"] if folders else None
            return last

        wait_until(lambda: (synced() or {}).get("state") == "done")
        (folder,) = http.get(f"{url}/api/library/folders").json()
        assert folder["watched"] and folder["folder"] == str(docs.resolve())
        assert folder["documents"] == 1
        (docs / "osprey.md").write_text("# Osprey\n\nOspreys dive for fish.\n")
        wait_until(lambda: http.get(f"{url}/api/library/documents").json()["total"] == 2)
        hits = http.post(f"{url}/api/search", json={"query": "ospreys dive", "k": 1}).json()
        assert hits[0]["source"] == "osprey.md"


def test_kb_watch_setting_is_checked(docs: Path) -> None:
    assert parse_watch(f" {docs} , {docs}=team ") == [
        WatchedFolder(docs.resolve()),
        WatchedFolder(docs.resolve(), "team"),
    ]
    with pytest.raises(KBError, match="not a folder"):
        parse_watch(str(docs / "missing"))


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not within the bound")
        time.sleep(0.05)
