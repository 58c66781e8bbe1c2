"""When a neighbour is similar enough to be shown as "More like this", and how well a build did.

A cosine means different things in different corpora: templated wire briefs
share boilerplate, so two unrelated ones can score 0.3, while two unrelated
feature articles score under 0.1. The floor is therefore the higher of a fixed
minimum and the corpus's own chance level: a high quantile of the cosine
between random pairs of its articles, which are almost all unrelated.

A score alone also hides what it rests on: two short texts that share one rare
name score high while being about different things. An item is therefore
similar only when its cosine also rests on enough shared words (see
``shared_words``). How the defaults were chosen is in the README ("Relevance floor").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import sparse

AUTO = "auto"
# Below this many articles random pairs are too few, and too often genuinely related (a few hundred
# articles over two years hold every follow-up of every story), to measure a chance level.
MIN_ARTICLES_FOR_CHANCE_LEVEL = 1000


@dataclass(frozen=True, slots=True)
class RelevanceSettings:
    """``min_score``: a fixed floor from 0 to 1, or ``"auto"`` (the higher of ``absolute_floor`` and the
    corpus's chance level, the ``noise_quantile`` of random-pair cosines). ``min_shared_words``: how many
    words a similar item's cosine must rest on (``shared_words``); 0 turns that test off."""

    min_score: float | str = AUTO
    absolute_floor: float = 0.2
    noise_quantile: float = 0.995
    noise_pairs: int = 200_000
    min_shared_words: float = 2.5

    def __post_init__(self) -> None:
        if self.min_score != AUTO and not (
            isinstance(self.min_score, int | float) and 0.0 <= float(self.min_score) <= 1.0
        ):
            raise ValueError(f"min_score must be a number from 0 to 1 or {AUTO!r}, got {self.min_score!r}")
        if not (isinstance(self.min_shared_words, int | float) and 0.0 <= self.min_shared_words < float("inf")):
            raise ValueError(f"min_shared_words must be a number from 0, got {self.min_shared_words!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_min_score(raw: str) -> float | str:
    """``"auto"`` or a number from 0 to 1, from a command line or a query string."""
    if raw == AUTO:
        return AUTO
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"min_score must be a number from 0 to 1 or {AUTO!r}, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(f"min_score must be a number from 0 to 1 or {AUTO!r}, got {raw!r}")
    return value


def chance_level(matrix: sparse.csr_matrix, quantile: float, pairs: int, seed: int = 0) -> float:
    """The ``quantile`` of the cosine between random pairs of distinct rows (L2-normalised CSR); 0 for a
    corpus too small to tell."""
    count = matrix.shape[0]
    if count < MIN_ARTICLES_FOR_CHANCE_LEVEL:
        return 0.0
    rng = np.random.default_rng(seed)
    first = rng.integers(0, count, pairs)
    second = rng.integers(0, count - 1, pairs)
    second += second >= first  # never a row with itself
    cosines = np.asarray(matrix[first].multiply(matrix[second]).sum(axis=1)).ravel()
    return float(np.quantile(cosines, quantile))


def resolve_floor(matrix: sparse.csr_matrix, settings: RelevanceSettings) -> dict[str, float]:
    """The floor this corpus gets, with what it was derived from (for the manifest)."""
    if settings.min_score != AUTO:
        return {"floor": float(settings.min_score)}
    noise = chance_level(matrix, settings.noise_quantile, settings.noise_pairs)
    return {"floor": round(max(settings.absolute_floor, noise), 4), "chance_level": round(noise, 4)}


def shared_words(page: sparse.csr_matrix, candidates: sparse.csr_matrix) -> np.ndarray:
    """How many words each candidate's cosine with the page rests on.

    The cosine is a sum of one product per shared word; this is (sum)^2 / sum of
    squares of those products: 1 when one word carries the whole score, n when
    n words carry equal parts. ``page``: one L2-normalised row; ``candidates``: rows.
    """
    total = np.asarray((candidates @ page.T).todense()).ravel()
    squares = np.asarray((candidates.power(2) @ page.power(2).T).todense()).ravel()
    return _words(total, squares)


def shared_words_dense(page: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``shared_words`` for dense rows over one set of columns (a box's few dozen candidates, see
    LiveIndex.dense_rows): ``page`` one row, ``candidates`` one row each."""
    products = candidates * page
    return _words(products.sum(axis=1), (products * products).sum(axis=1))


def _words(total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    words: np.ndarray = np.divide(total * total, squares, out=np.zeros_like(total, dtype=np.float64), where=squares > 0)
    return words


def similar_mask(
    ids: np.ndarray, scores: np.ndarray, words: np.ndarray, floor: float, min_shared_words: float
) -> np.ndarray:
    """Which listed neighbours count as similar: at or above the floor, on enough shared words."""
    mask: np.ndarray = (ids >= 0) & (scores >= floor) & (words >= min_shared_words)
    return mask


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    points = np.percentile(values, [10, 25, 50, 75, 90])
    return {f"p{p}": round(float(v), 4) for p, v in zip((10, 25, 50, 75, 90), points, strict=True)}


def quality_report(
    ids: np.ndarray,
    scores: np.ndarray,
    words: np.ndarray,
    duplicates: np.ndarray,
    article_ids: Sequence[str],
    floor: float,
    min_shared_words: float,
    shown: int = 5,
    hubs: int = 20,
) -> dict[str, Any]:
    """What readers of this index will see: coverage above the floor, score spread, hubs, orphans.

    ``shown``: the size of the box; an article is "listed" when it is among the
    first ``shown`` similar items of another article.
    """
    count = len(article_ids)
    similar_items = similar_mask(ids, scores, words, floor, min_shared_words)
    similar = np.count_nonzero(similar_items, axis=1)
    # The box shows the first ``shown`` similar items, wherever they are in the list.
    box = similar_items & (np.cumsum(similar_items, axis=1) <= shown)
    listed = Counter(ids[box].tolist())
    first = scores[:, 0][ids[:, 0] >= 0] if ids.shape[1] else np.empty(0)
    fifth = scores[:, shown - 1][ids[:, shown - 1] >= 0] if ids.shape[1] >= shown else np.empty(0)
    share = (lambda n: round(n / count, 4)) if count else (lambda n: 0.0)
    return {
        "floor": floor,
        "min_shared_words": min_shared_words,
        "articles": count,
        "box_size": shown,
        "with_full_box": share(int(np.count_nonzero(similar >= shown))),
        "with_none": share(int(np.count_nonzero(similar == 0))),
        "first_neighbour_scores": _percentiles(first),
        "fifth_neighbour_scores": _percentiles(fifth),
        "hubs": [{"id": article_ids[row], "listed": times} for row, times in listed.most_common(hubs)],
        "never_listed": share(count - len(listed)),
        # Each pair is seen from both sides when both searches found it.
        "near_duplicate_pairs": int(np.ceil(int(duplicates.sum()) / 2)),
        "articles_with_near_duplicates": int(np.count_nonzero(duplicates)),
    }


def coverage_collapsed(new: dict[str, Any], old: dict[str, Any] | None, tolerance: float = 0.5) -> str | None:
    """Why a new build's coverage is not publishable against the current one, or None.

    Coverage is the share of articles with at least one similar item; it may not
    fall below ``tolerance`` times the current one's (an export of stubs, a
    vectoriser that lost its vocabulary).
    """
    if not old or "with_none" not in old or "with_none" not in new:
        return None
    before, after = 1.0 - float(old["with_none"]), 1.0 - float(new["with_none"])
    if after < tolerance * before:
        return (
            f"only {after:.0%} of articles have a similar article above the floor, against {before:.0%} "
            "in the current index"
        )
    return None
