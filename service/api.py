"""The JSON API the website calls on every article page."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.wrappers import Response as HttpResponse

from recommender.errors import StoreUnavailable
from recommender.popularity.events import MAX_EVENT_BYTES
from recommender.popularity.views import DEFAULT_WINDOW
from recommender.serving import boxes
from recommender.serving.boxes import Item
from recommender.serving.live import LiveIndex
from recommender.serving.page import DEFAULT_BOX_SIZE, BoxSizes, page_boxes
from recommender.serving.teasers import item_teaser
from service import beacons
from service.errors import error_response
from service.live import current_index, lists_prepared
from service.parameters import fill_parameter, int_parameter, min_score_parameter, rerank_parameters, window_parameter
from service.popularity import current_popularity
from service.responses import USES_RANKING, reusable

blueprint = Blueprint("api", __name__)

DEFAULT_LIMIT = DEFAULT_BOX_SIZE  # as the widget asks: the lists prepared ahead of readers are these
MAX_LIMIT = 50


def article_fields(article: dict[str, Any]) -> dict[str, Any]:
    """What every box's item says of its article, ``image_url`` and the ``excerpt`` teaser included."""
    fields = {key: article.get(key) for key in ("id", "title", "url", "section", "published_at", "image_url")}
    return {**fields, "excerpt": item_teaser(article)}


def related_item(item: Item) -> dict[str, Any]:
    """An item of "More like this": ``score`` is the similarity, null for a fallback."""
    score = item.score if item.reason == boxes.SIMILAR else None
    return {**article_fields(item.article), "score": score, "reason": item.reason}


def tagged_item(item: Item) -> dict[str, Any]:
    """An item of "Related": ``score`` is the weight of the shared tags, null for a pin."""
    return {
        **article_fields(item.article),
        "score": item.score,
        "reason": item.reason,
        "shared_tags": list(item.shared_tags),
    }


def popular_item(item: Item) -> dict[str, Any]:
    return {**article_fields(item.article), "score": item.score, "views": item.views or 0, "reason": item.reason}


def cacheable(response: Response, max_age: int, version: str, with_popular: bool = False) -> HttpResponse:
    """Public caching for a CDN. The ETag names the index version; when the body also holds
    Popular, which changes between versions, a hash of the body is added to it."""
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    digest = hashlib.sha1(response.get_data(), usedforsecurity=False).hexdigest()[:16] if with_popular else ""
    response.set_etag(f"{version}.{digest}" if digest else version)
    return response.make_conditional(request)


RANKED_FALLBACKS = (boxes.POPULAR, boxes.RECENT)  # a box that reached these consulted the Popular ranking


def consulted_ranking() -> None:
    """This answer depends on the Popular ranking: once that changes, a kept copy is reused only for as long as
    its max-age (service.responses)."""
    request.environ[USES_RANKING] = True


