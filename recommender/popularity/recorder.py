"""Buffering views in memory and writing them in batches, so the request path never waits for a store."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from recommender.errors import StoreUnavailable
from recommender.observe import Observer, ignore
from recommender.popularity.events import anonymous_visitor_id
from recommender.popularity.views import DAY, DEFAULT_MAX_PENDING, LONGEST_WINDOW_HOURS, Clock, View, ViewStore, hour_of

log = logging.getLogger(__name__)


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

    ``observe`` hears of views ``flushed`` (taken by the store), ``dropped`` (overflow), ``rejected``, and of
    every failed flush (``flush_error``), so that the service can count them without the core knowing how.
    """

    def __init__(
        self,
        store: ViewStore,
        flush_interval: float = 0.25,
        clock: Clock = time.time,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_backoff: float = 30.0,
        observe: Observer = ignore,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.clock = clock
        self.max_pending = max_pending
        self.max_backoff = max_backoff
        self.observe = observe
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
            full = len(self._pending) >= self.max_pending
            if full:
                self._pending.popleft()
                self.overflowed += 1
            self._pending.append(view)
        if full:
            self.observe("dropped", 1)
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
            self.observe("flush_error", 1)
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
                counted, taken = self._flush_batch(batch)
                if not taken:
                    self.observe("flush_error", 1)
                return counted, taken
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
            self.observe("rejected", len(batch))
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
            counted = self.store.add_views(batch)
        except StoreUnavailable as error:
            log.warning("page-view store unavailable; %d views kept for the next try: %s", len(batch), error)
            return 0, batch
        except Exception:
            log.exception("the store refused a batch of %d page views; writing them one at a time", len(batch))
        else:
            self.observe("flushed", len(batch))
            return counted, []
        counted = 0
        for position, view in enumerate(batch):
            try:
                counted += self.store.add_views([view])
            except StoreUnavailable as error:
                log.warning("page-view store unavailable; %d views kept: %s", len(batch) - position, error)
                return counted, batch[position:]
            except Exception as error:
                self.rejected += 1
                self.observe("rejected", 1)
                log.error("dropped a page view the store refused (%d in all): %r", self.rejected, error)
            else:
                self.observe("flushed", 1)
        return counted, []

    def _put_back(self, views: list[View]) -> None:
        """Return unwritten views to the front of the buffer, oldest dropped beyond the bound."""
        with self._pending_lock:
            self._writing = 0  # they are counted in the buffer again
            excess = len(views) + len(self._pending) - self.max_pending
            dropped = min(max(excess, 0), len(views))
            views = views[dropped:]
            self.overflowed += dropped
            self._pending.extendleft(reversed(views))
        if dropped:
            self.observe("dropped", dropped)

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
