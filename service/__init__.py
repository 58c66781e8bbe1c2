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

from recommender.index import load_index
from service import api, errors, popularity

DEFAULT_INDEX = "var/index"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app, load the index named by ``RECOMMENDER_INDEX`` (default ``var/index``)
    and open the page-view store named by ``POPULARITY_URL`` (default: SQLite beside the index)."""
    app = Flask(__name__)
    app.config.from_mapping(
        RECOMMENDER_INDEX=os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX),
        CACHE_MAX_AGE=int(os.environ.get("RECOMMENDER_CACHE_MAX_AGE", "300")),
        POPULAR_CACHE_MAX_AGE=int(os.environ.get("RECOMMENDER_POPULAR_MAX_AGE", "30")),
        POPULARITY_URL=os.environ.get("POPULARITY_URL"),
        POPULARITY_FLUSH_SECONDS=float(os.environ.get("POPULARITY_FLUSH_SECONDS", "0.25")),
        POPULAR_REFRESH_SECONDS=float(os.environ.get("POPULAR_REFRESH_SECONDS", "5")),
        MAX_CONTENT_LENGTH=1 << 20,
        CLOCK=time.time,
    )
    if test_config is not None:
        app.config.update(test_config)
    app.extensions["recommender.index"] = load_index(app.config["RECOMMENDER_INDEX"])
    popularity.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.blueprint)
    return app
