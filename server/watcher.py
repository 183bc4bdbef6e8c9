"""`KB_WATCH` in the server: each watched folder is synced when the server starts and after
each burst of changes in it (kb.watch), as a job of the server's one writer."""

import logging
import threading
from collections.abc import Sequence

from kb.watch import WatchedFolder, bursts
from server.syncs import Syncs

logger = logging.getLogger("kb.watch")


class FolderWatcher:
    def __init__(self, syncs: Syncs, folders: Sequence[WatchedFolder]) -> None:
        self.folders = list(folders)
        self._syncs = syncs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-watch", daemon=True)

    def start(self) -> None:
        if not self.folders:
            return
        self._thread.start()  # before the first syncs: no change in between goes unseen
        for folder in self.folders:
            self._sync(folder)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        by_path = {folder.path: folder for folder in self.folders}
        try:
            for changed in bursts(list(by_path), self._stop):
                for path in changed:
                    self._sync(by_path[path])
        except Exception:  # a watch that died: logged, the server goes on serving
            logger.exception("watching %s stopped", ", ".join(map(str, by_path)))

    def _sync(self, folder: WatchedFolder) -> None:
        view = self._syncs.request(folder.path, folder.collection)
        logger.info("sync of %s: job %s", folder.path, view.job_id)
