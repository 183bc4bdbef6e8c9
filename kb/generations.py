"""Where the index lives: `<KB_DATA_DIR>/index`, or the generation its `CURRENT` file names.

`kb ingest --rebuild` builds a whole new generation (`index/gen-<time>`) next to the index
in use, and only when it is complete switches `CURRENT` to it with one atomic rename. So
the previous index answers searches until the new one is ready, and a rebuild that fails
part-way leaves it exactly as it was. An index that was never rebuilt has no `CURRENT`:
its files sit in `index/` itself. Only the writer (see kb.writer) cleans up what is no
longer current.
"""

import os
import shutil
import time
from pathlib import Path

POINTER = "CURRENT"
PARTIAL = ".CURRENT.partial"
PREFIX = "gen-"


def active_dir(index_root: Path) -> Path:
    try:
        name = (index_root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return index_root
    return index_root / name


def new_generation(index_root: Path) -> Path:
    directory = index_root / f"{PREFIX}{time.time_ns()}"
    directory.mkdir(parents=True)
    return directory


def activate(index_root: Path, generation: Path) -> None:
    """Make `generation` the index every later open sees (atomic)."""
    partial = index_root / PARTIAL
    partial.write_text(generation.name, encoding="utf-8")
    os.replace(partial, index_root / POINTER)


def remove_inactive(index_root: Path) -> None:
    """Delete every generation that is not current: the one a rebuild replaced, or one
    a failed or killed rebuild left behind."""
    if not index_root.is_dir():
        return
    active = active_dir(index_root)
    for entry in index_root.iterdir():
        if entry == active or entry.name == POINTER:
            continue
        if active == index_root and not entry.name.startswith((PREFIX, PARTIAL)):
            continue  # the files of an index that was never rebuilt
        remove_path(entry)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
