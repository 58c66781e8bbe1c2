"""The two page-view stores: SQLite (embedded default) and Redis (several replicas).

``open_store(url)`` picks one from ``POPULARITY_URL``: ``sqlite:///path`` or
``redis://host:port/db``. Both count a visitor's views of one article once per
30 minutes, measured with the timestamps they are given (so tests can use a
fake clock), and both raise StoreUnavailable instead of their drivers' errors.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import redis

from recommender.errors import StoreUnavailable
from recommender.popularity.clicks import Key
from recommender.popularity.views import DAY, DEDUPE_SECONDS, HOUR, LONGEST_WINDOW_HOURS, View, ViewStore, hour_of

# A day's salt is kept for two days (views of its last minutes may be written after midnight), then deleted.
SALT_DAYS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS view_counts (
    article_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    views INTEGER NOT NULL,
    PRIMARY KEY (article_id, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS view_counts_hour ON view_counts (hour);
CREATE TABLE IF NOT EXISTS recent_visits (
    visitor_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    counted_at REAL NOT NULL,
    PRIMARY KEY (visitor_id, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recent_visits_counted_at ON recent_visits (counted_at);
CREATE TABLE IF NOT EXISTS click_counts (
    hour INTEGER NOT NULL,
    box TEXT NOT NULL,
    position INTEGER NOT NULL,
    reason TEXT NOT NULL,
    index_version TEXT NOT NULL,
    impressions INTEGER NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (hour, box, position, reason, index_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily_salts (
    day INTEGER PRIMARY KEY,
    salt BLOB NOT NULL
);
"""

_ADD_CLICKS = """
INSERT INTO click_counts VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hour, box, position, reason, index_version)
DO UPDATE SET impressions = impressions + excluded.impressions, clicks = clicks + excluded.clicks
"""

_ADD_COUNT = """
INSERT INTO view_counts (article_id, hour, views) VALUES (?, ?, ?)
ON CONFLICT (article_id, hour) DO UPDATE SET views = views + excluded.views
"""

# Inserts a visitor's mark, or moves it forward once the window has passed;
# rowcount says whether the view counts.
_MARK_VISIT = """
INSERT INTO recent_visits (visitor_id, article_id, counted_at) VALUES (?, ?, ?)
ON CONFLICT (visitor_id, article_id) DO UPDATE SET counted_at = excluded.counted_at
WHERE excluded.counted_at >= recent_visits.counted_at + ?
"""


