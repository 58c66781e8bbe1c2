"""The JSON API the website calls on every article page."""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from recommender.events import (
    MAX_EVENT_BYTES,
    InvalidEvent,
    client_fingerprint,
    origin_allowed,
    page_origin,
    parse_event,
)
from recommender.index import Neighbour
from recommender.popularity import DEFAULT_WINDOW, WINDOWS, PopularEntry, is_bot, select_popular
from service.errors import InvalidParameter, error_response
from service.live import current_index
from service.popularity import current_popularity

blueprint = Blueprint("api", __name__)

DEFAULT_LIMIT = 5
MAX_LIMIT = 50


def int_parameter(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def window_parameter() -> str:
    window = request.args.get("window", DEFAULT_WINDOW)
    if window not in WINDOWS:
        raise InvalidParameter(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    return window


def article_fields(article: dict[str, Any]) -> dict[str, Any]:
    return {key: article.get(key) for key in ("id", "title", "url", "section", "published_at")}


def related_item(neighbour: Neighbour) -> dict[str, Any]:
    return {**article_fields(neighbour.article), "score": round(neighbour.score, 4)}


def popular_item(entry: PopularEntry) -> dict[str, Any]:
    return {**article_fields(entry.article), "score": entry.score, "views": entry.views}


def cacheable(response: Response, max_age: int, version: str, with_popular: bool = False) -> Response:
    """Public caching for a CDN. The ETag names the index version; when the body also holds
    Popular, which changes between versions, a hash of the body is added to it."""
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    digest = hashlib.sha1(response.get_data(), usedforsecurity=False).hexdigest()[:16] if with_popular else ""
    response.set_etag(f"{version}.{digest}" if digest else version)
    return response.make_conditional(request)


def popular_box(window: str, limit: int, section: str | None, exclude: list[str]) -> tuple[str, list[dict[str, Any]]]:
    index = current_index()
    ranking = current_popularity().rankings.ranked(window)
    source, entries = select_popular(ranking, index.find, index.newest_first, limit, section, exclude)
    return source, [popular_item(entry) for entry in entries]


@blueprint.get("/api/v1/articles/<path:article_id>/related")
def related(article_id: str) -> Response:
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    index = current_index()
    items = [related_item(neighbour) for neighbour in index.related(article_id, limit)]
    return cacheable(jsonify(article_id=article_id, items=items), current_app.config["CACHE_MAX_AGE"], index.version)


@blueprint.get("/api/v1/popular")
def popular() -> Response:
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    window = window_parameter()
    section = request.args.get("section") or None
    source, items = popular_box(window, limit, section, request.args.getlist("exclude"))
    body = jsonify(window=window, section=section, source=source, items=items)
    return cacheable(body, current_app.config["POPULAR_CACHE_MAX_AGE"], current_index().version, with_popular=True)


@blueprint.get("/api/v1/articles/<path:article_id>/recommendations")
def recommendations(article_id: str) -> Response:
    """Both boxes of an article page in one call; no article appears twice on the page."""
    related_limit = int_parameter("related", DEFAULT_LIMIT, 0, MAX_LIMIT)
    popular_limit = int_parameter("popular", DEFAULT_LIMIT, 0, MAX_LIMIT)
    window = window_parameter()
    index = current_index()
    more_like_this = [related_item(neighbour) for neighbour in index.related(article_id, related_limit)]
    shown = [article_id] + [item["id"] for item in more_like_this]
    source, popular_items = popular_box(window, popular_limit, None, shown) if popular_limit else ("views", [])
    body = jsonify(
        article_id=article_id,
        more_like_this=more_like_this,
        popular=popular_items,
        popular_source=source,
        popular_window=window,
    )
    return cacheable(body, current_app.config["POPULAR_CACHE_MAX_AGE"], index.version, with_popular=True)


@blueprint.post("/api/v1/events")
def events() -> Response:
    """Record a page view. Accepts JSON, also as the text/plain body navigator.sendBeacon sends."""
    popularity = current_popularity()
    origin = page_origin(request.headers.get("Origin"), request.headers.get("Referer"))
    if not origin_allowed(origin, popularity.allowed_origins, request.host):
        return error_response(403, "origin_not_allowed", f"pages of {origin} may not report views")
    address = request.remote_addr or ""
    wait = popularity.limiter.take(address) if popularity.limiter is not None else 0.0
    if wait:
        response = error_response(429, "rate_limited", "too many events from this client; retry later")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    raw = request.get_data(cache=False)
    if len(raw) > MAX_EVENT_BYTES:
        return error_response(413, "payload_too_large", f"an event is at most {MAX_EVENT_BYTES} bytes")
    try:
        event = parse_event(raw, current_index().__contains__)
    except InvalidEvent as error:
        return error_response(400, error.code, str(error))
    user_agent = request.user_agent.string
    if is_bot(user_agent):
        return _accepted(counted=False)
    client = client_fingerprint(address, user_agent) if event.visitor_id is None else None
    popularity.recorder.record(event.article_id, event.visitor_id, client)
    return _accepted(counted=True)


def _accepted(counted: bool) -> Response:
    response = jsonify(status="accepted" if counted else "ignored_bot")
    response.status_code = 202
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/healthz")
def healthz() -> Response:
    index = current_index()
    response = jsonify(
        status="ok",
        index_version=index.version,
        article_count=len(index),
        built_at=index.manifest["built_at"],
        worker_pid=os.getpid(),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
