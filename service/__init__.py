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

from recommender.config import Settings
from service import admin, api, beacons, cors, errors, live, metrics, openapi, pages, popularity, responses
from service.lifecycle import Lifecycle


class ArticleIdConverter(PathConverter):
    """An article id in a URL that has its own sub-paths: any characters, "/" included, but not ending like
    a sub-path, so that PUT .../x/related is a wrong method on a list (405), not a PUT of article
    "x/related", and GET /preview/x/curation is not the preview of article "x/curation"."""

    regex = r"(?!.*/(?:related|related-by-tags|recommendations|curation)$)[^/].*?"


def flask_config(settings: Settings) -> dict[str, Any]:
    """The app's config keys for ``settings``: the keys a test's ``test_config`` may override."""
    return {
        "RECOMMENDER_INDEX": str(settings.index),
        "CACHE_MAX_AGE": settings.cache_max_age,
        "POPULAR_CACHE_MAX_AGE": settings.popular_max_age,
        "POPULARITY_URL": settings.popularity_url,
        "POPULARITY_FLUSH_SECONDS": settings.popularity_flush_seconds,
        "POPULAR_REFRESH_SECONDS": settings.popular_refresh_seconds,
        "RECOMMENDER_CHANGES": None if settings.changes is None else str(settings.changes),
        "RECOMMENDER_ADMIN_TOKEN": settings.admin_token,
        "RELOAD_INTERVAL_SECONDS": settings.reload_interval_seconds,
        "WARM_ARTICLES": settings.warm_articles,
        "RECOMMENDER_ALLOWED_ORIGINS": settings.allowed_origins,
        "POPULARITY_MAX_PENDING": settings.popularity_max_pending,
        "EVENTS_PER_MINUTE": settings.events_per_minute,
        "EVENTS_BURST": settings.events_burst,
        "TRUSTED_PROXIES": settings.trusted_proxies,
        "RECOMMENDER_METRICS": "on" if settings.metrics else "off",
    }


def create_app(test_config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment (``environ``, default ``os.environ``; see recommender.config):
    load the index named by ``RECOMMENDER_INDEX`` and open the page-view store named by
    ``RECOMMENDER_POPULARITY_URL``. ``test_config`` overrides app config keys (see ``flask_config``) after
    that. A bad variable raises ConfigError before anything starts, so a gunicorn worker fails to boot
    with its message. ``app.extensions["recommender"].close()`` stops what the app started."""
    settings = Settings.from_environ(os.environ if environ is None else environ)
    app = Flask(__name__)
    app.config.from_mapping(flask_config(settings), MAX_CONTENT_LENGTH=1 << 20, CLOCK=time.time)
    if test_config is not None:
        app.config.update(test_config)
    beacons.init_app(app)
    if app.config["TRUSTED_PROXIES"] > 0:
        # The client is the address the last trusted proxy saw, as it says in X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=0)  # type: ignore[method-assign]  # Flask's documented way
    app.url_map.converters["article_id"] = ArticleIdConverter
    metrics.init_app(app)
    lifecycle = app.extensions["recommender"] = Lifecycle()
    try:
        live.init_app(app)
        popularity.init_app(app)
        live.start_warming(app)
    except BaseException:
        lifecycle.close()  # what started before the failure stops, instead of leaking into the caller
        raise
    responses.init_app(app)
    errors.init_app(app)
    cors.init_app(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(openapi.blueprint)
    return app
