"""How every SQLite file of the project is opened: the same settings for counts, the change log and curation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 30  # another process's write transaction is waited for, not failed on


def connect(path: Path, schema: str = "", *, durable: bool = True) -> sqlite3.Connection:
    """A connection shared by a process's threads (callers serialise writes with their own lock), in
    autocommit mode (callers open their transactions), in WAL mode, so that readers never wait for a
    writer and several processes can write; ``schema`` is run once, idempotent DDL. Without ``durable``
    a commit survives a killed process but not a power cut, at a fraction of the cost (page-view counts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    if not durable:
        db.execute("PRAGMA synchronous=NORMAL")
    if schema:
        db.executescript(schema)
    return db
