"""The Flask application: a thin JSON layer over ``recommender``.

``gunicorn 'service:create_app()'`` and ``flask --app service run`` both work;
nothing is created or loaded at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from recommender.index import load_index
from service import api, errors

DEFAULT_INDEX = "var/index"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app and load the index named by ``RECOMMENDER_INDEX`` (default ``var/index``)."""
    app = Flask(__name__)
    app.config.from_mapping(
        RECOMMENDER_INDEX=os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX),
        CACHE_MAX_AGE=int(os.environ.get("RECOMMENDER_CACHE_MAX_AGE", "300")),
    )
    if test_config is not None:
        app.config.update(test_config)
    app.extensions["recommender.index"] = load_index(app.config["RECOMMENDER_INDEX"])
    errors.init_app(app)
    app.register_blueprint(api.blueprint)
    return app
