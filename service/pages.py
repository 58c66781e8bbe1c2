"""Web pages: the embeddable widget script, the editors' preview and a demo article page.

The preview is server-rendered and works without JavaScript; the demo page
embeds the widget exactly as a site would.
"""

from __future__ import annotations

import random
from importlib.resources import files
from itertools import islice
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as HttpResponse

from recommender.errors import StoreUnavailable, UnknownArticle
from recommender.indexing.explain import SharedTerm, shared_terms
from recommender.popularity.clicks import report
from recommender.popularity.views import DEFAULT_WINDOW, WINDOWS, hour_of
from recommender.serving import boxes
from recommender.serving.curation import parse_curation
from recommender.serving.page import preview_boxes
from recommender.serving.teasers import item_teaser
from service.api import popular_item
from service.auth import admin_token, presents_token
from service.errors import InvalidParameter
from service.live import current_holder, current_index
from service.parameters import window_parameter
from service.popularity import current_popularity

blueprint = Blueprint("pages", __name__, template_folder="templates")

MAX_SEARCH_RESULTS = 50
# The preview's title search reads the newest articles only: each record is decoded to be read, and all
# of a million-article archive would take seconds (an older article opens by its id: /preview/<id>).
SEARCHED_ARTICLES = 100_000
DEMO_ARTICLES = 100  # the demo page opens one of the newest, at random
PREVIEW_ITEMS = 10
WIDGET_MAX_AGE = 3600
# The widget's data- attributes the demo page passes on from its query string.
DEMO_ATTRIBUTES = ("layout", "thumbnails", "excerpts", "related", "tagged", "popular")


@blueprint.get("/widget.js")
def widget() -> HttpResponse:
    source = files("service").joinpath("static/widget.js").read_bytes()
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={WIDGET_MAX_AGE}"
    response.add_etag()
    return response.make_conditional(request)


def _editor_allowed() -> bool:
    """With an admin token configured, editors authenticate with it: Bearer, or Basic with it as password."""
    token = admin_token()
    return token is None or presents_token(token, basic=True)


@blueprint.before_request
def require_editor() -> Response | None:
    editors_only = ("pages.preview_search", "pages.preview_article", "pages.preview_curation")
    if request.endpoint in editors_only and not _editor_allowed():
        page = render_template("error.html", title="Sign in", message="The preview needs the editors' token.")
        return Response(page, 401, {"WWW-Authenticate": 'Basic realm="recommender preview"'})
    return None


@blueprint.errorhandler(UnknownArticle)
def unknown_article(error: UnknownArticle) -> tuple[str, int]:
    return render_template("error.html", title="Not found", message=str(error)), 404


@blueprint.get("/preview")
def preview_search() -> str:
    query = request.args.get("q", "").strip()
    results = []
    if query:
        words = query.lower().split()
        for article in islice(current_index().newest_first, SEARCHED_ARTICLES):
            title = article["title"].lower()
            if all(word in title for word in words):
                results.append(article)
                if len(results) == MAX_SEARCH_RESULTS:
                    break
    index = current_index()
    popularity = current_popularity()
    try:
        popularity.clicks.flush()
        last = hour_of(current_app.config["CLOCK"]())
        clicks = report(popularity.store.click_counts(last - 23, last), ("box", "reason"))
    except StoreUnavailable:
        clicks = None
    return render_template(
        "preview_search.html",
        query=query,
        results=results,
        quality=index.base.quality,
        version=index.version,
        clicks=clicks,
    )


@blueprint.get("/preview/<article_id:article_id>")
def preview_article(article_id: str) -> str | tuple[str, int]:
    try:
        window = window_parameter()
    except InvalidParameter as error:
        return render_template("error.html", title="Bad request", message=str(error)), 400
    index = current_index()
    article = index.article(article_id)
    vector = index.vector(article_id)

    def why(other_id: str) -> list[SharedTerm]:
        return shared_terms(vector, index.vector(other_id), index.words)

    ranking = current_popularity().rankings.ranked(window)
    shown = preview_boxes(index, article_id, ranking, PREVIEW_ITEMS)

    def explained(items: list[boxes.Item]) -> list[tuple[boxes.Item, list[SharedTerm]]]:
        return [(item, why(item.article["id"]) if item.reason == boxes.SIMILAR else []) for item in items]

    # What the floor kept out: editors see the near misses and why they scored what they did.
    neighbours = index.related(article_id, PREVIEW_ITEMS)
    thin = boxes.thin_matches(index, article_id, neighbours)
    below = [(n, why(n.article["id"])) for n, t in zip(neighbours, thin, strict=True) if n.score < index.floor or t]
    return render_template(
        "preview.html",
        article=article,
        related=explained(shown.reader.more_like_this),
        related_beyond=explained(shown.more_like_this_beyond),
        tagged=shown.reader.related,
        popular=[popular_item(item) for item in shown.reader.popular],
        popular_beyond=[popular_item(item) for item in shown.popular_beyond],
        popular_source=shown.reader.popular_source,
        sizes=shown.sizes,
        default_window=DEFAULT_WINDOW,
        teaser_of=item_teaser,
        below_floor=below,
        floor=index.floor,
        min_shared_words=index.min_shared_words,
        window=window,
        windows=list(WINDOWS),
        version=index.version,
        curation=index.curation_of(article_id),
        can_curate=bool(current_app.config["RECOMMENDER_ADMIN_TOKEN"]),
        curation_error=None,
    )


@blueprint.post("/preview/<path:article_id>/curation")
def preview_curation(article_id: str) -> HttpResponse | tuple[str, int]:
    """The preview's form: an editor who holds the token pins and blocks articles (ids, space-separated)."""
    holder = current_holder()
    if not current_app.config["RECOMMENDER_ADMIN_TOKEN"]:
        page = render_template("error.html", title="Read-only", message="Set RECOMMENDER_ADMIN_TOKEN to curate.")
        return page, 403
    holder.live.article(article_id)
    if "pinned" not in request.form and "blocked" not in request.form:
        return render_template("error.html", title="Not curated", message="Send the form's pinned and blocked."), 400
    body = {name: request.form.get(name, "").split() for name in ("pinned", "blocked")}
    try:
        curation = parse_curation(article_id, body)
        unknown = [other for other in (*curation.pinned, *curation.blocked) if not holder.published(other)]
        if unknown:
            raise ValueError(f"no article with id {unknown[0]!r}")
    except ValueError as error:
        message = f"Nothing was changed: {error}"
        return render_template("error.html", title="Not curated", message=message), 400
    holder.curation.put(article_id, curation)  # type: ignore[union-attr]
    holder.refresh()
    return redirect(url_for("pages.preview_article", article_id=article_id))


@blueprint.get("/demo")
def demo_random() -> HttpResponse:
    articles = list(islice(current_index().newest_first, DEMO_ARTICLES))
    if not articles:
        abort(404)
    return redirect(url_for("pages.demo_article", article_id=random.choice(articles)["id"]))


@blueprint.get("/demo/<path:article_id>")
def demo_article(article_id: str) -> str:
    """A stand-in for the site's article page, embedding the widget with the documented snippet; the widget's
    data- attributes can be tried from the query string (``?layout=tabs&thumbnails&excerpts``)."""
    attributes = {name: request.args[name] for name in DEMO_ATTRIBUTES if name in request.args}
    query = f"?{urlencode(attributes)}" if attributes else ""  # links keep the mode
    article = current_index().article(article_id)
    return render_template("demo.html", article=article, widget_attributes=attributes, query=query)
