"""Articles published, updated or unpublished during the day, between nightly builds.

Every change is appended to a small SQLite log beside the index. Each worker
replays the log on top of the index it serves, so a change made through one
worker reaches the others (and survives restarts) at their next poll. A
nightly build from the CMS export, which is the source of truth, folds the
changes in: a version replays only the changes made after its export began
(recorded in its manifest), so a rollback to an older version replays more of
them; changes are pruned only once every kept version's export contains them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from recommender.indexing.corpus import Article, parse_article
from recommender.serving.publish import is_index_root
from recommender.serving.sqlite_file import LazyDatabase

CHANGES_FILE = "changes.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('put', 'delete')),
    article TEXT,
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_article ON changes (article_id, seq);
"""


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    article_id: str
    article: Article | None  # None: the article was unpublished
    changed_at: float


def default_changes_path(index_path: str | Path) -> Path:
    """ROOT/changes.sqlite3 for an index root, else a file beside the index directory."""
    index_path = Path(index_path)
    return index_path / CHANGES_FILE if is_index_root(index_path) else index_path.parent / CHANGES_FILE


class ChangeLog:
    """The log in a SQLite file, created by the first change: until then every read sees no change."""

    def __init__(self, path: str | Path) -> None:
        self._db = LazyDatabase(path, _SCHEMA, "the change log")
        self.path = self._db.path

    def _append(self, article_id: str, article: Article | None) -> int:
        payload = None if article is None else json.dumps(article.to_dict())
        operation = "delete" if article is None else "put"
        cursor = self._db.execute(
            "INSERT INTO changes (article_id, operation, article, changed_at) VALUES (?, ?, ?, ?)",
            (article_id, operation, payload, time.time()),
            create=True,
        )
        assert cursor is not None  # created
        return int(cursor.lastrowid or 0)

    def put(self, article: Article) -> int:
        return self._append(article.id, article)

    def delete(self, article_id: str) -> int:
        return self._append(article_id, None)

    def last_operation(self, article_id: str) -> str | None:
        """``"put"`` or ``"delete"``: the article's latest change in the log, whichever worker made it; None
        when the log has none."""
        cursor = self._db.execute(
            "SELECT operation FROM changes WHERE article_id = ? ORDER BY seq DESC LIMIT 1", (article_id,)
        )
        row = None if cursor is None else cursor.fetchone()
        return None if row is None else str(row[0])

    def since(self, seq: int) -> list[Change]:
        """Changes after ``seq``, in the order they were made."""
        cursor = self._db.execute(
            "SELECT seq, article_id, article, changed_at FROM changes WHERE seq > ? ORDER BY seq", (seq,)
        )
        rows = [] if cursor is None else cursor.fetchall()
        return [
            Change(number, article_id, None if payload is None else parse_article(json.loads(payload)), changed_at)
            for number, article_id, payload, changed_at in rows
        ]

    def count_before(self, moment: float) -> tuple[int, int]:
        """How many changes were made before ``moment``, and how many since."""
        cursor = self._db.execute(
            "SELECT COALESCE(SUM(changed_at < ?), 0), COALESCE(SUM(changed_at >= ?), 0) FROM changes",
            (moment, moment),
        )
        row = (0, 0) if cursor is None else cursor.fetchone()
        return int(row[0]), int(row[1])

    def prune(self, before: float) -> int:
        """Forget the changes made before ``before``: the export of every kept version contains them."""
        cursor = self._db.execute("DELETE FROM changes WHERE changed_at < ?", (before,))
        return 0 if cursor is None else cursor.rowcount

    def close(self) -> None:
        self._db.close()
