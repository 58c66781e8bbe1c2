"""Editors' corrections to an article's "More like this": articles pinned first, articles blocked.

Kept in a small SQLite file beside the change log, apart from the index
versions, so that curation survives every rebuild and rollback; each worker
reads it whenever it checks for a new version, so a change reaches every worker
within the reload interval.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from recommender.serving.sqlite_file import LazyDatabase

CURATION_FILE = "curation.sqlite3"
MAX_CURATED = 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curation (
    article_id TEXT PRIMARY KEY,
    pinned TEXT NOT NULL,
    blocked TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Curation:
    pinned: tuple[str, ...] = ()  # shown first, in this order
    blocked: frozenset[str] = field(default_factory=frozenset)  # never shown under the article

    def to_dict(self) -> dict[str, list[str]]:
        return {"pinned": list(self.pinned), "blocked": sorted(self.blocked)}


NONE = Curation()


def parse_curation(article_id: str, body: object) -> Curation:
    """``{"pinned": [ids], "blocked": [ids]}``; ValueError with a reason for any other shape."""
    if not isinstance(body, Mapping) or set(body) - {"pinned", "blocked"}:
        raise ValueError('the body must be {"pinned": [ids], "blocked": [ids]}')
    lists = {}
    for name in ("pinned", "blocked"):
        ids = body.get(name, [])
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ValueError(f"{name} must be a list of article ids")
        if len(ids) > MAX_CURATED:
            raise ValueError(f"{name} holds {len(ids)} ids, more than {MAX_CURATED}")
        if article_id in ids:
            raise ValueError(f"an article cannot be {name} under itself")
        lists[name] = ids
    both = set(lists["pinned"]) & set(lists["blocked"])
    if both:
        raise ValueError(f"pinned and blocked at once: {', '.join(sorted(both))}")
    return Curation(tuple(dict.fromkeys(lists["pinned"])), frozenset(lists["blocked"]))


def default_curation_path(changes_path: str | Path) -> Path:
    return Path(changes_path).parent / CURATION_FILE


class CurationStore:
    """Pins and blocks in a SQLite file, created by the first one stored: until then there are none."""

    def __init__(self, path: str | Path) -> None:
        self._db = LazyDatabase(path, _SCHEMA, "the curation store")
        self.path = self._db.path

    def put(self, article_id: str, curation: Curation) -> None:
        row = (article_id, json.dumps(list(curation.pinned)), json.dumps(sorted(curation.blocked)), time.time())
        self._db.execute("INSERT OR REPLACE INTO curation VALUES (?, ?, ?, ?)", row, create=True)

    def clear(self, article_id: str) -> None:
        self._db.execute("DELETE FROM curation WHERE article_id = ?", (article_id,))

    def all(self) -> dict[str, Curation]:
        cursor = self._db.execute("SELECT article_id, pinned, blocked FROM curation")
        rows = [] if cursor is None else cursor.fetchall()
        return {row[0]: Curation(tuple(json.loads(row[1])), frozenset(json.loads(row[2]))) for row in rows}

    def close(self) -> None:
        self._db.close()
