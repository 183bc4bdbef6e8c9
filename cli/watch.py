"""`kb watch DIR`: sync the folder now, then again after each burst of changes (kb.watch).

Each sync runs where `kb ingest` would: in the `kb serve` that owns the data dir if one
runs, else here, holding the writer lock only while it syncs (a server may start between
two syncs). A local watch loads the embedding model once, not once per sync. A sync that
fails is reported and the watch goes on. The folder is watched from before the first sync,
so a change made while a sync runs is never missed: it makes one more sync.
"""

import threading
from collections.abc import Callable
from pathlib import Path

from ingest.progress import ProgressCounter
from ingest.report import IngestReport
from kb.embedder import Embedder, create_embedder
from kb.errors import KBError
from kb.settings import Settings
from kb.watch import bursts

OnSync = Callable[[IngestReport | None, str | None], None]


class FolderWatch:
    def __init__(self, settings: Settings, folder: Path, collection: str, on_sync: OnSync) -> None:
        self.settings = settings
        self.folder = folder
        self.collection = collection
        self._on_sync = on_sync
        self._embedder: Embedder | None = None

    def run(self, stop: threading.Event) -> None:
        """Sync now and after each burst; changes made during a sync make one more."""
        changed = threading.Event()
        changed.set()

        def notice() -> None:
            for _ in bursts([self.folder], stop):
                changed.set()

        threading.Thread(target=notice, name="kb-watch", daemon=True).start()
        while not stop.is_set():
            if changed.wait(timeout=1):
                changed.clear()
                self.sync()

    def sync(self) -> None:
        try:
            report = self._ingest()
        except KBError as error:
            self._on_sync(None, str(error))
        else:
            self._on_sync(report, None)

    def _ingest(self) -> IngestReport:
        from cli.remote import ingest_in_server, server_for
        from ingest.pipeline import ingest

        server = server_for(self.settings)
        if server is not None:
            options = {
                "delete": True,
                "rebuild": False,
                "dry_run": False,
                "collection": self.collection,
            }
            return ingest_in_server(
                server, self.settings, self.folder, options, ProgressCounter(), _quiet
            )
        self._embedder = self._embedder or create_embedder(self.settings)
        return ingest(
            self.settings, self.folder, collection=self.collection, embedder=self._embedder
        )


def _quiet(_: str) -> None:
    """Where each sync runs is not news in a watch that runs many."""
