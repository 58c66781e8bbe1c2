"""The bodies the API answers with and accepts."""

from __future__ import annotations

from typing import Any

from service.openapi.parts import (
    BOXES,
    ID_PATTERN,
    REASONS,
    URL_PATTERN,
    VERSION_PATTERN,
    WINDOWS,
    item,
)


def components() -> dict[str, Any]:
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "RelatedItem": item({}, []),
            "PopularItem": item({"views": {"type": "integer", "minimum": 0}}, ["views"]),
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
                    "window": {"type": "string", "enum": WINDOWS},
                    "section": {"type": ["string", "null"]},
                    "source": {"type": "string", "enum": ["views", "recent"]},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/PopularItem"}},
                },
            },
            "TaggedItem": item(
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
                    "popular_window": {"type": "string", "enum": WINDOWS},
                    "index_version": {"type": "string"},
                },
            },
            "ViewEvent": {
                "type": "object",
                "required": ["type", "article_id"],
                "properties": {
                    "type": {"const": "view"},
                    "article_id": {"type": "string"},
                    "visitor_id": {"type": ["string", "null"], "pattern": ID_PATTERN},
                },
            },
            "ImpressionEvent": {
                "type": "object",
                "required": ["type", "article_id", "box", "ids", "reasons", "index_version"],
                "properties": {
                    "type": {"const": "impression"},
                    "article_id": {"type": "string"},
                    "box": {"enum": list(BOXES)},
                    "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 50},
                    "reasons": {"type": "array", "items": {"enum": REASONS}, "minItems": 1, "maxItems": 50},
                    "index_version": {"type": "string", "pattern": VERSION_PATTERN},
                },
            },
            "ClickEvent": {
                "type": "object",
                "required": ["type", "article_id", "target_id", "box", "position", "reason", "index_version"],
                "properties": {
                    "type": {"const": "click"},
                    "article_id": {"type": "string"},
                    "target_id": {"type": "string"},
                    "box": {"enum": list(BOXES)},
                    "position": {"type": "integer", "minimum": 1, "maximum": 50},
                    "reason": {"enum": REASONS},
                    "index_version": {"type": "string", "pattern": VERSION_PATTERN},
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
                    "url": {"type": ["string", "null"], "pattern": URL_PATTERN},
                    "section": {"type": ["string", "null"]},
                    "published_at": {"type": ["string", "null"], "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "image_url": {"type": ["string", "null"], "pattern": URL_PATTERN},
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
                "required": [
                    "status",
                    "index_version",
                    "article_count",
                    "built_at",
                    "worker_pid",
                    "pending_views",
                    "lists_prepared",
                ],
                "properties": {
                    "status": {"const": "ok"},
                    "index_version": {"type": "string"},
                    "article_count": {"type": "integer"},
                    "built_at": {"type": "string"},
                    "worker_pid": {"type": "integer"},
                    "pending_views": {"type": "integer", "minimum": 0},
                    "lists_prepared": {"type": "integer", "minimum": 0},
                },
            },
        },
    }
