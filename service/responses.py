"""Finished GET responses, answered again without entering Flask while nothing they depend on changed.

The website asks for the same few thousand articles over and over, and an answer
depends only on its path and query string, the page's Origin (CORS headers), the
snapshot served (version, the day's changes, editors' corrections) and, for an
answer that consulted it (Popular, or a box filled past its similar and same-section
items), the last Popular ranking. So the first request goes through Flask (boxes,
JSON, ETag, CORS, metrics) and the WSGI layer keeps its final bytes and headers; the
next ones are answered from them in a few microseconds. The cache empties when the
snapshot changes. An answer that consulted the Popular ranking is reused while the
ranking stays as it was; once it changed, the answer is reused only while it is as fresh
as its own Cache-Control says (``max-age``, which a CDN in front honours as well), cut by
a share of up to half fixed by a hash of its key (path, query, Origin), so that the pages built at one moment
do not all expire together. Popular changes a little at every refresh while readers
view pages: this recomputes a page every 15 to 30 s rather than every 5 s, and spread,
not all at once after each refresh. Lists that never consult Popular outlive its
refreshes. At most ``capacity`` entries are kept, the least recently used going first.
Conditional requests (If-None-Match) go through Flask, which answers with the current
list: a 304 or a new one. A kept answer goes out with its full max-age and no Age header,
so a CDN that takes it late may keep Popular up to twice max-age in all.
"""

from __future__ import annotations

import functools
import hashlib
import re
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
_MAX_AGE = re.compile(r"\bmax-age=(\d+)")

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    headers: Headers
    endpoint: str
    ranking: int | None  # the ranking generation the answer consulted; None when it consulted none
    fresh_until: float  # on the rankings' clock: reused until then even once the ranking changed


def fresh_for(headers: Headers, key: tuple[str, str, str]) -> float:
    """Seconds an answer stays fresh by its Cache-Control, less a share of up to half that is the same for
    a key every time and differs from key to key."""
    control = next((value for name, value in headers if name.lower() == "cache-control"), "")
    found = _MAX_AGE.search(control)
    digest = hashlib.blake2b("\n".join(key).encode(), digest_size=4).digest()
    return int(found.group(1)) * (1 + int.from_bytes(digest) / 2**32) / 2 if found else 0.0


class ResponseCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._snapshot: object = None
        self._entries: OrderedDict[tuple[str, str, str], Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, snapshot: object, generation: int, now: float, key: tuple[str, str, str]) -> Cached | None:
        """The kept answer for ``key``, unless the snapshot changed, or the ranking (at ``generation``) changed
        since the answer consulted it and the answer is no longer fresh at ``now``."""
        with self._lock:
            if self._snapshot is not snapshot:
                self._snapshot = snapshot
                self._entries.clear()
            entry = self._entries.get(key)
            if entry is None or (entry.ranking not in (None, generation) and now >= entry.fresh_until):
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
    def owner() -> tuple[object, int, float]:
        rankings = app.extensions["recommender.popularity"].rankings
        return app.extensions["recommender.holder"].live, rankings.generation, rankings.clock()

    def answer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_IF_NONE_MATCH" in environ:
            return inner(environ, start_response)
        started = time.perf_counter()
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), environ.get("HTTP_ORIGIN", ""))
        snapshot, generation, now = owner()
        hit = cache.get(snapshot, generation, now, key)
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
        consulted = generation if environ.get(USES_RANKING) else None
        fresh_until = now + fresh_for(headers, key) if consulted is not None else now
        cache.put(snapshot, key, Cached(data, headers, str(endpoint), consulted, fresh_until))
        return [data]

    return answer
