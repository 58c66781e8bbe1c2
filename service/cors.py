"""Cross-origin use of the API, only from the origins in RECOMMENDER_ALLOWED_ORIGINS.

The widget runs on the site's pages and calls the service on its own origin;
browsers allow that only when the answer names the page's origin. Admin
methods (PUT, DELETE) are never offered cross-origin.

A page of an origin not listed fails in the browser with nothing in the
service's log, so each worker logs a hint once per such origin.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from flask import Flask, Response, request

log = logging.getLogger(__name__)

ALLOWED_METHODS = "GET, POST, OPTIONS"
KEY = "recommender.cors"
MAX_HINTED_ORIGINS = 1000  # then no more hints until the worker restarts: bounded memory and log volume


def parse_origins(value: str | None) -> frozenset[str]:
    return frozenset(origin.strip().rstrip("/") for origin in (value or "").split(",") if origin.strip())


class RefusedOriginHints:
    """Logs a WARNING naming RECOMMENDER_ALLOWED_ORIGINS the first time each unlisted origin calls the API."""

    def __init__(self, limit: int = MAX_HINTED_ORIGINS) -> None:
        self.limit = limit
        self._hinted: set[str] = set()
        self._full = False
        self._lock = threading.Lock()

    def refused(self, origin: str) -> None:
        with self._lock:
            if origin in self._hinted or self._full:
                return
            if len(self._hinted) >= self.limit:
                self._full = True
                log.warning("more than %d origins refused; no more hints about them from this worker", self.limit)
                return
            self._hinted.add(origin)
        log.warning(
            "cross-origin call from %s not allowed: browsers will not let its pages read the answer; add it to "
            "RECOMMENDER_ALLOWED_ORIGINS (comma-separated) if the site's pages are served from there",
            origin,
        )


class CrossOriginPolicy:
    """The CORS headers of an API answer, from RECOMMENDER_ALLOWED_ORIGINS (Vary: Origin is the caller's)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self.hints = RefusedOriginHints()

    def headers(self, origin: str | None, method: str, host: str) -> list[tuple[str, str]]:
        if origin and origin in self.allowed:
            headers = [("Access-Control-Allow-Origin", origin)]
            if method == "OPTIONS":
                headers += [
                    ("Access-Control-Allow-Methods", ALLOWED_METHODS),
                    ("Access-Control-Allow-Headers", "Content-Type"),
                    ("Access-Control-Max-Age", "86400"),
                ]
            return headers
        if origin and urlsplit(origin).netloc != host:  # the service's own pages need no listing
            self.hints.refused(origin)
        return []


def cross_origin_policy(app: Flask) -> CrossOriginPolicy:
    return app.extensions[KEY]


def init_app(app: Flask) -> None:
    policy = app.extensions[KEY] = CrossOriginPolicy(parse_origins(app.config["RECOMMENDER_ALLOWED_ORIGINS"]))

    @app.after_request
    def allow_listed_origins(response: Response) -> Response:
        if not request.path.startswith("/api/"):
            return response
        response.vary.add("Origin")  # a CDN must not serve one origin's answer to another
        for name, value in policy.headers(request.headers.get("Origin"), request.method, request.host):
            response.headers[name] = value
        return response
