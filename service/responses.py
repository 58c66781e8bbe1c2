"""Serialised GET responses, reused while the served snapshot and the Popular lists stay the same.

The website asks for the same few thousand articles over and over, and a response
depends only on its path and query string, the snapshot served (version, the day's
changes, editors' corrections) and the last Popular ranking. So the first request
builds the body (boxes, JSON, ETag) and the next ones copy bytes. Entries belong
to one (snapshot, ranking) pair: when either changes the cache empties, so a
response is never older than what a fresh request would compute. At most
``capacity`` entries are kept, the least recently used going first.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.wrappers import Response as HttpResponse

DEFAULT_CAPACITY = 4096
_KEPT_HEADERS = ("Content-Type", "Cache-Control", "ETag")


class ResponseCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._owner: tuple[object, int] | None = None
        self._entries: OrderedDict[str, tuple[bytes, list[tuple[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, snapshot: object, generation: int, key: str) -> Response | None:
        with self._lock:
            if self._owner is None or self._owner[0] is not snapshot or self._owner[1] != generation:
                self._owner = (snapshot, generation)
                self._entries.clear()
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        body, headers = entry
        return Response(body, headers=headers)

    def put(self, snapshot: object, generation: int, key: str, response: HttpResponse) -> None:
        headers = [(name, response.headers[name]) for name in _KEPT_HEADERS if name in response.headers]
        entry = (response.get_data(), headers)
        with self._lock:
            if self._owner is None or self._owner[0] is not snapshot or self._owner[1] != generation:
                return  # the snapshot or the ranking changed while this response was built
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def init_app(app: Flask) -> None:
    app.extensions["recommender.responses"] = ResponseCache()


def cached(
    snapshot: Callable[[], object], generation: Callable[[], int]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Serve a GET view's 200 responses from the cache; conditional requests still get their 304."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(**arguments: Any) -> HttpResponse:
            cache: ResponseCache = current_app.extensions["recommender.responses"]
            served, ranking = snapshot(), generation()
            key = request.full_path
            hit = cache.get(served, ranking, key)
            if hit is not None:
                return hit.make_conditional(request)
            response = view(**arguments)
            if response.status_code == 200:
                cache.put(served, ranking, key, response)
            return response

        return wrapper

    return decorate
