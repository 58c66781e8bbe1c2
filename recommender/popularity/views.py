"""Page views: what one is, who is not a reader, and the store interface that counts them.

Views are counted in hourly buckets per article, so storage grows with
articles x hours, not with views. Two stores hold the same counts: SQLite (the
embedded default, one file shared by the workers of one machine) and Redis
(shared by every replica behind a load balancer).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from crawlerdetect import CrawlerDetect

from recommender.popularity.clicks import Key

Clock = Callable[[], float]
HOUR = 3600
DAY = 24 * HOUR
DEDUPE_SECONDS = 30 * 60
WINDOWS = {"1h": 1, "24h": 24, "7d": 7 * 24}
DEFAULT_WINDOW = "24h"
LONGEST_WINDOW_HOURS = max(WINDOWS.values())
# A day's salt is kept for two days (views of its last minutes may be written after midnight), then deleted.
SALT_DAYS = 2
# Views a worker holds while its store is unavailable: about 15 MB, a few minutes of a busy site.
DEFAULT_MAX_PENDING = 100_000

# What crawlerdetect's maintained list does not call a crawler but a page's beacon never comes
# from: no User-Agent at all ("-" in access logs), and script runtimes that name only themselves.
_NOT_A_BROWSER = re.compile(r"\s*-?\s*|(?:Deno|Bun)/\S*", re.IGNORECASE)
# Longer User-Agents are checked without being cached, so junk headers cannot fill the cache.
_CACHED_AGENT_LENGTH = 512


@functools.cache
def _crawler_detect() -> CrawlerDetect:
    """One detector per process, built on first use (its patterns compile then, not at import)."""
    return CrawlerDetect()


@functools.lru_cache(maxsize=8192)
def _listed_crawler(user_agent: str) -> bool:
    # A site sees a few thousand distinct browser strings a day; the list's regex costs about 0.2 ms each.
    return bool(_crawler_detect().is_crawler(user_agent))


def is_bot(user_agent: str | None) -> bool:
    """True for crawlers, link previewers, headless browsers and HTTP libraries: their views are not readers'.

    The list is crawlerdetect's (maintained upstream, about 1,500 patterns, with exclusions
    for phones such as CUBOT whose names contain "bot"), plus an empty User-Agent.
    """
    if user_agent is None or _NOT_A_BROWSER.fullmatch(user_agent):
        return True
    if len(user_agent) > _CACHED_AGENT_LENGTH:
        return bool(_crawler_detect().is_crawler(user_agent))
    return _listed_crawler(user_agent)


def hour_of(timestamp: float) -> int:
    return int(timestamp // HOUR)


@dataclass(frozen=True, slots=True)
class View:
    """One page view. ``client`` (a digest of address and User-Agent) stands in for a missing visitor id."""

    article_id: str
    at: float
    visitor_id: str | None = None
    client: bytes | None = None


class ViewStore(Protocol):
    """Where counts live. Both implementations pass the same behavioural tests."""

    def add_views(self, views: Sequence[View]) -> int:
        """Count views, once per visitor and article per 30 minutes; returns how many counted."""
        ...

    def daily_salt(self, day: int) -> bytes:
        """The random salt of a UTC day (days since the epoch), created by whoever asks first; kept two days."""
        ...

    def add_counts(self, counts: dict[tuple[str, int], int]) -> None:
        """Add already-deduplicated counts per (article id, hour), e.g. from an access log."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers now (readiness)."""
        ...

    def add_click_counts(self, counts: Mapping[Key, tuple[int, int]]) -> None:
        """Add impressions and clicks per (hour, box, position, reason, index version)."""
        ...

    def click_counts(self, first_hour: int, last_hour: int) -> dict[Key, tuple[int, int]]: ...

    def hourly_counts(self, first_hour: int, last_hour: int) -> dict[str, dict[int, int]]:
        """Views per article per hour, for hours first_hour..last_hour inclusive."""
        ...

    def prune(self, before_hour: int, now: float) -> None:
        """Forget buckets older than before_hour and visitor marks older than the dedupe window."""
        ...

    def close(self) -> None: ...
