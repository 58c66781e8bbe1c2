"""Fresh and one item per story: how the similar items of a box are re-ranked.

Only items that already reach the relevance floor are re-ranked; nothing here
admits an item. Three steps, each cheap for the few dozen candidates a list
holds:

- **recency**, relative to the page article: an item's age is the page's
  publication time minus the item's, 0 when the item is newer (follow-ups are
  never demoted, and an archive page keeps its own era's stories), and its
  score is similarity x (f + (1 - f) * 0.5 ** (age / half_life)). Items
  without a date, or under a page without one, are neither boosted nor demoted;
- **one item per story**: items whose cosine with each other reaches the story
  threshold are one story told twice (updates, wire copies); only the newest is
  kept, at the best score of its group;
- **diversity**: maximal marginal relevance; each next item is the one with the
  best (1 - d) * score - d * (its highest cosine with an item already chosen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class RerankSettings:
    """Defaults chosen with ``bench/recency.py`` (see the README); every one can be set per request."""

    recency: bool = True
    half_life_days: float = 30.0
    recency_floor: float = 0.5
    max_age_days: float | None = None
    story_threshold: float = 0.85
    diversity: float = 0.0

    def __post_init__(self) -> None:
        if not (self.half_life_days > 0 and np.isfinite(self.half_life_days)):
            raise ValueError(f"half_life_days must be a positive number, got {self.half_life_days!r}")
        if not 0.0 <= self.recency_floor <= 1.0:
            raise ValueError(f"recency_floor must be from 0 to 1, got {self.recency_floor!r}")
        if self.max_age_days is not None and not self.max_age_days > 0:
            raise ValueError(f"max_age_days must be a positive number, got {self.max_age_days!r}")
        if not 0.0 <= self.diversity <= 1.0:
            raise ValueError(f"diversity must be from 0 to 1, got {self.diversity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Candidate:
    article_id: str
    similarity: float
    published: float  # seconds since the epoch; -inf when undated
    payload: Any = None  # whatever the caller wants back (the article record)
    score: float = 0.0  # after recency


def recency_factor(page: float, item: float, settings: RerankSettings) -> float:
    """f + (1 - f) * 0.5 ** (age / half-life); 1 when either date is unknown or recency is off."""
    if not settings.recency or not np.isfinite(page) or not np.isfinite(item):
        return 1.0
    age_days = max(0.0, page - item) / DAY
    floor = settings.recency_floor
    return float(floor + (1.0 - floor) * 0.5 ** (age_days / settings.half_life_days))


def too_old(page: float, item: float, settings: RerankSettings) -> bool:
    if settings.max_age_days is None or not np.isfinite(page) or not np.isfinite(item):
        return False
    return page - item > settings.max_age_days * DAY


def rerank(
    page_published: float,
    candidates: Sequence[Candidate],
    vectors: Callable[[Sequence[str]], np.ndarray | sparse.csr_matrix],
    settings: RerankSettings,
    limit: int,
) -> list[Candidate]:
    """The ``limit`` best candidates after recency, story collapse and diversity, best first.

    ``vectors``: the L2-normalised TF-IDF rows of the given ids, in that order, dense or sparse.
    """
    kept = [
        replace(c, score=c.similarity * recency_factor(page_published, c.published, settings))
        for c in candidates
        if not too_old(page_published, c.published, settings)
    ]
    if len(kept) < 2 or (settings.story_threshold > 1.0 and settings.diversity == 0.0):
        return sorted(kept, key=lambda c: -c.score)[:limit]
    rows = vectors([c.article_id for c in kept])
    products = rows @ rows.T
    cosine = products.toarray() if sparse.issparse(products) else np.asarray(products)
    kept, cosine = _collapse_stories(kept, cosine, settings.story_threshold)
    return _diversify(kept, cosine, settings.diversity, limit)


def _collapse_stories(
    candidates: list[Candidate], cosine: np.ndarray, threshold: float
) -> tuple[list[Candidate], np.ndarray]:
    """One item per group of the same story: the newest, at the group's best score."""
    count = len(candidates)
    group = list(range(count))  # union-find over "same story" pairs

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(cosine >= threshold, k=1)), strict=True):
        group[root(int(i))] = root(int(j))
    members: dict[int, list[int]] = {}
    for i in range(count):
        members.setdefault(root(i), []).append(i)
    chosen = []
    for indices in members.values():
        newest = max(indices, key=lambda i: (candidates[i].published, candidates[i].score))
        best = max(candidates[i].score for i in indices)
        chosen.append((newest, replace(candidates[newest], score=best)))
    chosen.sort(key=lambda pair: -pair[1].score)
    order = [index for index, _ in chosen]
    return [candidate for _, candidate in chosen], cosine[np.ix_(order, order)]


def _diversify(candidates: list[Candidate], cosine: np.ndarray, diversity: float, limit: int) -> list[Candidate]:
    """Maximal marginal relevance; with ``diversity`` 0, simply the best scores first."""
    if diversity == 0.0:
        return candidates[:limit]
    scores = np.array([c.score for c in candidates])
    picked: list[int] = []
    remaining = list(range(len(candidates)))
    while remaining and len(picked) < limit:
        redundancy = cosine[np.ix_(remaining, picked)].max(axis=1) if picked else np.zeros(len(remaining))
        marginal = (1.0 - diversity) * scores[remaining] - diversity * redundancy
        best = remaining[int(np.argmax(marginal))]
        picked.append(best)
        remaining.remove(best)
    return [candidates[i] for i in picked]
