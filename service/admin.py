"""Articles published, updated and unpublished during the day: PUT and DELETE, behind a token."""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, jsonify, request

from recommender.errors import UnknownArticle
from recommender.indexing.corpus import parse_article
from recommender.popularity.clicks import GROUPS, parse_group, report
from recommender.popularity.views import WINDOWS, hour_of
from recommender.serving import boxes
from recommender.serving.curation import parse_curation
from recommender.validation import InvalidJSON, decode_json
from service.auth import admin_token, presents_token
from service.errors import InvalidParameter, error_response
from service.live import current_holder, current_index
from service.parameters import window_parameter
from service.popularity import current_popularity

REPORT_WINDOWS = {name: WINDOWS[name] for name in ("24h", "7d")}

blueprint = Blueprint("admin", __name__)


@blueprint.before_request
def require_token() -> Response | None:
    token = admin_token()
    if token is None:
        return error_response(403, "admin_disabled", "article changes are disabled: RECOMMENDER_ADMIN_TOKEN is not set")
    if not presents_token(token):
        response = error_response(401, "unauthorized", "send Authorization: Bearer <RECOMMENDER_ADMIN_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="recommender"'
        return response
    return None


@blueprint.put("/api/v1/articles/<article_id:article_id>")
def put_article(article_id: str) -> Response:
    """Publish or update an article now: it gets its list, and enters the lists it belongs in."""
    try:
        row = decode_json(request.get_data(cache=False))
    except InvalidJSON as error:
        return error_response(400, "invalid_json", str(error))
    if not isinstance(row, dict):
        return error_response(400, "invalid_article", "the body must be a JSON object, as a corpus row")
    if row.setdefault("id", article_id) != article_id:
        return error_response(400, "invalid_article", f"the body's id {row['id']!r} is not the URL's {article_id!r}")
    try:
        article = parse_article(row)
    except ValueError as error:
        return error_response(400, "invalid_article", str(error))
    if article.id != article_id:  # e.g. /articles/%20x: stored as "x", the URL's article would not exist
        return error_response(400, "invalid_article", f"the id {article_id!r} has leading or trailing whitespace")
    holder = current_holder()
    existed = holder.published(article_id)
    holder.changes.put(article)  # type: ignore[union-attr]
    holder.refresh()
    live = current_index()
    above = live.related(article_id, live.neighbours_per_article, live.floor)
    similar = [n for n, thin in zip(above, boxes.thin_matches(live, article_id, above), strict=True) if not thin]
    related = [{"id": n.article["id"], "score": round(n.score, 4)} for n in similar[:5]]
    response = jsonify(
        article_id=article_id, status="updated" if existed else "created", related=related, worker_pid=os.getpid()
    )
    response.status_code = 200 if existed else 201
    return response


@blueprint.delete("/api/v1/articles/<article_id:article_id>")
def delete_article(article_id: str) -> Response:
    """Unpublish an article: it leaves every list at once."""
    holder = current_holder()
    if not holder.published(article_id):
        raise UnknownArticle(article_id)
    holder.changes.delete(article_id)  # type: ignore[union-attr]
    holder.refresh()
    return jsonify(article_id=article_id, status="deleted", worker_pid=os.getpid())


def _curation_response(article_id: str) -> Response:
    curation = current_index().curation_of(article_id)
    return jsonify(article_id=article_id, **curation.to_dict())


@blueprint.get("/api/v1/articles/<path:article_id>/curation")
def get_curation(article_id: str) -> Response:
    """The editors' pins and blocks of an article's "More like this"."""
    current_index().article(article_id)  # unknown: 404
    return _curation_response(article_id)


@blueprint.put("/api/v1/articles/<path:article_id>/curation")
def put_curation(article_id: str) -> Response:
    """Pin articles first (in order) and block others under an article; replaces what was there."""
    holder = current_holder()
    if not holder.published(article_id):
        raise UnknownArticle(article_id)
    try:
        curation = parse_curation(article_id, decode_json(request.get_data(cache=False)))
    except InvalidJSON as error:
        return error_response(400, "invalid_json", str(error))
    except ValueError as error:
        return error_response(400, "invalid_curation", str(error))
    unknown = [other for other in (*curation.pinned, *curation.blocked) if not holder.published(other)]
    if unknown:
        return error_response(400, "unknown_article", f"no article with id {unknown[0]!r}")
    holder.curation.put(article_id, curation)  # type: ignore[union-attr]
    holder.refresh()
    return _curation_response(article_id)


@blueprint.delete("/api/v1/articles/<path:article_id>/curation")
def delete_curation(article_id: str) -> Response:
    """Clear an article's pins and blocks."""
    holder = current_holder()
    holder.curation.clear(article_id)  # type: ignore[union-attr]
    holder.refresh()
    return _curation_response(article_id)


@blueprint.get("/api/v1/reports/clicks")
def click_report() -> Response:
    """Impressions, clicks and click-through rate of the boxes over a window, grouped as asked."""
    window = window_parameter(REPORT_WINDOWS, "24h")
    try:
        group = parse_group(request.args.get("group", ",".join(GROUPS)))
    except ValueError as error:
        raise InvalidParameter(str(error)) from None
    popularity = current_popularity()
    popularity.clicks.flush()  # what this worker holds counts too
    last = hour_of(current_app.config["CLOCK"]())
    counts = popularity.store.click_counts(last - REPORT_WINDOWS[window] + 1, last)
    response = jsonify(window=window, rows=[row.to_dict() for row in report(counts, group)])
    response.headers["Cache-Control"] = "no-store"
    return response
