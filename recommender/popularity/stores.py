"""The two page-view stores: SQLite (embedded default) and Redis (several replicas).

``open_store(url)`` picks one from ``RECOMMENDER_POPULARITY_URL``: ``sqlite:///path`` or
``redis://host:port/db``. Both count a visitor's views of one article once per
30 minutes, measured with the timestamps they are given (so tests can use a
fake clock), and both raise StoreUnavailable instead of their drivers' errors.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from recommender.popularity.redis_store import RedisStore, redacted
from recommender.popularity.sqlite_store import SQLiteStore
from recommender.popularity.views import ViewStore

__all__ = ["default_store_url", "open_store", "redacted"]


def default_store_url(index_path: str | Path) -> str:
    """A SQLite file beside the index: where the service and ``import-views`` count by default."""
    return f"sqlite:///{Path(index_path).parent / 'popularity.sqlite3'}"


def open_store(url: str) -> ViewStore:
    """The store named by a RECOMMENDER_POPULARITY_URL: ``sqlite:///relative/or//absolute/path`` or ``redis://…``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ValueError(f"RECOMMENDER_POPULARITY_URL {url!r}: expected sqlite:///PATH")
        return SQLiteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        return RedisStore(url)
    raise ValueError(f"RECOMMENDER_POPULARITY_URL {url!r}: expected sqlite:///PATH or redis://HOST:PORT/DB")
