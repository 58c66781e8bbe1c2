"""What each box under an article shows, and why each item is in it.

"More like this" lists only articles whose similarity reaches the relevance
floor. When fewer do, the box is filled honestly, each item saying why it is
there: recent articles of the page article's section, then Popular, then the
newest articles. "Popular" is filled the same way once its ranking runs out.
No box repeats the page article or anything already shown on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from recommender.indexing.index import Neighbour
from recommender.indexing.relevance import shared_words_dense
from recommender.indexing.rerank import Candidate, RerankSettings, rerank
from recommender.indexing.tags import TagIndex, sharing_tags
from recommender.popularity.rankings import Ranked
from recommender.serving.curation import Curation

PINNED = "pinned"
SIMILAR = "similar"
SAME_SECTION_RECENT = "same_section_recent"
SHARED_TAGS = "shared_tags"
POPULAR = "popular"
RECENT = "recent"
REASONS = (PINNED, SIMILAR, SAME_SECTION_RECENT, POPULAR, RECENT, SHARED_TAGS)

Article = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Item:
    article: Article
    reason: str  # one of REASONS
    score: float | None  # cosine for "similar", decayed views for "popular", None otherwise
    views: int | None = None  # for Popular items
    shared_tags: tuple[str, ...] = ()  # for "Related" items


class ServedIndex(Protocol):
    def article(self, article_id: str) -> Article: ...
    def find(self, article_id: str) -> Article | None: ...
    def related(self, article_id: str, limit: int, min_score: float = 0.0) -> list[Neighbour]: ...
    def newest_in_section(self, section: str) -> Iterable[Article]: ...
    def same_story(self, article_id: str, other_id: str) -> bool: ...
    def published_timestamp(self, article_id: str) -> float: ...
    def dense_rows(self, article_ids: Sequence[str]) -> np.ndarray: ...
    def memoised(self, key: Any, compute: Callable[[], Any]) -> Any: ...
    def curation_of(self, article_id: str) -> Curation: ...
    @property
    def tag_index(self) -> TagIndex: ...
    @property
    def newest_first(self) -> Iterable[Article]: ...
    @property
    def floor(self) -> float: ...
    @property
    def min_shared_words(self) -> float: ...
    @property
    def neighbours_per_article(self) -> int: ...
    @property
    def rerank_settings(self) -> RerankSettings: ...


def _popular_articles(ranking: Sequence[Ranked], find: Callable[[str], Article | None]) -> Iterator[Item]:
    for entry in ranking:
        article = find(entry.article_id)
        if article is not None:
            yield Item(article, POPULAR, round(entry.score, 4), entry.views)


def _recent(articles: Iterable[Article], reason: str) -> Iterator[Item]:
    return (Item(article, reason, None) for article in articles)


def recommendable(article: Article) -> bool:
    """Editors keep an article out of every list with ``"recommendable": false`` (sponsored content,
    obituaries, corrections)."""
    return article.get("recommendable", True) is not False


def _take(
    candidates: Iterable[Item],
    limit: int,
    shown: set[str],
    section: str | None = None,
    skip: Callable[[str], bool] | None = None,
) -> list[Item]:
    """Up to ``limit`` candidates not yet shown (and of ``section`` when given, and not ``skip``ped);
    marks them shown."""
    taken: list[Item] = []
    for item in candidates:
        if len(taken) == limit:
            break
        article_id = item.article["id"]
        if article_id in shown or (section is not None and item.article.get("section") != section):
            continue
        if not recommendable(item.article):
            continue
        if skip is not None and skip(article_id):
            continue
        shown.add(article_id)
        taken.append(item)
    return taken


# Re-ranking looks at as many candidates as the index stores per article (30 by default: the best of the
# stored list and of the day's added articles that list this one), or as the box needs if more, whatever
# the box's size: a fresh item low on wording can lead the box, and a box of 3 begins as the box of 5 does.
# Bounded so that it stays a lookup, however many articles the day adds on one story (bench/recency.py).


def similar_items(
    index: ServedIndex,
    article_id: str,
    limit: int,
    min_score: float,
    settings: RerankSettings,
    shown: set[str],
) -> list[Item]:
    """The similar articles at or above ``min_score``, re-ranked for recency, one per story, diversity.

    Computed once per served snapshot and request shape: the re-rank costs a few hundred microseconds.
    """
    key = ("similar", article_id, limit, min_score, settings, frozenset(shown))
    return list(index.memoised(key, lambda: _similar_items(index, article_id, limit, min_score, settings, shown)))


def _similar_items(
    index: ServedIndex,
    article_id: str,
    limit: int,
    min_score: float,
    settings: RerankSettings,
    shown: set[str],
) -> list[Item]:
    neighbours = index.related(article_id, max(index.neighbours_per_article, limit + len(shown)), min_score)
    if min_score > 0.0:  # the floor is on: a cosine resting on one or two words is not similarity
        neighbours = [
            n for n, thin in zip(neighbours, thin_matches(index, article_id, neighbours), strict=True) if not thin
        ]
    candidates = [
        Candidate(n.article["id"], n.score, index.published_timestamp(n.article["id"]), n.article)
        for n in neighbours
        if n.article["id"] not in shown and recommendable(n.article)
    ]
    ranked = rerank(index.published_timestamp(article_id), candidates, index.dense_rows, settings, limit)
    return [Item(c.payload, SIMILAR, round(c.score, 4)) for c in ranked]


def thin_matches(index: ServedIndex, article_id: str, neighbours: Sequence[Neighbour]) -> list[bool]:
    """Per neighbour, whether its cosine rests on fewer words than the index's ``min_shared_words``."""
    if not neighbours or index.min_shared_words <= 0.0:
        return [False] * len(neighbours)
    rows = index.dense_rows([article_id] + [n.article["id"] for n in neighbours])
    return [bool(words < index.min_shared_words) for words in shared_words_dense(rows[0], rows[1:])]