class SQLiteStore:
    """Counts in one SQLite file in WAL mode, safe for several processes writing at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode, NORMAL survives a killed process (not a power cut) at a fraction of FULL's cost.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            # Reads (the Popular refresh) have their own connection: in WAL mode they never wait for a writer,
            # and never for the flusher's lock.
            self._read_db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"{self.path}: cannot open page-view database: {error}") from error
        self._read_lock = threading.Lock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the lock keeps the flusher and request threads apart."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                raise StoreUnavailable(f"{self.path}: {error}") from error

    def add_views(self, views: Sequence[View]) -> int:
        counts: dict[tuple[str, int], int] = {}
        with self._transaction() as db:
            for view in views:
                if view.visitor_id is not None:
                    marked = db.execute(_MARK_VISIT, (view.visitor_id, view.article_id, view.at, DEDUPE_SECONDS))
                    if marked.rowcount != 1:
                        continue
                key = (view.article_id, hour_of(view.at))
                counts[key] = counts.get(key, 0) + 1
            db.executemany(_ADD_COUNT, [(a, h, n) for (a, h), n in counts.items()])
            # Marks past the dedupe window decide nothing any more: forget them with every batch, so the
            # table holds about 30 minutes of visitors, not the hour between prunes.
            if views:
                db.execute(
                    "DELETE FROM recent_visits WHERE counted_at < ?", (max(v.at for v in views) - DEDUPE_SECONDS,)
                )
        return sum(counts.values())

    def daily_salt(self, day: int) -> bytes:
        with self._transaction() as db:
            db.execute("DELETE FROM daily_salts WHERE day < ?", (day - SALT_DAYS + 1,))
            db.execute("INSERT OR IGNORE INTO daily_salts (day, salt) VALUES (?, ?)", (day, secrets.token_bytes(32)))
            return db.execute("SELECT salt FROM daily_salts WHERE day = ?", (day,)).fetchone()[0]

    def add_counts(self, counts: dict[tuple[str, int], int]) -> None:
        with self._transaction() as db:
            db.executemany(_ADD_COUNT, [(a, h, n) for (a, h), n in counts.items()])

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers a read."""
        try:
            with self._read_lock:
                self._read_db.execute("SELECT 1 FROM view_counts LIMIT 1").fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"{self.path}: {error}") from error

    def add_click_counts(self, counts: Mapping[Key, tuple[int, int]]) -> None:
        with self._transaction() as db:
            db.executemany(_ADD_CLICKS, [(*key, impressions, clicks) for key, (impressions, clicks) in counts.items()])

    def click_counts(self, first_hour: int, last_hour: int) -> dict[Key, tuple[int, int]]:
        with self._read_lock:
            try:
                rows = self._read_db.execute(
                    "SELECT * FROM click_counts WHERE hour BETWEEN ? AND ?", (first_hour, last_hour)
                ).fetchall()
            except sqlite3.Error as error:
                raise StoreUnavailable(f"{self.path}: {error}") from error
        return {(row[0], row[1], row[2], row[3], row[4]): (row[5], row[6]) for row in rows}

    def hourly_counts(self, first_hour: int, last_hour: int) -> dict[str, dict[int, int]]:
        with self._read_lock:
            try:
                rows = self._read_db.execute(
                    "SELECT article_id, hour, views FROM view_counts WHERE hour BETWEEN ? AND ?",
                    (first_hour, last_hour),
                ).fetchall()
            except sqlite3.Error as error:
                raise StoreUnavailable(f"{self.path}: {error}") from error
        counts: dict[str, dict[int, int]] = {}
        for article_id, hour, views in rows:
            counts.setdefault(article_id, {})[hour] = views
        return counts

    def prune(self, before_hour: int, now: float) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM view_counts WHERE hour < ?", (before_hour,))
            db.execute("DELETE FROM click_counts WHERE hour < ?", (before_hour,))
            db.execute("DELETE FROM recent_visits WHERE counted_at < ?", (now - DEDUPE_SECONDS,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._read_lock:
            self._read_db.close()


# KEYS: visitor mark, hour hash. ARGV: now, article id, mark TTL, hash TTL, dedupe seconds.
# The comparison uses the caller's clock; Redis TTLs only collect garbage.
_COUNT_VISIT = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(ARGV[1]) < tonumber(last) + tonumber(ARGV[5]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


class RedisStore:
    """The same counts in Redis: one hash per hour (article id -> views), expiring after the longest window."""

    def __init__(self, url: str, prefix: str = "recommender:") -> None:
        self._errors = (redis.RedisError, OSError)
        self.url = url
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._count_visit = self._redis.register_script(_COUNT_VISIT)

    def _hour_key(self, hour: int) -> str:
        return f"{self.prefix}views:{hour}"

    def _hash_ttl(self, hour: int, now: float) -> int:
        return max(60, int((hour + 2 + LONGEST_WINDOW_HOURS) * HOUR - now))

    def add_views(self, views: Sequence[View]) -> int:
        try:
            pipeline = self._redis.pipeline(transaction=False)
            for view in views:
                hour = hour_of(view.at)
                hour_key = self._hour_key(hour)
                if view.visitor_id is None:
                    pipeline.hincrby(hour_key, view.article_id, 1)
                    pipeline.expire(hour_key, self._hash_ttl(hour, view.at))
                    continue
                mark = f"{self.prefix}seen:{view.article_id}:{view.visitor_id}"
                self._count_visit(
                    keys=[mark, hour_key],
                    args=[repr(view.at), view.article_id, DEDUPE_SECONDS + 60, self._hash_ttl(hour, view.at),
                          DEDUPE_SECONDS],
                    client=pipeline,
                )  # fmt: skip
            results = pipeline.execute()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error
        counted = 0
        position = 0
        for view in views:
            if view.visitor_id is None:
                counted += 1
                position += 2
            else:
                counted += int(results[position])
                position += 1
        return counted

    def daily_salt(self, day: int) -> bytes:
        key = f"{self.prefix}salt:{day}"
        try:
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.set(key, secrets.token_bytes(32), nx=True, ex=SALT_DAYS * DAY)
            pipeline.get(key)
            return pipeline.execute()[1]
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error

    def add_counts(self, counts: dict[tuple[str, int], int]) -> None:
        try:
            pipeline = self._redis.pipeline(transaction=False)
            for (article_id, hour), views in counts.items():
                pipeline.hincrby(self._hour_key(hour), article_id, views)
                pipeline.expire(self._hour_key(hour), self._hash_ttl(hour, hour * HOUR), nx=True)
            pipeline.execute()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers within the socket timeout (0.5 s)."""
        try:
            self._redis.ping()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error

    def add_click_counts(self, counts: Mapping[Key, tuple[int, int]]) -> None:
        """One hash per hour; a field per (box, position, reason, version) and kind, "i" or "c"."""
        try:
            pipeline = self._redis.pipeline(transaction=False)
            for (hour, box, position, reason, version), (impressions, clicks) in counts.items():
                key = f"{self.prefix}clicks:{hour}"
                field = "\x1f".join((box, str(position), reason, version))
                pipeline.hincrby(key, f"{field}\x1fi", impressions)
                pipeline.hincrby(key, f"{field}\x1fc", clicks)
                pipeline.expire(key, self._hash_ttl(hour, hour * HOUR))
            pipeline.execute()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error

    def click_counts(self, first_hour: int, last_hour: int) -> dict[Key, tuple[int, int]]:
        try:
            pipeline = self._redis.pipeline(transaction=False)
            hours = range(first_hour, last_hour + 1)
            for hour in hours:
                pipeline.hgetall(f"{self.prefix}clicks:{hour}")
            replies = pipeline.execute()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error
        counts: dict[Key, tuple[int, int]] = {}
        for hour, fields in zip(hours, replies, strict=True):
            for raw, value in fields.items():
                box, position, reason, version, kind = raw.decode().split("\x1f")
                key = (hour, box, int(position), reason, version)
                impressions, clicks = counts.get(key, (0, 0))
                counts[key] = (impressions + int(value), clicks) if kind == "i" else (impressions, clicks + int(value))
        return counts

    def hourly_counts(self, first_hour: int, last_hour: int) -> dict[str, dict[int, int]]:
        hours = range(first_hour, last_hour + 1)
        try:
            pipeline = self._redis.pipeline(transaction=False)
            for hour in hours:
                pipeline.hgetall(self._hour_key(hour))
            buckets = pipeline.execute()
        except self._errors as error:
            raise StoreUnavailable(f"redis {redacted(self.url)}: {error}") from error
        counts: dict[str, dict[int, int]] = {}
        for hour, bucket in zip(hours, buckets, strict=True):
            for article_id, views in bucket.items():
                counts.setdefault(article_id.decode(), {})[hour] = int(views)
        return counts

    def prune(self, before_hour: int, now: float) -> None:
        """Nothing to do: every key expires on its own."""

    def close(self) -> None:
        self._redis.close()


def default_store_url(index_path: str | Path) -> str:
    """A SQLite file beside the index: where the service and ``import-views`` count by default."""
    return f"sqlite:///{Path(index_path).parent / 'popularity.sqlite3'}"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def open_store(url: str) -> ViewStore:
    """The store named by a POPULARITY_URL: ``sqlite:///relative/or//absolute/path`` or ``redis://…``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise ValueError(f"POPULARITY_URL {url!r}: expected sqlite:///PATH")
        return SQLiteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        return RedisStore(url)
    raise ValueError(f"POPULARITY_URL {url!r}: expected sqlite:///PATH or redis://HOST:PORT/DB")
