"""How every SQLite file of the project is opened: the same settings for counts, the change log and curation."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30  # another process's write transaction is waited for, not failed on


def connect(path: Path, schema: str = "", *, durable: bool = True) -> sqlite3.Connection:
    """A connection shared by a process's threads (callers serialise writes with their own lock), in
    autocommit mode (callers open their transactions), in WAL mode, so that readers never wait for a
    writer and several processes can write; ``schema`` is run once, idempotent DDL. Without ``durable``
    a commit survives a killed process but not a power cut, at a fraction of the cost (page-view counts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        _set_up(db, schema, durable)
    except BaseException:
        db.close()
        raise
    return db


def _set_up(db: sqlite3.Connection, schema: str, durable: bool) -> None:
    """WAL mode and the schema, retried while another process does the same to a new file.

    Switching a new file to WAL takes an exclusive lock, and SQLite answers "database is locked" at
    once, without its busy timeout, to the other processes that try it at that moment: gunicorn's
    workers all open the store as they boot, and one of them failing to boot stops the server.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            if not durable:
                db.execute("PRAGMA synchronous=NORMAL")
            if schema:
                db.executescript(schema)
            return
        except sqlite3.OperationalError as error:
            locked = "locked" in str(error) or "busy" in str(error)
            if not locked or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)  # a retry's back-off, not a wait for a condition
        pause = min(pause * 2, 0.2)