def more_like_this(
    index: ServedIndex,
    article_id: str,
    limit: int,
    min_score: float,
    ranking: Sequence[Ranked],
    fill: bool = True,
    shown: set[str] | None = None,
    settings: RerankSettings = RerankSettings(),
) -> list[Item]:
    """Similar articles at or above ``min_score`` (re-ranked by ``settings``), then (with ``fill``) the
    fallbacks, ``limit`` in all.

    ``shown``: ids already on the page; the page article is added to it, and so is every item returned.
    Raises UnknownArticle for an id the index does not serve.
    """
    shown = set() if shown is None else shown
    page = index.article(article_id)
    shown.add(article_id)
    curation = index.curation_of(article_id)
    shown |= curation.blocked  # blocked: never under this article, in any box
    pinned = (index.find(pinned_id) for pinned_id in curation.pinned)  # a deleted pin drops out
    items = _take((Item(article, PINNED, None) for article in pinned if article is not None), limit, shown)
    items += _take(similar_items(index, article_id, limit - len(items), min_score, settings, shown), limit, shown)
    if not fill:
        return items

    def duplicate(other_id: str) -> bool:
        # The page article republished is not a fallback either.
        return index.same_story(article_id, other_id)

    section = page.get("section")
    fallbacks: list[Iterable[Item]] = []
    if section:
        fallbacks.append(_recent(index.newest_in_section(section), SAME_SECTION_RECENT))
    fallbacks += [_popular_articles(ranking, index.find), _recent(index.newest_first, RECENT)]
    for candidates in fallbacks:
        if len(items) == limit:
            break
        items += _take(candidates, limit - len(items), shown, skip=duplicate)
    return items


def related_by_tags(index: ServedIndex, article_id: str, limit: int, shown: set[str] | None = None) -> list[Item]:
    """The "Related" box: editors' pins first, then articles sharing the page article's tags, rarest tags
    first; empty for an article without tags. Blocks and ``recommendable`` apply as in More like this."""
    shown = set() if shown is None else shown
    page = index.article(article_id)
    shown.add(article_id)
    curation = index.curation_of(article_id)
    shown |= curation.blocked
    if not page.get("tags"):
        return []
    pinned = (index.find(pinned_id) for pinned_id in curation.pinned)
    items = _take((Item(article, PINNED, None) for article in pinned if article is not None), limit, shown)
    tagged = (
        Item(article, SHARED_TAGS, round(score, 4), shared_tags=tuple(tags))
        for article_id, score, tags in sharing_tags(page, index.tag_index)
        if (article := index.find(article_id)) is not None  # decoded only as the box takes them
    )
    return items + _take(tagged, limit - len(items), shown)


def popular(
    index: ServedIndex,
    ranking: Sequence[Ranked],
    limit: int,
    section: str | None = None,
    shown: set[str] | None = None,
) -> list[Item]:
    """The Popular box: by decayed views, then the newest articles when the window has too few views."""
    shown = set() if shown is None else shown
    items = _take(_popular_articles(ranking, index.find), limit, shown, section)
    if len(items) < limit:
        newest = index.newest_first if section is None else index.newest_in_section(section)
        items += _take(_recent(newest, RECENT), limit - len(items), shown, section)
    return items


def popular_source(items: Sequence[Item]) -> str:
    """``"views"`` when any item was ranked by views, ``"recent"`` for a box of newest articles only."""
    return "views" if any(item.reason == POPULAR for item in items) else "recent"
