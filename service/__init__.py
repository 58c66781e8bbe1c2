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

from recommender.publish import DEFAULT_INDEX
from service import admin, api, cors, errors, live, pages, popularity


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
        MAX_CONTENT_LENGTH=1 << 20,
        CLOCK=time.time,
    )
    if test_config is not None:
        app.config.update(test_config)
    live.init_app(app)
    popularity.init_app(app)
    errors.init_app(app)
    cors.init_app(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(pages.blueprint)
    return app
