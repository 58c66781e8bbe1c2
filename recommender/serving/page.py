"""Every box of one article page, as a reader gets them: the API and the editors' preview both ask here,
so that the preview cannot drift from what readers see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recommender.indexing.rerank import RerankSettings
from recommender.popularity.rankings import Ranked
from recommender.serving import boxes
from recommender.serving.boxes import Item, ServedIndex

# The widget asks for 5 items of each box unless a site sets data-related, data-tagged or data-popular;
# the API's default limit is the same.
DEFAULT_BOX_SIZE = 5


@dataclass(frozen=True, slots=True)
class BoxSizes:
    more_like_this: int = DEFAULT_BOX_SIZE
    related: int = DEFAULT_BOX_SIZE
    popular: int = DEFAULT_BOX_SIZE


@dataclass(frozen=True, slots=True)
class PageBoxes:
    more_like_this: list[Item]
    related: list[Item]
    popular: list[Item]
    # What Popular was told to leave out: the page article, its blocked ids, More like this and Related.
    shown_before_popular: frozenset[str] = field(default_factory=frozenset)

    @property
    def popular_source(self) -> str:
        """``"views"`` when any Popular item was ranked by views, ``"recent"`` for newest articles only."""
        return boxes.popular_source(self.popular)


def page_boxes(
    index: ServedIndex,
    article_id: str,
    ranking: Sequence[Ranked],
    sizes: BoxSizes = BoxSizes(),
    min_score: float | None = None,
    fill: bool = True,
    settings: RerankSettings | None = None,
) -> PageBoxes:
    """More like this, Related and Popular under ``article_id``, no article twice on the page.

    ``min_score`` and ``settings`` default to the index's floor and re-ranking defaults, as for a reader.
    Raises UnknownArticle for an id the index does not serve.
    """
    floor = index.floor if min_score is None else min_score
    rerank = index.rerank_settings if settings is None else settings
    shown: set[str] = set()
    more_like_this = boxes.more_like_this(
        index, article_id, sizes.more_like_this, floor, ranking if fill else [], fill, shown, rerank
    )
    related = boxes.related_by_tags(index, article_id, sizes.related, shown) if sizes.related else []
    before_popular = frozenset(shown)
    popular = boxes.popular(index, ranking, sizes.popular, None, shown) if sizes.popular else []
    return PageBoxes(more_like_this, related, popular, before_popular)


@dataclass(frozen=True, slots=True)
class PreviewBoxes:
    """The reader's boxes exactly, and what a larger box would add below them, for the editors' preview."""

    reader: PageBoxes
    sizes: BoxSizes
    more_like_this_beyond: list[Item]
    popular_beyond: list[Item]


def _beyond(shown: list[Item], wider: list[Item], total: int) -> list[Item]:
    seen = {item.article["id"] for item in shown}
    return [item for item in wider if item.article["id"] not in seen][: max(total - len(shown), 0)]


def preview_boxes(
    index: ServedIndex, article_id: str, ranking: Sequence[Ranked], total: int, sizes: BoxSizes = BoxSizes()
) -> PreviewBoxes:
    """The boxes a reader gets with the widget's ``sizes``, each topped up to ``total`` items by the ones a
    larger box would show after them (More like this and Popular; Related is shown as readers get it)."""
    reader = page_boxes(index, article_id, ranking, sizes)
    wider = boxes.more_like_this(
        index, article_id, total, index.floor, ranking, shown=set(), settings=index.rerank_settings
    )
    popular = boxes.popular(index, ranking, total, None, set(reader.shown_before_popular))
    return PreviewBoxes(
        reader, sizes, _beyond(reader.more_like_this, wider, total), _beyond(reader.popular, popular, total)
    )
