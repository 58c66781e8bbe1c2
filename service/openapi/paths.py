"""The paths of the API, one entry per route and method."""

from __future__ import annotations

from typing import Any

from service.openapi.parts import (
    ADMIN_ERRORS,
    ARTICLE_ID,
    AUTH,
    BOX_SIZE,
    FILL,
    LIMIT,
    MIN_SCORE,
    NOT_MODIFIED,
    RERANK,
    WINDOW,
    error,
    html,
    html_or_error,
    json,
    query,
)


def paths() -> dict[str, Any]:
    return {
        "/api/v1/articles/{article_id}/related": {
            "get": {
                "summary": '"More like this": similar articles above the floor, then fallbacks',
                "parameters": [ARTICLE_ID, query("limit", LIMIT, "items wanted"), MIN_SCORE, FILL, *RERANK],
                "responses": {
                    "200": json("Related", "the list, best first"),
                    "304": NOT_MODIFIED,
                    "400": error("invalid_parameter"),
                    "404": error("article_not_found"),
                },
            }
        },
        "/api/v1/articles/{article_id}/related-by-tags": {
            "get": {
                "summary": "\"Related\": articles sharing the article's editors' tags, rare tags first",
                "parameters": [ARTICLE_ID, query("limit", LIMIT, "items wanted")],
                "responses": {
                    "200": json("RelatedByTags", "the list, best first; empty for an article without tags"),
                    "304": NOT_MODIFIED,
                    "400": error("invalid_parameter"),
                    "404": error("article_not_found"),
                },
            }
        },
        "/api/v1/articles/{article_id}/recommendations": {
            "get": {
                "summary": "both boxes of an article page, nothing twice",
                "parameters": [
                    ARTICLE_ID,
                    query("related", BOX_SIZE, "items of More like this"),
                    query("tagged", BOX_SIZE, "items of Related (shared tags)"),
                    query("popular", BOX_SIZE, "items of Popular"),
                    WINDOW,
                    MIN_SCORE,
                    FILL,
                    *RERANK,
                ],
                "responses": {
                    "200": json("Recommendations", "both boxes"),
                    "304": NOT_MODIFIED,
                    "400": error("invalid_parameter"),
                    "404": error("article_not_found"),
                },
            }
        },
        "/api/v1/popular": {
            "get": {
                "summary": "what readers read most in the window, filled with the newest articles",
                "parameters": [
                    query("limit", LIMIT, "items wanted"),
                    WINDOW,
                    query("section", {"type": "string"}, "only this section"),
                    {
                        **query("exclude", {"type": "array", "items": {"type": "string"}}, "ids to leave out"),
                        "style": "form",
                        "explode": True,
                    },
                ],
                "responses": {
                    "200": json("Popular", "the list"),
                    "304": NOT_MODIFIED,
                    "400": error("invalid_parameter"),
                },
            }
        },
        "/api/v1/events": {
            "post": {
                "summary": "report a page view, an impression of a box or a click in one",
                "description": "The same JSON is also accepted as a text/plain body, as navigator.sendBeacon sends it.",
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
                    "202": json("Accepted", "counted, or ignored as a bot"),
                    "400": error("invalid_json", "invalid_event", "unknown_article"),
                    "403": error("origin_not_allowed"),
                    "413": error("payload_too_large"),
                    "429": {
                        **error("rate_limited"),
                        "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}},
                    },
                },
            }
        },
        "/api/v1/articles/{article_id}": {
            "put": {
                "summary": "publish or update an article now (a corpus row)",
                "security": AUTH,
                "parameters": [ARTICLE_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ArticleRow"}}},
                },
                "responses": {
                    "200": json("Changed", "updated"),
                    "201": json("Changed", "created"),
                    "400": error("invalid_json", "invalid_article"),
                    "413": error("payload_too_large"),
                    **ADMIN_ERRORS,
                },
            },
            "delete": {
                "summary": "unpublish an article: gone from every list at once",
                "security": AUTH,
                "parameters": [ARTICLE_ID],
                "responses": {
                    "200": json("Changed", "deleted"),
                    "404": error("article_not_found"),
                    **ADMIN_ERRORS,
                },
            },
        },
        "/api/v1/articles/{article_id}/curation": {
            operation: {
                "summary": summary,
                "security": AUTH,
                "parameters": [ARTICLE_ID],
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
                    "200": json("CurationOf", "the article's pins and blocks"),
                    **(
                        {"400": error("invalid_json", "invalid_curation", "unknown_article")}
                        if operation == "put"
                        else {}
                    ),
                    "404": error("article_not_found", "not_found"),
                    **ADMIN_ERRORS,
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
                "parameters": [ARTICLE_ID],
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
                    "400": html("refused, nothing changed"),
                    "401": html("the editors' token is needed"),
                    "403": html("no admin token configured: read-only"),
                    "404": html_or_error("no such article"),
                },
            }
        },
        "/api/v1/reports/clicks": {
            "get": {
                "summary": "impressions, clicks and click-through rate of the boxes over a window",
                "security": AUTH,
                "parameters": [
                    query("window", {"type": "string", "enum": ["24h", "7d"], "default": "24h"}, "the window"),
                    query("group", {"type": "string"}, "comma-separated: box, position, reason, index_version"),
                ],
                "responses": {
                    "200": json("ClickReport", "rows, most impressions first"),
                    "400": error("invalid_parameter"),
                    **ADMIN_ERRORS,
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "liveness: the version this worker serves",
                "responses": {"200": json("Health", "")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "readiness: an index is served and the page-view store answers",
                "responses": {"200": json("Ready", "ready"), "503": error("store_unavailable")},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of all workers, for the scraper; keep it behind the proxy",
                "responses": {
                    "200": {"description": "", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "404": error("not_found (RECOMMENDER_METRICS=off)"),
                },
            }
        },
        "/widget.js": {
            "get": {
                "summary": "the embeddable widget",
                "responses": {
                    "200": {"description": "", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                    "304": NOT_MODIFIED,
                },
            }
        },
        "/preview": {
            "get": {
                "summary": "editors' preview: find an article by title words; the index's quality report",
                "parameters": [query("q", {"type": "string"}, "words of the title")],
                "responses": {"200": html("search page"), "401": html("the editors' token is needed")},
            }
        },
        "/preview/{article_id}": {
            "get": {
                "summary": "editors' preview of an article's boxes, with reasons and the words behind scores",
                "parameters": [ARTICLE_ID, WINDOW],
                "responses": {
                    "200": html("the article's boxes"),
                    "400": html("a window that is not 1h, 24h or 7d"),
                    "401": html("the editors' token is needed"),
                    "404": html_or_error("no such article"),
                },
            }
        },
        "/demo": {"get": {"summary": "a random article's demo page", "responses": {"302": {"description": ""}}}},
        "/demo/{article_id}": {
            "get": {
                "summary": "a stand-in article page embedding the widget",
                "parameters": [ARTICLE_ID],
                "responses": {"200": html("the demo page"), "404": html_or_error("no such article")},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "this document",
                "responses": {"200": {"description": "", "content": {"application/json": {}}}},
            }
        },
    }
