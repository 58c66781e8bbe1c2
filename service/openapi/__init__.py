"""The API's contract: an OpenAPI 3.1 document, served at /api/v1/openapi.json.

Kept by hand beside the routes (paths.py, schemas.py); tests/test_openapi.py checks
that it names every route of the app and method, and runs schemathesis against a
live gunicorn to check every answer against it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from service.openapi.paths import paths
from service.openapi.schemas import components

blueprint = Blueprint("openapi", __name__)


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the JSON API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recommender",
            "version": "1",
            "description": '"More like this" and "Popular" for a news site; see the README.',
        },
        "paths": paths(),
        "components": components(),
    }


@blueprint.get("/api/v1/openapi.json")
def openapi() -> Response:
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
