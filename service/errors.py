"""Every error leaves the service as JSON: ``{"error": <stable code>, "message": ...}``."""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from recommender.errors import UnknownArticle


class InvalidParameter(HTTPException):
    code = 400
    error = "invalid_parameter"


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(exception: HTTPException) -> Response:
    # Unhandled exceptions arrive here as InternalServerError, after Flask logged them.
    code = getattr(exception, "error", None) or re.sub(r"\W+", "_", (exception.name or "error").lower())
    status = exception.code or 500
    message = exception.description if status != 500 else "internal error; it has been logged"
    response = error_response(status, code, message or "")
    if status == 405 and exception.get_headers():
        response.headers.update(dict(exception.get_headers()[1:]))
    return response


def _unknown_article(exception: UnknownArticle) -> Response:
    return error_response(404, "article_not_found", str(exception))


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(UnknownArticle, _unknown_article)
