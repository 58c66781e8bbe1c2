"""Relevance you can measure: precision@k against the articles' sections.

An article's related list is counted relevant where the related article shares
its section. The project's settings are compared, in the same run, with a plain
``TfidfVectorizer()`` and with random lists, so a change of settings can be
judged by a number instead of by eye. Precision by score bucket, and what each
candidate relevance floor costs in coverage, are how the floor was chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.indexing.corpus import Article
from recommender.indexing.neighbours import SearchSettings, search, top_neighbours
from recommender.indexing.relevance import RelevanceSettings, chance_level, similar_mask
from recommender.indexing.vectorize import VectorizerSettings, fit_vectorizer, full_texts

SCORE_EDGES = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40, 1.01)
FIXED_FLOORS = (0.10, 0.15, 0.20, 0.25, 0.30)
SHARED_WORDS = (2.0, 2.5, 3.0, 4.0)  # candidate values of min_shared_words, on top of the auto floor


@dataclass(frozen=True, slots=True)
class Evaluation:
    name: str
    precision: float
    articles: int
    neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (ids, scores, shared words) evaluated
    chance_level: float = 0.0


@dataclass(frozen=True, slots=True)
class ScoreBucket:
    low: float
    high: float
    items: int
    share: float  # of all judged items
    precision: float  # same-section share


@dataclass(frozen=True, slots=True)
class FloorCost:
    name: str
    floor: float
    kept: float  # share of the top-k items that reach the floor
    precision: float  # same-section share of those
    other_section: float  # 1 - precision: what the box would pass off as similar
    full: float  # share of articles with k items above the floor
    none: float  # share of articles with none


def _judged(ids: np.ndarray, scores: np.ndarray, sections: Sequence[str | None], k: int) -> tuple[np.ndarray, ...]:
    """Top-k items of articles with a section whose neighbour has one: (scores, same-section, listed, rows)."""
    labels = np.asarray([section or "" for section in sections], dtype=object)
    rows = np.asarray([row for row, section in enumerate(sections) if section], dtype=np.int64)
    top_ids, top_scores = ids[rows, :k], scores[rows, :k]
    listed = top_ids >= 0
    neighbour_labels = labels[np.where(listed, top_ids, 0)]
    judged = listed & (neighbour_labels != "")
    same = judged & (neighbour_labels == labels[rows][:, None])
    return top_scores, same, judged, listed


def score_buckets(
    ids: np.ndarray, scores: np.ndarray, sections: Sequence[str | None], k: int, edges: Sequence[float] = SCORE_EDGES
) -> list[ScoreBucket]:
    """Same-section precision of the top-k items by score bucket (items without a section are not judged)."""
    top_scores, same, judged, _ = _judged(ids, scores, sections, k)
    total = max(int(judged.sum()), 1)
    buckets = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = judged & (top_scores >= low) & (top_scores < high)
        count = int(inside.sum())
        if count:
            buckets.append(ScoreBucket(low, min(high, 1.0), count, count / total, float(same[inside].mean())))
    return buckets


def floor_costs(
    ids: np.ndarray,
    scores: np.ndarray,
    words: np.ndarray,
    sections: Sequence[str | None],
    k: int,
    chance: float,
    settings: RelevanceSettings = RelevanceSettings(),
) -> list[FloorCost]:
    """Candidate floors (none, fixed ones, the corpus-adaptive one, and that with a number of shared words
    required) and what each costs."""
    top_scores, same, judged, listed = _judged(ids, scores, sections, k)
    auto = max(settings.absolute_floor, chance)
    candidates = [("no floor", 0.0, 0.0)] + [(f"fixed {floor:.2f}", floor, 0.0) for floor in FIXED_FLOORS]
    candidates += [(f"chance level q{settings.noise_quantile * 100:g}", chance, 0.0)]
    candidates += [("auto (max of both)", auto, 0.0)]
    candidates += [(f"auto, {words:g}+ shared words", auto, words) for words in SHARED_WORDS]
    rows = np.asarray([row for row, section in enumerate(sections) if section], dtype=np.int64)
    costs = []
    for name, floor, min_words in candidates:
        passing = similar_mask(ids[rows, :k], scores[rows, :k], words[rows, :k], floor, min_words)
        kept = judged & passing
        precision = float(same[kept].mean()) if kept.any() else 0.0
        per_article = (listed & passing).sum(axis=1)
        costs.append(
            FloorCost(
                name,
                floor,
                float((listed & passing).sum() / max(int(listed.sum()), 1)),
                precision,
                1.0 - precision if kept.any() else 0.0,
                float(np.mean(per_article >= k)) if per_article.size else 0.0,
                float(np.mean(per_article == 0)) if per_article.size else 0.0,
            )
        )
    return costs


def precision_at_k(neighbour_ids: np.ndarray, sections: Sequence[str | None], k: int) -> tuple[float, int]:
    """Mean share of the top-k that share the article's section, over articles with a section.

    Returns ``(precision, articles_evaluated)``; a missing neighbour (-1) counts as a miss.
    """
    labels = np.asarray([section or "" for section in sections], dtype=object)
    scored = [row for row, section in enumerate(sections) if section]
    if not scored:
        return 0.0, 0
    hits = [
        sum(1 for neighbour in neighbour_ids[row, :k] if neighbour >= 0 and labels[neighbour] == labels[row]) / k
        for row in scored
    ]
    return float(np.mean(hits)), len(scored)


def _random_neighbours(count: int, k: int, seed: int) -> np.ndarray:
    if count < 2:
        return np.full((count, k), -1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, count - 1, size=(count, k))
    return picks + (picks >= np.arange(count)[:, None])  # skip the article itself


def evaluate(
    articles: Sequence[Article],
    k: int = 5,
    settings: VectorizerSettings = VectorizerSettings(),
    seed: int = 0,
) -> list[Evaluation]:
    """precision@k for the given settings, the default TfidfVectorizer and random lists."""
    sections = [article.section for article in articles]
    search_settings = SearchSettings(k=max(k, 1))
    _, matrix = fit_vectorizer(articles, settings)
    lists = search(matrix, search_settings)
    relevance = RelevanceSettings()
    chance = chance_level(matrix, relevance.noise_quantile, relevance.noise_pairs)
    plain = TfidfVectorizer(dtype=np.float32).fit_transform(full_texts(articles))
    baseline, _ = top_neighbours(plain.tocsr(), search_settings)
    results = []
    for name, ids in (
        ("project settings", lists.ids),
        ("TfidfVectorizer() defaults", baseline),
        ("random", _random_neighbours(len(articles), k, seed)),
    ):
        precision, evaluated = precision_at_k(ids, sections, k)
        results.append(Evaluation(name, precision, evaluated))
    ours = (lists.ids, lists.scores, lists.shared_words)
    results[0] = Evaluation(results[0].name, results[0].precision, results[0].articles, ours, chance)
    return results
