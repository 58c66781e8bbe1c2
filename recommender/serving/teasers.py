"""The teaser an item shows, from what the index keeps of its article."""

from __future__ import annotations

from typing import Any

from recommender.indexing.teaser import teaser


def item_teaser(article: dict[str, Any]) -> str | None:
    """The teaser stored at build time (or when the article was added). An index built before teasers
    were stored has only the body's first 600 characters (``excerpt``): enough to make one from."""
    if "teaser" in article:
        stored: str | None = article["teaser"]
        return stored
    return teaser(article.get("excerpt"))
