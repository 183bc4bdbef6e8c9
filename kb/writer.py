"""Who writes to a data dir: one writer at a time, and where a running server answers.

The embedded Chroma and the SQLite catalog are safe to share between threads, never
between processes. So one process at a time holds the data dir's writer lock: a local
`kb ingest`, or `kb serve` for as long as it runs. The server also advertises itself in
`server.json` (pid and URL, written atomically, removed on exit), and the CLI hands it its
work instead of opening the index a second time. A record whose pid is dead, or whose
lock is free, is stale (a killed server) and ignored.

Standard library only: every CLI command reads this before deciding what to import.
"""

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from kb.errors import KBError

if TYPE_CHECKING:
    from kb.settings import Settings

LOCK_FILE = "writer.lock"
SERVER_FILE = "server.json"
# A reader probing the lock (running_server) holds it for microseconds; a writer that
# happens to try at that moment retries instead of failing.
LOCK_ATTEMPTS = 10
LOCK_RETRY_S = 0.05


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    url: str
    started_at: float


@contextlib.contextmanager
def writer_lock(data_dir: Path, holder: str) -> Iterator[None]:
    """Hold the data dir's writer lock; fails at once with who holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+") as handle:
        if not _try_lock(handle, fcntl.LOCK_EX, LOCK_ATTEMPTS):
            raise KBError(
                f"{_holder(handle)} is writing to {data_dir}; wait for it to finish, then try again"
            )
        handle.truncate(0)
        handle.write(f"{os.getpid()} {holder}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def index_lock(settings: "Settings", holder: str, wait: bool = False) -> Iterator[None]:
    """One ingest at a time per knowledge base: the data dir's writer lock, or for an index
    on servers PostgreSQL's advisory lock, which holds across machines. `wait` (servers
    only): queue behind the ingest that holds it instead of failing."""
    if settings.index_url:
        from kb.index.postgres import ingest_lock

        with ingest_lock(settings.index_url, settings.index_name, holder, wait):
            yield
    else:
        with writer_lock(settings.data_dir, holder):
            yield


@contextlib.contextmanager
def advertise(data_dir: Path, url: str) -> Iterator[None]:
    """Tell CLI commands on this data dir where this (lock-holding) server answers."""
    record = ServerRecord(os.getpid(), url, time.time())
    path = data_dir / SERVER_FILE
    partial = path.with_name(f".{SERVER_FILE}.{os.getpid()}")
    partial.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(partial, path)
    try:
        yield
    finally:
        if _read_record(path) == record:
            path.unlink(missing_ok=True)


def running_server(data_dir: Path) -> ServerRecord | None:
    """The server that holds this data dir's writer lock, if one does."""
    record = _read_record(data_dir / SERVER_FILE)
    if record is None or not _alive(record.pid):
        return None
    try:
        handle = open(data_dir / LOCK_FILE)  # noqa: SIM115 (closed below, after the probe)
    except FileNotFoundError:
        return None
    with handle:
        if _try_lock(handle, fcntl.LOCK_SH, 1):
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None  # nobody holds the lock: the server is gone
        holder = handle.read().split(" ", 1)[0]
    return record if holder == str(record.pid) else None


def _try_lock(handle: IO[str], kind: int, attempts: int) -> bool:
    for attempt in range(attempts):
        try:
            fcntl.flock(handle, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(LOCK_RETRY_S)
    return False


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    pid, _, name = handle.read().strip().partition(" ")
    return f"`{name or 'kb ingest'}` (pid {pid or 'unknown'})"


def _read_record(path: Path) -> ServerRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerRecord(int(data["pid"]), str(data["url"]), float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
