"""Finished GET responses, answered again without entering Flask while nothing they depend on changed.

The website asks for the same few thousand articles over and over, and an answer
depends only on its path and query string, the page's Origin (CORS headers), the
snapshot served (version, the day's changes, editors' corrections) and, for an
answer that consulted it (Popular, or a box filled past its similar and same-section
items), the last Popular ranking. So the first request goes through Flask (boxes,
JSON, ETag, CORS, metrics) and the WSGI layer keeps its final bytes and headers; the
next ones are answered from them in a few microseconds. The cache empties when the
snapshot changes. An answer that consulted the ranking outlives a refresh that left the
ranking as it was; once the ranking changed, each such answer is recomputed within one
refresh interval, at a moment of its own (a share of the interval fixed by a hash of its
path), so that a refresh does not send every page through Flask at once: Popular then lags
its newest ranking by at most one refresh interval. Lists that never consult Popular
outlive its refreshes. At most ``capacity`` entries are kept, the least recently used
going first. Conditional requests (If-None-Match) go through Flask, which answers 304.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from werkzeug.wrappers import Response as HttpResponse

from service.metrics import count_request

DEFAULT_CAPACITY = 4096
CACHEABLE = "recommender.cacheable"  # set in the WSGI environ by a view whose 200 answers may be kept
USES_RANKING = "recommender.uses_ranking"  # set by a view whose answer consulted the Popular ranking
_DROPPED_HEADERS = frozenset({"date", "server", "connection", "set-cookie"})

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    headers: Headers
    endpoint: str
    ranking: int | None  # the ranking generation the answer consulted; None when it consulted none


@dataclass(frozen=True, slots=True)
class RankingState:
    generation: int  # of the Popular ranking served now
    age: float  # seconds since it changed
    interval: float  # seconds between refreshes


def _still_valid(entry: Cached, ranking: RankingState, key: tuple[str, str, str]) -> bool:
    if entry.ranking is None or entry.ranking == ranking.generation:
        return True
    if entry.ranking != ranking.generation - 1:
        return False
    digest = hashlib.blake2b("\n".join(key).encode(), digest_size=4).digest()
    share = (int.from_bytes(digest) + 1) / 2**32  # in (0, 1], the same for a path every time
    return ranking.age < share * ranking.interval


class ResponseCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._snapshot: object = None
        self._entries: OrderedDict[tuple[str, str, str], Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, snapshot: object, ranking: RankingState, key: tuple[str, str, str]) -> Cached | None:
        with self._lock:
            if self._snapshot is not snapshot:
                self._snapshot = snapshot
                self._entries.clear()
            entry = self._entries.get(key)
            if entry is None or not _still_valid(entry, ranking, key):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, snapshot: object, key: tuple[str, str, str], entry: Cached) -> None:
        with self._lock:
            if self._snapshot is not snapshot:
                return  # the snapshot changed while this response was built
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def reusable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a GET view whose 200 answers depend on nothing but what the cache is keyed on."""

    @functools.wraps(view)
    def marked(**arguments: Any) -> HttpResponse:
        request.environ[CACHEABLE] = request.endpoint
        return view(**arguments)

    return marked


def init_app(app: Flask) -> None:
    """Last, so that the cache sits outside every other layer and keeps their headers."""
    cache = ResponseCache()
    app.extensions["recommender.responses"] = cache
    app.wsgi_app = _answer_from(cache, app, app.wsgi_app)  # type: ignore[method-assign,assignment]  # Flask's documented way


def _answer_from(cache: ResponseCache, app: Flask, inner: WsgiApp) -> WsgiApp:
    def owner() -> tuple[object, RankingState]:
        snapshot = app.extensions["recommender.holder"].live
        rankings = app.extensions["recommender.popularity"].rankings
        generation, changed_at = rankings.generation, rankings.changed_at
        return snapshot, RankingState(generation, rankings.clock() - changed_at, rankings.refresh_seconds)

    def answer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_IF_NONE_MATCH" in environ:
            return inner(environ, start_response)
        started = time.perf_counter()
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), environ.get("HTTP_ORIGIN", ""))
        snapshot, ranking = owner()
        hit = cache.get(snapshot, ranking, key)
        if hit is not None:
            start_response("200 OK", list(hit.headers))
            count_request(app, hit.endpoint, 200, started)
            return [hit.body]
        seen: dict[str, Any] = {}

        def keep_status(status: str, headers: Headers, exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = inner(environ, keep_status)
        endpoint = environ.get(CACHEABLE)
        if endpoint is None or not str(seen.get("status", "")).startswith("200 "):
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        headers = [(name, value) for name, value in seen["headers"] if name.lower() not in _DROPPED_HEADERS]
        consulted = ranking.generation if environ.get(USES_RANKING) else None
        cache.put(snapshot, key, Cached(data, headers, str(endpoint), consulted))
        return [data]

    return answer
