"""The Popular ranking computed on arrays equals its definition, bucket by bucket."""

from __future__ import annotations

import random

import pytest

from bench.popular import loop_rank
from recommender.popularity.rankings import rank_windows
from recommender.popularity.views import HOUR, WINDOWS


@pytest.mark.parametrize("seed", range(5))
def test_the_ranking_on_arrays_is_the_bucket_by_bucket_one(seed: int) -> None:
    rng = random.Random(seed)
    now = 1_795_000_000.0 + rng.random() * HOUR
    current = int(now // HOUR)
    counts = {
        f"article-{number}": {  # hours from the future to past the longest window; ties on score are common
            current - age: rng.choice([1, 1, 2, 3, 8, 100])
            for age in rng.sample(range(-2, 24 * 7 + 3), rng.randint(1, 8))
        }
        for number in range(rng.randint(1, 400))
    }
    assert rank_windows(counts, now) == {window: loop_rank(counts, now, window) for window in WINDOWS}


def test_ties_go_to_the_newest_article_then_to_the_one_viewed_last_then_by_id() -> None:
    now = 1_795_000_000.0
    current = int(now // HOUR)
    counts = {
        "c-older": {current: 2},
        "a-older": {current: 2},
        "newer": {current: 2},
        "viewed-last": {current: 2, current + 1: 5},  # a bucket not yet counted, but the latest
        "fewer": {current: 1},
    }
    published = {"c-older": 1.0, "a-older": 1.0, "newer": 2.0, "viewed-last": 1.0, "fewer": 3.0}
    ranked = rank_windows(counts, now, published.__getitem__)["1h"]
    assert [entry.article_id for entry in ranked] == ["newer", "viewed-last", "a-older", "c-older", "fewer"]
    assert rank_windows({}, now) == rank_windows({"never-viewed": {}}, now) == {window: [] for window in WINDOWS}
