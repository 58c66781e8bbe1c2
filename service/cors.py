"""Cross-origin use of the API, only from the origins in RECOMMENDER_ALLOWED_ORIGINS.

The widget runs on the site's pages and calls the service on its own origin;
browsers allow that only when the answer names the page's origin. Admin
methods (PUT, DELETE) are never offered cross-origin.
"""

from __future__ import annotations

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, OPTIONS"


def parse_origins(value: str | None) -> frozenset[str]:
    return frozenset(origin.strip().rstrip("/") for origin in (value or "").split(",") if origin.strip())


def init_app(app: Flask) -> None:
    allowed = parse_origins(app.config["RECOMMENDER_ALLOWED_ORIGINS"])

    @app.after_request
    def allow_listed_origins(response: Response) -> Response:
        if not request.path.startswith("/api/"):
            return response
        response.vary.add("Origin")  # a CDN must not serve one origin's answer to another
        origin = request.headers.get("Origin")
        if origin and origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                response.headers["Access-Control-Allow-Headers"] = "Content-Type"
                response.headers["Access-Control-Max-Age"] = "86400"
        return response
