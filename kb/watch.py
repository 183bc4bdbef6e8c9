"""Folders that stay in sync: their changes are noticed through the operating system's
file events (`watchfiles`) and grouped into bursts. A burst ends once the folders have been
quiet for QUIET_MS (or MAX_BURST_MS after its first change), so saving 1,000 files is one
burst and one sync, not 1,000.

`kb watch DIR` (cli/watch.py) and `KB_WATCH` (server/watcher.py) both use this.
"""

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.collections import DEFAULT_COLLECTION, check_collection
from kb.errors import KBError

QUIET_MS = 500
MAX_BURST_MS = 10_000


@dataclass(frozen=True)
class WatchedFolder:
    path: Path  # absolute
    collection: str = DEFAULT_COLLECTION


def parse_watch(value: str | None) -> list[WatchedFolder]:
    """`KB_WATCH`: comma-separated folders, each `DIR` or `DIR=COLLECTION`."""
    folders = []
    for entry in (value or "").split(","):
        if not entry.strip():
            continue
        path, equals, collection = entry.strip().rpartition("=")
        if not equals or "/" in collection or not collection:
            path, collection = entry.strip(), DEFAULT_COLLECTION
        folders.append(WatchedFolder(watched_path(Path(path)), check_collection(collection)))
    return folders


def watched_path(path: Path) -> Path:
    folder = path.expanduser().resolve()
    if not folder.is_dir():
        raise KBError(f"cannot watch {folder}: it is not a folder")
    return folder


def bursts(folders: Sequence[Path], stop: threading.Event) -> Iterator[set[Path]]:
    """The folders (of `folders`) changed in each burst of changes, until `stop` is set."""
    import watchfiles  # its Rust extension loads only when something is watched

    changes_of = watchfiles.watch(
        *folders,
        debounce=MAX_BURST_MS,
        step=QUIET_MS,
        stop_event=stop,
        rust_timeout=1000,
        raise_interrupt=False,
        ignore_permission_denied=True,
    )
    for changes in changes_of:
        changed = {Path(path) for _, path in changes}
        yield {folder for folder in folders if any(p.is_relative_to(folder) for p in changed)}
