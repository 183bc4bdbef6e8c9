"""SQLite files that several processes open at once (the catalog, the OCR cache, the
embedding cache)."""

import sqlite3
import time

BUSY_TIMEOUT_S = 30
RETRY_S = 0.01


def use_wal(db: sqlite3.Connection) -> sqlite3.Connection:
    """`db` switched to WAL mode (readers beside the one writer), returned.

    Connections that open a new database together can deadlock switching it to WAL, and
    SQLite then answers one of them "database is locked" at once, without its busy
    timeout (seen with two parsing processes and the OCR cache); that one tries again,
    for up to BUSY_TIMEOUT_S."""
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
