"""A small SQLite file that exists only once something was written to it.

The change log and the curation file are read by every worker at every reload
check, but written only through the admin API or the command line. A read-only
deployment (no admin token) must not create them: reading an absent file sees
an empty database and creates nothing; the first write creates the file (and
its directory). Once the file exists, one connection is kept, shared by the
request and watcher threads.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from recommender.errors import StoreUnavailable
from recommender.sqlite import connect


class LazyDatabase:
    def __init__(self, path: str | Path, schema: str, what: str) -> None:
        self.path = Path(path)
        self._schema = schema
        self._what = what  # "the change log": for messages
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _connection(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        with self._lock:
            if self._closed:
                raise StoreUnavailable(f"{self.path}: {self._what} is closed")
            if self._db is None and (create or self.path.exists()):
                try:
                    db = connect(self.path, self._schema)
                except (sqlite3.Error, OSError) as error:
                    raise StoreUnavailable(f"{self.path}: cannot open {self._what}: {error}") from error
                self._db = db
            return self._db

    def execute(self, sql: str, parameters: tuple[object, ...] = (), *, create: bool = False) -> sqlite3.Cursor | None:
        """The statement's cursor; None when the file does not exist and ``create`` is false (a read, or a
        delete: there is nothing to find, and nothing is created)."""
        db = self._connection(create)
        if db is None:
            return None
        try:
            return db.execute(sql, parameters)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"{self.path}: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._closed = True
            db, self._db = self._db, None
        if db is not None:
            db.close()
