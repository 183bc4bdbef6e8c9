"""SQLite files that several processes open at once (the catalog, the OCR cache)."""

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_S = 30
RETRY_S = 0.01


def connect_wal(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection in autocommit and WAL mode that waits up to BUSY_TIMEOUT_S for locks.

    Connections that open a new database together can deadlock switching it to WAL, and
    SQLite then answers one of them "database is locked" at once, without its busy
    timeout (seen with two parsing processes and the OCR cache); that one tries again."""
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=check_same_thread
    )
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return db
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(RETRY_S)
