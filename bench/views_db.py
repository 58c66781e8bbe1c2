"""The SQLite page-view store read directly, to check what a load test's server stored."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path


def stored_views(database: Path) -> Counter:
    """Views per article as the SQLite store holds them, read directly."""
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT article_id, SUM(views) FROM view_counts GROUP BY article_id").fetchall()
        return Counter(dict(rows))
    finally:
        connection.close()


def integrity(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
