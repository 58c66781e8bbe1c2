"""The API's contract: an OpenAPI 3.1 document, served at /api/v1/openapi.json.

Kept by hand beside the routes; tests/test_openapi.py checks that it names
every route of the app and method, and runs schemathesis against a live
gunicorn to check every answer against it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

blueprint = Blueprint("openapi", __name__)

_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"
_VERSION_PATTERN = "^[A-Za-z0-9._+:-]{1,100}$"
_BOXES = ("more_like_this", "popular", "related")
_URL_PATTERN = "^(https?://[^\\s]+|/[^\\s]*)$"
_WINDOWS = ["1h", "24h", "7d"]
_REASONS = ["pinned", "similar", "same_section_recent", "popular", "recent"]


def _error(*codes: str) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    return {"description": ", ".join(codes), "content": {"application/json": {"schema": error}}}


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _html_or_error(description: str) -> dict[str, Any]:
    """A page's 404: an HTML page for an unknown article, the API's JSON error for a path no route takes."""
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "description": description,
        "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"schema": error}},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_ARTICLE_ID = {
    "name": "article_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": "the article's id, URL-encoded",
}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}
_BOX_SIZE = {"type": "integer", "minimum": 0, "maximum": 50, "default": 5}
_WINDOW = _query("window", {"type": "string", "enum": _WINDOWS, "default": "24h"}, "the Popular window")
_MIN_SCORE = _query(
    "min_score",
    {"type": "number", "minimum": 0, "maximum": 1},
    "relevance floor for similar items (default: the index's; 0 turns it off)",
)
_FILL = _query(
    "fill", {"type": "string", "enum": ["auto", "none"], "default": "auto"}, "fill the box with fallbacks, or not"
)
_RERANK = [
    _query("recency", {"type": "string", "enum": ["on", "off"]}, "re-rank similar items by recency"),
    _query("half_life_days", {"type": "number", "exclusiveMinimum": 0}, "recency half-life, in days"),
    _query("recency_floor", {"type": "number", "minimum": 0, "maximum": 1}, "the share of similarity age keeps"),
    _query("max_age_days", {"type": "number", "exclusiveMinimum": 0}, "leave out older similar items"),
    _query("diversity", {"type": "number", "minimum": 0, "maximum": 1}, "weight of maximal marginal relevance"),
]
_NOT_MODIFIED = {"description": "not modified (If-None-Match matched the ETag)"}
_AUTH = [{"bearer": []}]
_ADMIN_ERRORS = {"401": _error("unauthorized"), "403": _error("admin_disabled")}


_ITEM_REQUIRED = ["id", "title", "url", "section", "published_at", "image_url", "excerpt", "score", "reason"]


def _item(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [*_ITEM_REQUIRED, *required],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "section": {"type": ["string", "null"]},
            "published_at": {"type": ["string", "null"]},
            "image_url": {"type": ["string", "null"], "description": "the article's picture, null without one"},
            "excerpt": {"type": ["string", "null"], "maxLength": 160, "description": "the first sentence or so"},
            "score": {"type": ["number", "null"]},
            "reason": {"type": "string", "enum": _REASONS},
            **extra,
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the JSON API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recommender",
            "version": "1",
            "description": '"More like this" and "Popular" for a news site; see the README.',
        },
        "paths": {
            "/api/v1/articles/{article_id}/related": {
                "get": {
                    "summary": '"More like this": similar articles above the floor, then fallbacks',
                    "parameters": [_ARTICLE_ID, _query("limit", _LIMIT, "items wanted"), _MIN_SCORE, _FILL, *_RERANK],
                    "responses": {
                        "200": _json("Related", "the list, best first"),
                        "304": _NOT_MODIFIED,
                        "400": _error("invalid_parameter"),
                        "404": _error("article_not_found"),
                    },
                }
            },
            "/api/v1/articles/{article_id}/related-by-tags": {
                "get": {
                    "summary": "\"Related\": articles sharing the article's editors' tags, rare tags first",
                    "parameters": [_ARTICLE_ID, _query("limit", _LIMIT, "items wanted")],
                    "responses": {
                        "200": _json("RelatedByTags", "the list, best first; empty for an article without tags"),
                        "304": _NOT_MODIFIED,
                        "400": _error("invalid_parameter"),
                        "404": _error("article_not_found"),
                    },
                }
            },
            "/api/v1/articles/{article_id}/recommendations": {
                "get": {
                    "summary": "both boxes of an article page, nothing twice",
                    "parameters": [
                        _ARTICLE_ID,
                        _query("related", _BOX_SIZE, "items of More like this"),
                        _query("tagged", _BOX_SIZE, "items of Related (shared tags)"),
                        _query("popular", _BOX_SIZE, "items of Popular"),
                        _WINDOW,
                        _MIN_SCORE,
                        _FILL,
                        *_RERANK,
                    ],
                    "responses": {
                        "200": _json("Recommendations", "both boxes"),
                        "304": _NOT_MODIFIED,
                        "400": _error("invalid_parameter"),
                        "404": _error("article_not_found"),
                    },
                }
            },
            "/api/v1/popular": {
                "get": {
                    "summary": "what readers read most in the window, filled with the newest articles",
                    "parameters": [
                        _query("limit", _LIMIT, "items wanted"),
                        _WINDOW,
                        _query("section", {"type": "string"}, "only this section"),
                        {
                            **_query("exclude", {"type": "array", "items": {"type": "string"}}, "ids to leave out"),
                            "style": "form",
                            "explode": True,
                        },
                    ],
                    "responses": {
                        "200": _json("Popular", "the list"),
                        "304": _NOT_MODIFIED,
                        "400": _error("invalid_parameter"),
                    },
                }
            },
            "/api/v1/events": {
                "post": {
                    "summary": "report a page view, an impression of a box or a click in one",
                    "description": "The same JSON is also accepted as a text/plain body, as navigator.sendBeacon "
                    "sends it.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/ViewEvent"},
                                        {"$ref": "#/components/schemas/ImpressionEvent"},
                                        {"$ref": "#/components/schemas/ClickEvent"},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _json("Accepted", "counted, or ignored as a bot"),
                        "400": _error("invalid_json", "invalid_event", "unknown_article"),
                        "403": _error("origin_not_allowed"),
                        "413": _error("payload_too_large"),
                        "429": {
                            **_error("rate_limited"),
                            "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}},
                        },
                    },
                }
            },
            "/api/v1/articles/{article_id}": {
                "put": {
                    "summary": "publish or update an article now (a corpus row)",
                    "security": _AUTH,
                    "parameters": [_ARTICLE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ArticleRow"}}},
                    },
                    "responses": {
                        "200": _json("Changed", "updated"),
                        "201": _json("Changed", "created"),
                        "400": _error("invalid_json", "invalid_article"),
                        "413": _error("payload_too_large"),
                        **_ADMIN_ERRORS,
                    },
                },
                "delete": {
                    "summary": "unpublish an article: gone from every list at once",
                    "security": _AUTH,
                    "parameters": [_ARTICLE_ID],
                    "responses": {
                        "200": _json("Changed", "deleted"),
                        "404": _error("article_not_found"),
                        **_ADMIN_ERRORS,
                    },
                },
            },
            "/api/v1/articles/{article_id}/curation": {
                operation: {
                    "summary": summary,
                    "security": _AUTH,
                    "parameters": [_ARTICLE_ID],
                    **(
                        {
                            "requestBody": {
                                "required": True,
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Curation"}}},
                            }
                        }
                        if operation == "put"
                        else {}
                    ),
                    "responses": {
                        "200": _json("CurationOf", "the article's pins and blocks"),
                        **(
                            {"400": _error("invalid_json", "invalid_curation", "unknown_article")}
                            if operation == "put"
                            else {}
                        ),
                        "404": _error("article_not_found", "not_found"),
                        **_ADMIN_ERRORS,
                    },
                }
                for operation, summary in (
                    ("get", "the editors' pins and blocks of an article's More like this"),
                    ("put", "pin articles first, in order, and block others; replaces the article's curation"),
                    ("delete", "clear the article's pins and blocks"),
                )
            },
            "/preview/{article_id}/curation": {
                "post": {
                    "summary": "the preview's curation form (space-separated ids in pinned and blocked)",
                    "parameters": [_ARTICLE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"pinned": {"type": "string"}, "blocked": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "302": {"description": "saved: back to the preview"},
                        "400": _html("refused, nothing changed"),
                        "401": _html("the editors' token is needed"),
                        "403": _html("no admin token configured: read-only"),
                        "404": _html_or_error("no such article"),
                    },
                }
            },
            "/api/v1/reports/clicks": {
                "get": {
                    "summary": "impressions, clicks and click-through rate of the boxes over a window",
                    "security": _AUTH,
                    "parameters": [
                        _query("window", {"type": "string", "enum": ["24h", "7d"], "default": "24h"}, "the window"),
                        _query("group", {"type": "string"}, "comma-separated: box, position, reason, index_version"),
                    ],
                    "responses": {
                        "200": _json("ClickReport", "rows, most impressions first"),
                        "400": _error("invalid_parameter"),
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "liveness: the version this worker serves",
                    "responses": {"200": _json("Health", "")},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "readiness: an index is served and the page-view store answers",
                    "responses": {"200": _json("Ready", "ready"), "503": _error("store_unavailable")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of all workers, for the scraper; keep it behind the proxy",
                    "responses": {
                        "200": {"description": "", "content": {"text/plain": {"schema": {"type": "string"}}}},
                        "404": _error("not_found (RECOMMENDER_METRICS=off)"),
                    },
                }
            },
            "/widget.js": {
                "get": {
                    "summary": "the embeddable widget",
                    "responses": {
                        "200": {"description": "", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                        "304": _NOT_MODIFIED,
                    },
                }
            },
            "/preview": {
                "get": {
                    "summary": "editors' preview: find an article by title words; the index's quality report",
                    "parameters": [_query("q", {"type": "string"}, "words of the title")],
                    "responses": {"200": _html("search page"), "401": _html("the editors' token is needed")},
                }
            },
            "/preview/{article_id}": {
                "get": {
                    "summary": "editors' preview of an article's boxes, with reasons and the words behind scores",
                    "parameters": [_ARTICLE_ID, _WINDOW],
                    "responses": {
                        "200": _html("the article's boxes"),
                        "400": _html("a window that is not 1h, 24h or 7d"),
                        "401": _html("the editors' token is needed"),
                        "404": _html_or_error("no such article"),
                    },
                }
            },
            "/demo": {"get": {"summary": "a random article's demo page", "responses": {"302": {"description": ""}}}},
            "/demo/{article_id}": {
                "get": {
                    "summary": "a stand-in article page embedding the widget",
                    "parameters": [_ARTICLE_ID],
                    "responses": {"200": _html("the demo page"), "404": _html_or_error("no such article")},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {"200": {"description": "", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "RelatedItem": _item({}, []),
                "PopularItem": _item({"views": {"type": "integer", "minimum": 0}}, ["views"]),
                "Related": {
                    "type": "object",
                    "required": ["article_id", "items"],
                    "properties": {
                        "article_id": {"type": "string"},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/RelatedItem"}},
                    },
                },
                "Popular": {
                    "type": "object",
                    "required": ["window", "section", "source", "items"],
                    "properties": {
                        "window": {"type": "string", "enum": _WINDOWS},
                        "section": {"type": ["string", "null"]},
                        "source": {"type": "string", "enum": ["views", "recent"]},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/PopularItem"}},
                    },
                },
                "TaggedItem": _item(
                    {
                        "shared_tags": {"type": "array", "items": {"type": "string"}},
                        "reason": {"enum": ["pinned", "shared_tags"]},
                    },
                    ["shared_tags"],
                ),
                "RelatedByTags": {
                    "type": "object",
                    "required": ["article_id", "items"],
                    "properties": {
                        "article_id": {"type": "string"},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/TaggedItem"}},
                    },
                },
                "Recommendations": {
                    "type": "object",
                    "description": "index_version names the version that answered, for the widget's click reports",
                    "required": [
                        "article_id",
                        "more_like_this",
                        "related",
                        "popular",
                        "popular_source",
                        "popular_window",
                    ],
                    "properties": {
                        "article_id": {"type": "string"},
                        "more_like_this": {"type": "array", "items": {"$ref": "#/components/schemas/RelatedItem"}},
                        "related": {"type": "array", "items": {"$ref": "#/components/schemas/TaggedItem"}},
                        "popular": {"type": "array", "items": {"$ref": "#/components/schemas/PopularItem"}},
                        "popular_source": {"type": "string", "enum": ["views", "recent"]},
                        "popular_window": {"type": "string", "enum": _WINDOWS},
                        "index_version": {"type": "string"},
                    },
                },
                "ViewEvent": {
                    "type": "object",
                    "required": ["type", "article_id"],
                    "properties": {
                        "type": {"const": "view"},
                        "article_id": {"type": "string"},
                        "visitor_id": {"type": ["string", "null"], "pattern": _ID_PATTERN},
                    },
                },
                "ImpressionEvent": {
                    "type": "object",
                    "required": ["type", "article_id", "box", "ids", "reasons", "index_version"],
                    "properties": {
                        "type": {"const": "impression"},
                        "article_id": {"type": "string"},
                        "box": {"enum": list(_BOXES)},
                        "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
                        "reasons": {"type": "array", "items": {"enum": _REASONS}, "minItems": 1, "maxItems": 50},
                        "index_version": {"type": "string", "pattern": _VERSION_PATTERN},
                    },
                },
                "ClickEvent": {
                    "type": "object",
                    "required": ["type", "article_id", "target_id", "box", "position", "reason", "index_version"],
                    "properties": {
                        "type": {"const": "click"},
                        "article_id": {"type": "string"},
                        "target_id": {"type": "string"},
                        "box": {"enum": list(_BOXES)},
                        "position": {"type": "integer", "minimum": 1, "maximum": 50},
                        "reason": {"enum": _REASONS},
                        "index_version": {"type": "string", "pattern": _VERSION_PATTERN},
                    },
                },
                "ClickReport": {
                    "type": "object",
                    "required": ["window", "rows"],
                    "properties": {
                        "window": {"enum": ["24h", "7d"]},
                        "rows": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["impressions", "clicks", "ctr"],
                                "properties": {
                                    "box": {"type": "string"},
                                    "position": {"type": "integer"},
                                    "reason": {"type": "string"},
                                    "index_version": {"type": "string"},
                                    "impressions": {"type": "integer"},
                                    "clicks": {"type": "integer"},
                                    "ctr": {"type": "number"},
                                },
                            },
                        },
                    },
                },
                "Accepted": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["accepted", "ignored_bot"]}},
                },
                "ArticleRow": {
                    "type": "object",
                    "description": "a corpus row; its id is the URL's (an id in the body must equal it)",
                    "required": ["title", "body"],
                    "properties": {
                        "title": {"type": "string", "minLength": 1},
                        "body": {"type": "string", "minLength": 1},
                        "url": {"type": ["string", "null"], "pattern": _URL_PATTERN},
                        "section": {"type": ["string", "null"]},
                        "published_at": {"type": ["string", "null"], "format": "date-time"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "image_url": {"type": ["string", "null"], "pattern": _URL_PATTERN},
                    },
                },
                "Changed": {
                    "type": "object",
                    "required": ["article_id", "status", "worker_pid"],
                    "properties": {
                        "article_id": {"type": "string"},
                        "status": {"type": "string", "enum": ["created", "updated", "deleted"]},
                        "related": {"type": "array", "items": {"type": "object"}},
                        "worker_pid": {"type": "integer"},
                    },
                },
                "Curation": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "pinned": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50},
                        "blocked": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50},
                    },
                },
                "CurationOf": {
                    "type": "object",
                    "required": ["article_id", "pinned", "blocked"],
                    "properties": {
                        "article_id": {"type": "string"},
                        "pinned": {"type": "array", "items": {"type": "string"}},
                        "blocked": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Ready": {
                    "type": "object",
                    "required": ["status", "index_version", "article_count"],
                    "properties": {
                        "status": {"const": "ready"},
                        "index_version": {"type": "string"},
                        "article_count": {"type": "integer"},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "index_version", "article_count", "built_at", "worker_pid", "pending_views"],
                    "properties": {
                        "status": {"const": "ok"},
                        "index_version": {"type": "string"},
                        "article_count": {"type": "integer"},
                        "built_at": {"type": "string"},
                        "worker_pid": {"type": "integer"},
                        "pending_views": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    }


@blueprint.get("/api/v1/openapi.json")
def openapi() -> Response:
    response = jsonify(document())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
