"""The pieces the paths and schemas are made of: patterns, parameters, responses, items."""

from __future__ import annotations

from typing import Any

ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"
VERSION_PATTERN = "^[A-Za-z0-9._+:-]{1,100}$"
BOXES = ("more_like_this", "popular", "related")
URL_PATTERN = "^(https?://[^\\s]+|/[^\\s]*)$"
WINDOWS = ["1h", "24h", "7d"]
REASONS = ["pinned", "similar", "same_section_recent", "popular", "recent"]


def error(*codes: str) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    return {"description": ", ".join(codes), "content": {"application/json": {"schema": error}}}


def json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def html_or_error(description: str) -> dict[str, Any]:
    """A page's 404: an HTML page for an unknown article, the API's JSON error for a path no route takes."""
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "description": description,
        "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"schema": error}},
    }


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


ARTICLE_ID = {
    "name": "article_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": "the article's id, URL-encoded",
}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}
BOX_SIZE = {"type": "integer", "minimum": 0, "maximum": 50, "default": 5}
WINDOW = query("window", {"type": "string", "enum": WINDOWS, "default": "24h"}, "the Popular window")
MIN_SCORE = query(
    "min_score",
    {"type": "number", "minimum": 0, "maximum": 1},
    "relevance floor for similar items (default: the index's; 0 turns it off)",
)
FILL = query(
    "fill", {"type": "string", "enum": ["auto", "none"], "default": "auto"}, "fill the box with fallbacks, or not"
)
RERANK = [
    query("recency", {"type": "string", "enum": ["on", "off"]}, "re-rank similar items by recency"),
    query("half_life_days", {"type": "number", "exclusiveMinimum": 0}, "recency half-life, in days"),
    query("recency_floor", {"type": "number", "minimum": 0, "maximum": 1}, "the share of similarity age keeps"),
    query("max_age_days", {"type": "number", "exclusiveMinimum": 0}, "leave out older similar items"),
    query("diversity", {"type": "number", "minimum": 0, "maximum": 1}, "weight of maximal marginal relevance"),
]
NOT_MODIFIED = {"description": "not modified (If-None-Match matched the ETag)"}
AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
ADMIN_ERRORS = {"401": error("unauthorized"), "403": error("admin_disabled")}


ITEM_REQUIRED = ["id", "title", "url", "section", "published_at", "image_url", "excerpt", "score", "reason"]


def item(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [*ITEM_REQUIRED, *required],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "section": {"type": ["string", "null"]},
            "published_at": {"type": ["string", "null"]},
            "image_url": {"type": ["string", "null"], "description": "the article's picture, null without one"},
            "excerpt": {"type": ["string", "null"], "maxLength": 160, "description": "the first sentence or so"},
            "score": {"type": ["number", "null"]},
            "reason": {"type": "string", "enum": REASONS},
            **extra,
        },
    }
