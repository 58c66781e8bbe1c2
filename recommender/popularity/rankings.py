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
from dataclasses import dataclass

from recommender.errors import StoreUnavailable
from recommender.observe import Observer, ignore
from recommender.popularity.views import HOUR, LONGEST_WINDOW_HOURS, WINDOWS, Clock, ViewStore, hour_of

log = logging.getLogger(__name__)


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
            rankings = {window: rank(counts, now, window, self.recency) for window in WINDOWS}
            if rankings != self._rankings:  # an unchanged ranking keeps what was built from it valid
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
