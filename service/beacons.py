"""Page-view beacons (``POST /api/v1/events``), received in the WSGI layer before Flask.

A site reports a view for every page it serves, so this endpoint takes more requests than
all the others together, and each asks for a few microseconds of work: validate, count,
answer 202. Through Flask (request context, routing, response object, the hooks) a view
cost about 0.2 ms more, and under 2,000 views/s on two cores the page's own call,
``/recommendations``, queued behind them. So the layer answers a beacon that declares its
length itself, with the same headers Flask's hooks give (CORS, the request metrics). The
Flask view remains the route's documented endpoint: it answers a beacon sent without a
Content-Length (chunked), and OPTIONS and wrong methods, through the same ``receive``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from flask import Flask, Response, jsonify
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_host

from recommender.popularity.clicks import InvalidClickEvent, click_key, impression_counts
from recommender.popularity.events import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    client_fingerprint,
    decode_event,
    origin_allowed,
    page_origin,
    view_event,
)
from recommender.popularity.views import hour_of, is_bot
from service.cors import cross_origin_policy
from service.metrics import count_box_event, count_request, count_view
from service.popularity import Popularity

log = logging.getLogger(__name__)

PATH = "/api/v1/events"
ENDPOINT = "api.events"  # the Flask endpoint's name, which the request metrics are labelled with

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class Beacon:
    """What a beacon's answer depends on, read from the WSGI environ."""

    body: bytes | None  # None when longer than MAX_EVENT_BYTES
    address: str
    user_agent: str
    origin: str | None
    referer: str | None
    host: str

    @classmethod
    def from_environ(cls, environ: dict[str, Any], body: bytes | None) -> Beacon:
        return cls(
            body,
            environ.get("REMOTE_ADDR") or "",
            environ.get("HTTP_USER_AGENT", ""),
            environ.get("HTTP_ORIGIN"),
            environ.get("HTTP_REFERER"),
            get_host(environ),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    fields: dict[str, str]  # the JSON body
    headers: dict[str, str] = field(default_factory=dict)


def refusal(status: int, error: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": error, "message": message}, headers)


def receive(app: Flask, beacon: Beacon) -> Answer:
    """Check and count one beacon: a page view, or an impression of a box or a click in one."""
    popularity: Popularity = app.extensions["recommender.popularity"]
    origin = page_origin(beacon.origin, beacon.referer)
    if not origin_allowed(origin, popularity.allowed_origins, beacon.host):
        return refusal(403, "origin_not_allowed", f"pages of {origin} may not report views")
    wait = popularity.limiter.take(beacon.address) if popularity.limiter is not None else 0.0
    if wait:
        count_view(app, "rate_limited")
        message = "too many events from this client; retry later"
        return refusal(429, "rate_limited", message, **{"Retry-After": str(math.ceil(wait))})
    if beacon.body is None:
        return refusal(413, "payload_too_large", f"an event is at most {MAX_EVENT_BYTES} bytes")
    is_article = app.extensions["recommender.holder"].live.__contains__
    try:
        event = decode_event(beacon.body)
        if event["type"] != "view":
            return _box_event(app, popularity, event, is_article, beacon.user_agent)
        view = view_event(event, is_article)
    except (InvalidEvent, InvalidClickEvent) as error:
        return refusal(400, error.code, str(error))
    if is_bot(beacon.user_agent):
        count_view(app, "bot")
        return _accepted(counted=False)
    client = client_fingerprint(beacon.address, beacon.user_agent) if view.visitor_id is None else None
    popularity.recorder.record(view.article_id, view.visitor_id, client)
    count_view(app, "accepted")
    return _accepted(counted=True)


def _box_event(
    app: Flask, popularity: Popularity, event: dict[str, Any], is_article: Callable[[str], bool], user_agent: str
) -> Answer:
    """An impression of a box, or a click in one: validated like views, counted per hour."""
    hour = hour_of(app.config["CLOCK"]())
    if event["type"] == "impression":
        impressions, clicks = impression_counts(event, is_article, hour), []
    else:
        impressions, clicks = Counter(), [click_key(event, is_article, hour)]
    if is_bot(user_agent):
        return _accepted(counted=False)
    popularity.clicks.add(impressions.elements(), clicks)
    count_box_event(app, event["type"], event["box"])
    return _accepted(counted=True)


def _accepted(counted: bool) -> Answer:
    return Answer(202, {"status": "accepted" if counted else "ignored_bot"})


def flask_response(answer: Answer) -> Response:
    """The answer as the Flask view returns it; Flask's hooks add CORS headers and count it."""
    response = jsonify(answer.fields)
    response.status_code = answer.status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(answer.headers)
    return response


def init_app(app: Flask) -> None:
    """Before ProxyFix wraps the app, so that REMOTE_ADDR is already the client's address here."""
    app.wsgi_app = _receive_beacons(app, app.wsgi_app)  # type: ignore[method-assign,assignment]  # Flask's documented way


def _receive_beacons(app: Flask, inner: WsgiApp) -> WsgiApp:
    def answer(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return inner(environ, start_response)
        length = _declared_length(environ)
        if length is None:
            return inner(environ, start_response)  # chunked: werkzeug reads such bodies
        started = time.perf_counter()
        body = _read(environ["wsgi.input"], length) if length <= MAX_EVENT_BYTES else None
        try:
            result = receive(app, Beacon.from_environ(environ, body))
        except Exception:
            log.exception("a beacon failed")
            result = refusal(500, "internal_server_error", "internal error; it has been logged")
        encoded = (json.dumps(result.fields, separators=(",", ":"), sort_keys=True) + "\n").encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(encoded))),
            ("Cache-Control", "no-store"),
            *result.headers.items(),
            ("Vary", "Origin"),
            *cross_origin_policy(app).headers(environ.get("HTTP_ORIGIN"), "POST", get_host(environ)),
        ]
        start_response(f"{result.status} {HTTP_STATUS_CODES[result.status]}", headers)
        count_request(app, ENDPOINT, result.status, started)
        return [encoded]

    return answer


def _declared_length(environ: dict[str, Any]) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def _read(stream: IO[bytes], length: int) -> bytes:
    parts, left = [], length
    while left > 0:
        part = stream.read(left)
        if not part:
            break  # the client sent less than it declared
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
