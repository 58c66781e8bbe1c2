"""The Flask application: a thin JSON layer over ``recommender``.

``gunicorn 'service:create_app()'`` and ``flask --app service run`` both work;
nothing is created or loaded at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import PathConverter

from recommender.popularity.views import DEFAULT_MAX_PENDING
from recommender.serving.publish import DEFAULT_INDEX
from service import admin, api, cors, errors, live, metrics, openapi, pages, popularity, responses


class ArticleIdConverter(PathConverter):
    """An article id in a URL that has its own sub-paths: any characters, "/" included, but not ending like
    a sub-path, so that PUT .../x/related is a wrong method on a list (405), not a PUT of article
    "x/related", and GET /preview/x/curation is not the preview of article "x/curation"."""

    regex = r"(?!.*/(?:related|related-by-tags|recommendations|curation)$)[^/].*?"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app, load the index named by ``RECOMMENDER_INDEX`` (default ``var/index``; an index
    directory or an index root), and open the page-view store named by ``POPULARITY_URL`` (default:
    SQLite beside the index)."""
    app = Flask(__name__)
    app.config.from_mapping(
        RECOMMENDER_INDEX=os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX),
        CACHE_MAX_AGE=int(os.environ.get("RECOMMENDER_CACHE_MAX_AGE", "300")),
        POPULAR_CACHE_MAX_AGE=int(os.environ.get("RECOMMENDER_POPULAR_MAX_AGE", "30")),
        POPULARITY_URL=os.environ.get("POPULARITY_URL"),
        POPULARITY_FLUSH_SECONDS=float(os.environ.get("POPULARITY_FLUSH_SECONDS", "0.25")),
        POPULAR_REFRESH_SECONDS=float(os.environ.get("POPULAR_REFRESH_SECONDS", "5")),
        RECOMMENDER_CHANGES=os.environ.get("RECOMMENDER_CHANGES"),
        RECOMMENDER_ADMIN_TOKEN=os.environ.get("RECOMMENDER_ADMIN_TOKEN") or None,
        RELOAD_INTERVAL_SECONDS=float(os.environ.get("RELOAD_INTERVAL_SECONDS", "2")),
        RECOMMENDER_ALLOWED_ORIGINS=os.environ.get("RECOMMENDER_ALLOWED_ORIGINS", ""),
        POPULARITY_MAX_PENDING=int(os.environ.get("POPULARITY_MAX_PENDING", str(DEFAULT_MAX_PENDING))),
        EVENTS_PER_MINUTE=float(os.environ.get("RECOMMENDER_EVENTS_PER_MINUTE", "60")),
        EVENTS_BURST=int(os.environ.get("RECOMMENDER_EVENTS_BURST", "30")),
        TRUSTED_PROXIES=int(os.environ.get("RECOMMENDER_TRUSTED_PROXIES", "0")),
        RECOMMENDER_METRICS=os.environ.get("RECOMMENDER_METRICS", "on"),
        MAX_CONTENT_LENGTH=1 << 20,
        CLOCK=time.time,
    )
    if test_config is not None:
        app.config.update(test_config)
    if app.config["TRUSTED_PROXIES"] > 0:
        # The client is the address the last trusted proxy saw, as it says in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=0)  # type: ignore[method-assign]  # Flask's documented way
    app.url_map.converters["article_id"] = ArticleIdConverter
    metrics.init_app(app)
    live.init_app(app)
    popularity.init_app(app)
    responses.init_app(app)
    errors.init_app(app)
    cors.init_app(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(openapi.blueprint)
    return app
