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
Entry = tuple[str, float]  # an article's id and publication time
NEWEST_PER_TAG = 500


@dataclass(frozen=True, slots=True)
class TagIndex:
    """Editors' tags -> their articles: how many carry each tag, and the newest of them."""

    count: int  # articles served
    tagged: Callable[[str], int]  # casefolded tag -> how many articles carry it
    newest: Callable[[str], Iterable[Entry]]  # casefolded tag -> its articles, newest first

    def weight(self, tag: str) -> float:
        return math.log((1 + self.count) / (1 + self.tagged(tag))) + 1.0


def tags_of(article: Article) -> dict[str, str]:
    """Casefolded tag -> the tag as the editors wrote it."""
    return {tag.casefold(): tag for tag in article.get("tags") or ()}


def sharing_tags(page: Article, index: TagIndex) -> list[tuple[str, float, list[str]]]:
    """Ids of the articles sharing a tag with ``page``: (id, score, the shared tags as written), best first."""
    mine = tags_of(page)
    found: dict[str, tuple[float, float, list[str]]] = {}  # id -> (score, published, shared tags)
    for tag in sorted(mine, key=index.weight, reverse=True):
        weight = index.weight(tag)
        for article_id, published in islice(index.newest(tag), NEWEST_PER_TAG):
            if article_id == page["id"]:
                continue
            score, _, shared = found.get(article_id, (0.0, published, []))
            found[article_id] = (score + weight, published, [*shared, mine[tag]])
    ranked = sorted(found.items(), key=lambda entry: (-entry[1][0], -entry[1][1], entry[0]))
    return [(article_id, score, shared) for article_id, (score, _, shared) in ranked]
