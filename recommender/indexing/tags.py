"""The "Related" box: articles that share the page article's editors' tags, a rare tag counting more.

Tags are matched case-insensitively. A shared tag weighs like an idf,
ln((1 + articles) / (1 + articles with the tag)) + 1, so that "Elections 2026"
outweighs "News"; ties go to the newer article. Only the newest articles of each
tag are looked at, so a tag on every article costs no more than a rare one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

Article = dict[str, Any]
NEWEST_PER_TAG = 500


@dataclass(frozen=True, slots=True)
class TagIndex:
    """Editors' tags -> their articles: how many carry each tag, and the newest of them."""

    count: int  # articles served
    tagged: Callable[[str], int]  # casefolded tag -> how many articles carry it
    newest: Callable[[str], Iterable[Article]]  # casefolded tag -> its articles, newest first

    def weight(self, tag: str) -> float:
        return math.log((1 + self.count) / (1 + self.tagged(tag))) + 1.0


def tags_of(article: Article) -> dict[str, str]:
    """Casefolded tag -> the tag as the editors wrote it."""
    return {tag.casefold(): tag for tag in article.get("tags") or ()}


def sharing_tags(
    page: Article, index: TagIndex, published: Callable[[Article], float]
) -> list[tuple[Article, float, list[str]]]:
    """Articles sharing a tag with ``page``: (article, score, the shared tags as written), best first."""
    mine = tags_of(page)
    found: dict[str, tuple[Article, float, list[str]]] = {}
    for tag in sorted(mine, key=index.weight, reverse=True):
        weight = index.weight(tag)
        for article in islice(index.newest(tag), NEWEST_PER_TAG):
            if article["id"] == page["id"]:
                continue
            _, score, shared = found.get(article["id"], (article, 0.0, []))
            found[article["id"]] = (article, score + weight, [*shared, mine[tag]])
    return sorted(found.values(), key=lambda entry: (-entry[1], -published(entry[0]), entry[0]["id"]))
