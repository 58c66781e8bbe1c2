"""Relevance you can measure: precision@k against the articles' sections.

An article's related list is counted relevant where the related article shares
its section. The project's settings are compared, in the same run, with a plain
``TfidfVectorizer()`` and with random lists, so a change of settings can be
judged by a number instead of by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.corpus import Article
from recommender.neighbours import SearchSettings, top_neighbours
from recommender.vectorize import VectorizerSettings, fit_vectorizer, full_texts


@dataclass(frozen=True, slots=True)
class Evaluation:
    name: str
    precision: float
    articles: int


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
    search = SearchSettings(k=max(k, 1))
    _, matrix = fit_vectorizer(articles, settings)
    ours, _ = top_neighbours(matrix, search)
    plain = TfidfVectorizer(dtype=np.float32).fit_transform(full_texts(articles))
    baseline, _ = top_neighbours(plain.tocsr(), search)
    results = []
    for name, ids in (
        ("project settings", ours),
        ("TfidfVectorizer() defaults", baseline),
        ("random", _random_neighbours(len(articles), k, seed)),
    ):
        precision, evaluated = precision_at_k(ids, sections, k)
        results.append(Evaluation(name, precision, evaluated))
    return results
