"""The Popular list: articles ranked by decayed views, recomputed off the request path.

The ranking is a decayed sum: a view ``age`` hours old weighs
``0.5 ** (age / half_life)``, where the half-life is a quarter of the window
(15 minutes for 1h, 6 hours for 24h, 42 hours for 7d). Ties go to the newest
article (by ``published_at``), then to the one viewed most recently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from itertools import chain
from typing import NamedTuple

import numpy as np

from recommender.errors import StoreUnavailable
from recommender.observe import Observer, ignore
from recommender.popularity.views import HOUR, LONGEST_WINDOW_HOURS, WINDOWS, Clock, ViewStore, hour_of

log = logging.getLogger(__name__)


class Ranked(NamedTuple):  # a tuple: a large site's refresh makes tens of thousands, 4x faster than a dataclass
    article_id: str
    score: float
    views: int
    last_hour: int


def _no_recency(article_id: str) -> float:
    return 0.0


def rank_windows(
    counts: dict[str, dict[int, int]], now: float, recency: Callable[[str], float] = _no_recency
) -> dict[str, list[Ranked]]:
    """Every window's articles by decayed views, best first, from one read of the store.

    The oldest bucket of a window counts only for the part of its hour that lies inside
    the window; views in it are assumed spread evenly. The arithmetic runs on arrays: a
    week of hourly counts for a large site is hundreds of thousands of buckets, which a
    loop in Python took seconds over, holding the GIL against the worker's requests.
    """
    counts = {article_id: per_hour for article_id, per_hour in counts.items() if per_hour}
    article_ids = list(counts)
    if not article_ids:
        return {window: [] for window in WINDOWS}
    per_article = [len(per_hour) for per_hour in counts.values()]
    buckets = sum(per_article)
    row_of = np.repeat(np.arange(len(article_ids)), per_article)
    hour = np.fromiter(chain.from_iterable(counts.values()), np.float64, buckets)
    views = np.fromiter(chain.from_iterable(map(dict.values, counts.values())), np.float64, buckets)
    last_hour = np.fromiter(map(max, counts.values()), np.int64, len(article_ids))
    newest = np.fromiter((recency(article_id) for article_id in article_ids), np.float64, len(article_ids))
    names = np.array(article_ids, dtype=object)
    by_name = np.empty(len(article_ids), np.int64)  # each id's place in id order: ids of any length, as integers
    by_name[np.argsort(names, kind="stable")] = np.arange(len(article_ids))
    ties = (by_name, -last_hour, -newest)  # lexsort's keys, the last one first
    current = now / HOUR
    rankings = {}
    for window, hours in WINDOWS.items():
        share = np.minimum(1.0, hour + 1 - (current - hours))
        inside = np.flatnonzero((share > 0) & (hour <= current))  # most of a week's buckets lie outside 1h
        share, counts_inside = share[inside], views[inside]
        # One decay per distinct hour, by Python's own float power: numpy's may differ in the last bit on some
        # CPUs (SIMD), and then so would near ties; a week has at most 169 hours.
        distinct, hour_of_bucket = np.unique(hour[inside], return_inverse=True)
        decays = [0.5 ** (max(0.0, current - (h + 0.5)) / (hours / 4)) for h in distinct.tolist()]
        weight = counts_inside * share * np.array(decays, np.float64)[hour_of_bucket]
        score = np.bincount(row_of[inside], weight, len(article_ids))
        counted = np.bincount(row_of[inside], np.round(counts_inside * share), len(article_ids))
        kept = np.flatnonzero(score > 0)
        order = kept[np.lexsort(tuple(key[kept] for key in ties) + (-score[kept],))]
        columns = (names[order], score[order], counted[order].astype(np.int64), last_hour[order])
        rankings[window] = list(map(Ranked._make, zip(*(column.tolist() for column in columns), strict=True)))
    return rankings


class PopularRankings:
    """Every window's ranking, recomputed from the store in a background thread.

    The list is the same for every page, so a request only reads the ranking
    last computed: it never waits on the store, nor on the flusher's write
    transaction. ``start()`` computes it once, then a daemon thread recomputes
    it whenever ``refresh_seconds`` have passed on ``clock`` (so a test's fake
    clock decides), until ``close()``. If the store fails, the last ranking keeps
    being served (empty if there never was one, which makes callers fall back to
    the newest articles). ``observe`` hears how long each refresh took (``refresh_seconds``, wall time, whatever
    the clock) and of each failed one (``refresh_error``).
    """

    def __init__(
        self,
        store: ViewStore,
        clock: Clock = time.time,
        refresh_seconds: float = 5.0,
        recency: Callable[[str], float] = _no_recency,
        observe: Observer = ignore,
    ) -> None:
        if refresh_seconds <= 0:
            raise ValueError(f"RECOMMENDER_POPULAR_REFRESH_SECONDS must be positive, got {refresh_seconds}")
        self.store = store
        self.recency = recency
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.observe = observe
        self._rankings: dict[str, list[Ranked]] = {}  # replaced whole, so readers need no lock
        self.generation = 0  # counts the changes: what was built from one ranking is stale after the next
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
            started = time.perf_counter()
            now = self.clock()
            self._computed_at = now
            try:
                counts = self.store.hourly_counts(hour_of(now) - LONGEST_WINDOW_HOURS, hour_of(now))
            except StoreUnavailable as error:
                log.warning("popular lists not refreshed, serving the last ones: %s", error)
                self.observe("refresh_error", 1)
                return
            rankings = rank_windows(counts, now, self.recency)
            # Unchanged only while the window has no view at all (scores decay with time): an idle site then keeps
            # every kept answer instead of recomputing them all at each refresh.
            if rankings != self._rankings:
                self._rankings = rankings
                self.generation += 1
            self.observe("refresh_seconds", time.perf_counter() - started)

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
            self.observe("refresh_error", 1)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
