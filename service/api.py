"""The JSON API the website calls on every article page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from recommender.index import Index, Neighbour
from service.errors import InvalidParameter

blueprint = Blueprint("api", __name__)

DEFAULT_LIMIT = 5
MAX_LIMIT = 50


def current_index() -> Index:
    return current_app.extensions["recommender.index"]


def int_parameter(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def item(neighbour: Neighbour) -> dict[str, Any]:
    article = neighbour.article
    return {
        "id": article["id"],
        "title": article["title"],
        "url": article.get("url"),
        "section": article.get("section"),
        "published_at": article.get("published_at"),
        "score": round(neighbour.score, 4),
    }


def cacheable(response: Response, version: str) -> Response:
    """Lists change only with the index, so a CDN may keep them; the ETag names the index version."""
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['CACHE_MAX_AGE']}"
    response.set_etag(version)
    return response.make_conditional(request)


@blueprint.get("/api/v1/articles/<path:article_id>/related")
def related(article_id: str) -> Response:
    limit = int_parameter("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    index = current_index()
    items = [item(neighbour) for neighbour in index.related(article_id, limit)]
    return cacheable(jsonify(article_id=article_id, items=items), index.version)


@blueprint.get("/healthz")
def healthz() -> Response:
    index = current_index()
    response = jsonify(
        status="ok",
        index_version=index.version,
        article_count=len(index),
        built_at=index.manifest["built_at"],
    )
    response.headers["Cache-Control"] = "no-store"
    return response
