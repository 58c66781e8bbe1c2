"""Per-client token buckets: how many page views one client may report to one worker process.

A reader's browser sends one beacon per article page, a few a minute at most;
a script flooding the endpoint sends hundreds a second. Each client gets a
bucket of ``burst`` tokens refilled at ``per_second``; an event takes one, and
an empty bucket says how long until the next token (for ``Retry-After``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_CLIENTS = 50_000


class TokenBuckets:
    """Buckets per client key, in memory, bounded.

    At most ``max_clients`` buckets are kept, least recently used evicted first;
    a bucket untouched for ``burst / per_second`` seconds is full again, which is
    what a new client gets, so it is evicted early at no cost to anyone.
    """

    def __init__(
        self,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = DEFAULT_MAX_CLIENTS,
    ) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.per_second = per_second
        self.burst = burst
        self.clock = clock
        self.max_clients = max_clients
        self._full_after = burst / per_second
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """0.0 when the client may go ahead (one token taken), else the seconds until it has a token."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - when) * self.per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
            self._buckets[client] = (tokens - 1 if wait == 0.0 else tokens, now)
            self._evict(now)
        return wait

    def _evict(self, now: float) -> None:
        while self._buckets:
            _, when = next(iter(self._buckets.values()))
            if len(self._buckets) <= self.max_clients and now - when < self._full_after:
                return
            self._buckets.popitem(last=False)
