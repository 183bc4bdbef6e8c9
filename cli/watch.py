"""`kb watch DIR`: sync the folder now, then again after each burst of changes (kb.watch).

Each sync runs where `kb ingest` would: in the `kb serve` that owns the data dir if one
runs, else here, holding the writer lock only while it syncs (a server may start between
two syncs). A local watch loads the embedding model once, not once per sync. A sync that
fails is reported and the watch goes on.
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
        self.sync()
        for _ in bursts([self.folder], stop):
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
            options = {"delete": True, "rebuild": False, "dry_run": False}
            return ingest_in_server(
                server, self.settings, self.folder, options, ProgressCounter(), _quiet
            )
        self._embedder = self._embedder or create_embedder(self.settings)
        return ingest(self.settings, self.folder, embedder=self._embedder)


def _quiet(_: str) -> None:
    """Where each sync runs is not news in a watch that runs many."""
