"""Page views in Redis, shared by replicas behind a load balancer: one hash per hour, expiring after a week."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import redis

from recommender.errors import StoreUnavailable
from recommender.popularity.clicks import Key
from recommender.popularity.views import DAY, DEDUPE_SECONDS, HOUR, LONGEST_WINDOW_HOURS, SALT_DAYS, View, hour_of


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


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
            salt: bytes = pipeline.execute()[1]
            return salt
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
