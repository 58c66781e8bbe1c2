"""Page views and the Popular list.

Views are counted in hourly buckets per article, so storage grows with
articles x hours, not with views. Two stores hold the same counts: SQLite (the
embedded default, one file shared by the workers of one machine) and Redis
(shared by every replica behind a load balancer). ``ViewRecorder`` buffers
views in memory and writes them in one batch per flush interval, so the
request path never waits for a disk or a network.

The ranking is a decayed sum: a view ``age`` hours old weighs
``0.5 ** (age / half_life)``, where the half-life is a quarter of the window
(15 minutes for 1h, 6 hours for 24h, 42 hours for 7d). Ties go to the newest
article (by ``published_at``), then to the one viewed most recently.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from crawlerdetect import CrawlerDetect

from recommender.errors import StoreUnavailable
from recommender.popularity.clicks import Key
from recommender.popularity.events import anonymous_visitor_id

log = logging.getLogger(__name__)

Clock = Callable[[], float]
HOUR = 3600
DAY = 24 * HOUR
DEDUPE_SECONDS = 30 * 60
WINDOWS = {"1h": 1, "24h": 24, "7d": 7 * 24}
DEFAULT_WINDOW = "24h"
LONGEST_WINDOW_HOURS = max(WINDOWS.values())
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
    return _crawler_detect().is_crawler(user_agent)


def is_bot(user_agent: str | None) -> bool:
    """True for crawlers, link previewers, headless browsers and HTTP libraries: their views are not readers'.

    The list is crawlerdetect's (maintained upstream, about 1,500 patterns, with exclusions
    for phones such as CUBOT whose names contain "bot"), plus an empty User-Agent.
    """
    if user_agent is None or _NOT_A_BROWSER.fullmatch(user_agent):
        return True
    if len(user_agent) > _CACHED_AGENT_LENGTH:
        return _crawler_detect().is_crawler(user_agent)
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


def count_by_bucket(views: Iterable[View]) -> dict[tuple[str, int], int]:
    return dict(Counter((view.article_id, hour_of(view.at)) for view in views))


@dataclass(frozen=True, slots=True)
class Ranked:
    article_id: str
    score: float
    views: int
    last_hour: int


def _no_recency(article_id: str) -> float:
    return 0.0


def rank(
    counts: dict[str, dict[int, int]], now: float, window: str, recency: Callable[[str], float] = _no_recency
) -> list[Ranked]:
    """Articles by decayed views within the window, best first.

    The oldest bucket of the window counts only for the part of its hour that
    lies inside the window; views in it are assumed spread evenly.
    """
    hours = WINDOWS[window]
    half_life = hours / 4
    current = now / HOUR
    start = current - hours
    ranked = []
    for article_id, per_hour in counts.items():
        score = 0.0
        views = 0
        for hour, count in per_hour.items():
            share = min(1.0, hour + 1 - start)
            if share <= 0 or hour > current:
                continue
            age = max(0.0, current - (hour + 0.5))
            score += count * share * 0.5 ** (age / half_life)
            views += round(count * share)
        if score > 0:
            ranked.append(Ranked(article_id, score, views, max(per_hour)))
    ranked.sort(key=lambda entry: (-entry.score, -recency(entry.article_id), -entry.last_hour, entry.article_id))
    return ranked


class ViewRecorder:
    """Buffers views in memory and writes them to the store every ``flush_interval`` seconds.

    A view acknowledged to a client is in the buffer; if the process is killed,
    at most one interval of views is lost. While the store is unavailable the
    views stay buffered and the flusher retries, waiting twice as long after
    each failure up to ``max_backoff``. The buffer holds at most ``max_pending``
    views: beyond that the oldest are dropped and counted (``overflowed``), since
    page views are statistics and holding them all would grow memory without
    bound. A view the store refuses for any other reason (data it cannot encode,
    a bug) is dropped alone and counted (``rejected``), so it cannot block the
    others. The flusher thread logs every failure and only stops when closed.
    """

    def __init__(
        self,
        store: ViewStore,
        flush_interval: float = 0.25,
        clock: Clock = time.time,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_backoff: float = 30.0,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.clock = clock
        self.max_pending = max_pending
        self.max_backoff = max_backoff
        self.overflowed = 0
        self.rejected = 0
        self._reported_overflow = 0
        self._pending: deque[View] = deque()
        self._writing = 0  # views of the batch a flush has taken and not yet written or put back
        self._pending_lock = threading.Lock()  # record() against a flush putting views back
        self._flush_lock = threading.Lock()  # one flush at a time
        self._start_lock = threading.Lock()  # never held while writing, so a request never waits on the store
        self._flusher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_prune_hour = -1
        self._salts: dict[int, bytes] = {}  # day -> salt, as the store has it

    @property
    def pending(self) -> int:
        """Views acknowledged and waiting in the buffer (not those of the batch a flush is writing now)."""
        return len(self._pending)

    @property
    def unwritten(self) -> int:
        """Views acknowledged and not yet in the store: in the buffer, or in the batch being written."""
        with self._pending_lock:
            return len(self._pending) + self._writing

    def record(self, article_id: str, visitor_id: str | None = None, client: bytes | None = None) -> None:
        """Buffer a view; without a visitor id, ``client`` (see events.client_fingerprint) dedupes it."""
        view = View(article_id, self.clock(), visitor_id, None if visitor_id is not None else client)
        with self._pending_lock:
            if len(self._pending) >= self.max_pending:
                self._pending.popleft()
                self.overflowed += 1
            self._pending.append(view)
        if self._flusher is None and self.flush_interval > 0:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._flusher is None and not self._stopping.is_set():
                self._flusher = threading.Thread(target=self._run, name="view-flusher", daemon=True)
                self._flusher.start()

    def _run(self) -> None:
        delay = self.flush_interval
        while not self._stopping.wait(delay):
            delay = self.flush_interval if self._flush_logged() else min(self.max_backoff, delay * 2)
        self._flush_logged()

    def _flush_logged(self) -> bool:
        """One flush for the thread: any exception is logged, never raised, so the thread cannot die."""
        try:
            return self._flush()[1]
        except Exception:
            log.exception("page-view flush failed; %d views kept, will retry", self.pending)
            return False

    def flush(self) -> int:
        """Write what is buffered; returns how many views were counted. Views the store cannot take now stay."""
        return self._flush()[0]

    def _flush(self) -> tuple[int, bool]:
        """(views counted, whether the store took the batch)."""
        with self._flush_lock:
            self._report_overflow()
            with self._pending_lock:
                batch = list(self._pending)
                self._pending.clear()
                self._writing = len(batch)
            try:
                return self._flush_batch(batch)
            finally:
                with self._pending_lock:
                    self._writing = 0

    def _flush_batch(self, batch: list[View]) -> tuple[int, bool]:
        if not batch:
            return 0, True
        try:
            batch = self._identified(batch)
        except StoreUnavailable as error:
            log.warning("page-view store unavailable; %d views kept for the next try: %s", len(batch), error)
            self._put_back(batch)
            return 0, False
        except Exception:
            self.rejected += len(batch)
            log.exception("dropped %d page views: no salt for their visitors (%d in all)", len(batch), self.rejected)
            return 0, False
        counted, unwritten = self._write(batch)
        if unwritten:
            self._put_back(unwritten)
            return counted, False
        with self._pending_lock:
            self._writing = 0  # written: no longer waiting while old buckets are pruned
        self._prune_hourly()
        return counted, True

    def _identified(self, batch: list[View]) -> list[View]:
        """Views without a visitor id get one from their client's fingerprint and the day's salt."""
        identified = []
        for view in batch:
            if view.client is not None:
                salt = self._salt(int(view.at // DAY))
                view = View(view.article_id, view.at, anonymous_visitor_id(salt, view.client))
            identified.append(view)
        return identified

    def _salt(self, day: int) -> bytes:
        salt = self._salts.get(day)
        if salt is None:
            salt = self.store.daily_salt(day)
            self._salts = {known: value for known, value in self._salts.items() if known >= day - 1} | {day: salt}
        return salt

    def _write(self, batch: list[View]) -> tuple[int, list[View]]:
        """Write a batch: (views counted, views to retry because the store is unavailable)."""
        try:
            return self.store.add_views(batch), []
        except StoreUnavailable as error:
            log.warning("page-view store unavailable; %d views kept for the next try: %s", len(batch), error)
            return 0, batch
        except Exception:
            log.exception("the store refused a batch of %d page views; writing them one at a time", len(batch))
        counted = 0
        for position, view in enumerate(batch):
            try:
                counted += self.store.add_views([view])
            except StoreUnavailable as error:
                log.warning("page-view store unavailable; %d views kept: %s", len(batch) - position, error)
                return counted, batch[position:]
            except Exception as error:
                self.rejected += 1
                log.error("dropped a page view the store refused (%d in all): %r", self.rejected, error)
        return counted, []

    def _put_back(self, views: list[View]) -> None:
        """Return unwritten views to the front of the buffer, oldest dropped beyond the bound."""
        with self._pending_lock:
            self._writing = 0  # they are counted in the buffer again
            excess = len(views) + len(self._pending) - self.max_pending
            if excess > 0:
                dropped = min(excess, len(views))
                views = views[dropped:]
                self.overflowed += dropped
            self._pending.extendleft(reversed(views))

    def _report_overflow(self) -> None:
        if self.overflowed != self._reported_overflow:
            log.error(
                "dropped the %d oldest page views (%d in all): more than %d waiting for the store",
                self.overflowed - self._reported_overflow,
                self.overflowed,
                self.max_pending,
            )
            self._reported_overflow = self.overflowed

    def _prune_hourly(self) -> None:
        current = hour_of(self.clock())
        if current == self._last_prune_hour:
            return
        try:
            self.store.prune(current - LONGEST_WINDOW_HOURS - 1, self.clock())
        except StoreUnavailable as error:
            log.warning("old page-view buckets not pruned, will retry: %s", error)
            return
        self._last_prune_hour = current

    def close(self) -> None:
        """Stop the flusher after a last flush; what the store still cannot take is logged as lost."""
        self._stopping.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        self._flush_logged()
        if self.pending:
            log.error("%d page views not written: the store is unavailable at exit", self.pending)


class PopularRankings:
    """Every window's ranking, recomputed from the store in a background thread.

    The list is the same for every page, so a request only reads the ranking
    last computed: it never waits on the store, nor on the flusher's write
    transaction. ``start()`` computes it once, then a daemon thread recomputes
    it whenever ``refresh_seconds`` have passed on ``clock`` (so a test's fake
    clock decides), until ``close()``. If the store fails, the last ranking keeps
    being served (empty if there never was one, which makes callers fall back to
    the newest articles).
    """

    def __init__(
        self,
        store: ViewStore,
        clock: Clock = time.time,
        refresh_seconds: float = 5.0,
        recency: Callable[[str], float] = _no_recency,
    ) -> None:
        if refresh_seconds <= 0:
            raise ValueError(f"POPULAR_REFRESH_SECONDS must be positive, got {refresh_seconds}")
        self.store = store
        self.recency = recency
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._rankings: dict[str, list[Ranked]] = {}  # replaced whole, so readers need no lock
        self._computed_at = float("-inf")
        self._refresh_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def ranked(self, window: str) -> list[Ranked]:
        """The window's last computed ranking, best first; never touches the store."""
        return self._rankings.get(window, [])

    def refresh(self) -> None:
        """Recompute every window now from one read of the store: what the thread does on its schedule."""
        with self._refresh_lock:
            now = self.clock()
            self._computed_at = now
            try:
                counts = self.store.hourly_counts(hour_of(now) - LONGEST_WINDOW_HOURS, hour_of(now))
            except StoreUnavailable as error:
                log.warning("popular lists not refreshed, serving the last ones: %s", error)
                return
            self._rankings = {window: rank(counts, now, window, self.recency) for window in WINDOWS}

    def start(self) -> None:
        """Compute the rankings now, then keep them fresh from a daemon thread."""
        self._refresh_logged()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="popular-refresher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            wait = self._computed_at + self.refresh_seconds - self.clock()
            if wait <= 0:
                self._refresh_logged()
            elif self._stopping.wait(min(wait, self.refresh_seconds)):
                return

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except Exception:
            log.exception("popular lists not refreshed, serving the last ones")

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