def article_version(index: LiveIndex, article_id: str) -> str:
    """What an article's lists are built from: the served version, and the editors' corrections of the
    article, so that a CDN revalidating after a correction gets the new list, not a 304."""
    curation = index.curation_of(article_id)
    if not curation.pinned and not curation.blocked:
        return index.version
    digest = hashlib.sha1(json.dumps(curation.to_dict()).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{index.version}.c{digest}"


def popular_box(
    window: str, limit: int, section: str | None = None, shown: set[str] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The Popular box, filled with the newest articles when the window has too few views."""
    consulted_ranking()
    ranking = current_popularity().rankings.ranked(window)
    items = boxes.popular(current_index(), ranking, limit, section, shown)
    return boxes.popular_source(items), [popular_item(item) for item in items]


def more_like_this_box(
    article_id: str, limit: int, shown: set[str] | None = None, window: str = DEFAULT_WINDOW
) -> list[dict[str, Any]]:
    """ "More like this" as the request asks for it (``min_score``, ``fill``)."""
    index = current_index()
    min_score = min_score_parameter(index.floor)
    fill = fill_parameter()
    settings = rerank_parameters(index.rerank_settings)
    ranking = current_popularity().rankings.ranked(window) if fill else []
    items = boxes.more_like_this(index, article_id, limit, min_score, ranking, fill, shown, settings)
    if any(item.reason in RANKED_FALLBACKS for item in items):
        consulted_ranking()
    return [related_item(item) for item in items]


@blueprint.get("/api/v1/articles/<path:article_id>/related")
@reusable
def related(article_id: str) -> HttpResponse:
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    index = current_index()
    items = more_like_this_box(article_id, limit)
    with_popular = bool(request.environ.get(USES_RANKING))  # filled from Popular, or the newest when it had too few
    max_age = current_app.config["POPULAR_CACHE_MAX_AGE" if with_popular else "CACHE_MAX_AGE"]
    return cacheable(
        jsonify(article_id=article_id, items=items), max_age, article_version(index, article_id), with_popular
    )


@blueprint.get("/api/v1/articles/<path:article_id>/related-by-tags")
@reusable
def related_by_tags(article_id: str) -> HttpResponse:
    """The "Related" box: articles sharing the article's editors' tags, a rare tag counting more."""
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    index = current_index()
    items = [tagged_item(item) for item in boxes.related_by_tags(index, article_id, limit)]
    max_age = current_app.config["CACHE_MAX_AGE"]
    return cacheable(jsonify(article_id=article_id, items=items), max_age, article_version(index, article_id))


@blueprint.get("/api/v1/popular")
@reusable
def popular() -> HttpResponse:
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    window = window_parameter()
    section = request.args.get("section") or None
    source, items = popular_box(window, limit, section, set(request.args.getlist("exclude")))
    body = jsonify(window=window, section=section, source=source, items=items)
    return cacheable(body, current_app.config["POPULAR_CACHE_MAX_AGE"], current_index().version, with_popular=True)


@blueprint.get("/api/v1/articles/<path:article_id>/recommendations")
@reusable
def recommendations(article_id: str) -> HttpResponse:
    """Both boxes of an article page in one call; no article appears twice on the page."""
    sizes = BoxSizes(*(int_parameter(name, DEFAULT_LIMIT, 0, MAX_LIMIT) for name in ("related", "tagged", "popular")))
    window = window_parameter()
    index = current_index()
    min_score = min_score_parameter(index.floor)
    fill, settings = fill_parameter(), rerank_parameters(index.rerank_settings)
    ranking = current_popularity().rankings.ranked(window)
    page = page_boxes(index, article_id, ranking, sizes, min_score, fill, settings)
    if sizes.popular or any(item.reason in RANKED_FALLBACKS for item in page.more_like_this):
        consulted_ranking()
    body = jsonify(
        article_id=article_id,
        more_like_this=[related_item(item) for item in page.more_like_this],
        related=[tagged_item(item) for item in page.related],
        popular=[popular_item(item) for item in page.popular],
        popular_source=page.popular_source if sizes.popular else "views",
        popular_window=window,
        index_version=index.version,
    )
    return cacheable(body, current_app.config["POPULAR_CACHE_MAX_AGE"], index.version, with_popular=True)


@blueprint.post("/api/v1/events")
def events() -> Response:
    """Record a page view, or an impression or click of a box. Accepts JSON, also as the text/plain body
    navigator.sendBeacon sends. service.beacons answers most of them before Flask; this view, the ones
    sent without a Content-Length."""
    raw = request.stream.read(MAX_EVENT_BYTES + 1)  # as the layer, never more: a larger body is refused alike
    body = raw if len(raw) <= MAX_EVENT_BYTES else None
    return beacons.flask_response(beacons.receive(current_app, beacons.Beacon.from_environ(request.environ, body)))


@blueprint.get("/readyz")
def readyz() -> Response:
    """Readiness, for a load balancer: 200 when an index is served and the page-view store answers, else 503
    with the reason. ``/healthz`` stays liveness: a worker whose store is down still answers every list."""
    index = current_index()
    try:
        current_popularity().store.ping()
    except StoreUnavailable as error:
        response = error_response(503, "store_unavailable", str(error))
    else:
        response = jsonify(status="ready", index_version=index.version, article_count=len(index))
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
        # Views this worker has acknowledged and not yet written to the store (they grow while it is down),
        # the batch being written included.
        pending_views=current_popularity().recorder.unwritten,
        # "More like this" lists of the served snapshot computed ahead of readers (RECOMMENDER_WARM_ARTICLES).
        lists_prepared=lists_prepared(current_app),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
