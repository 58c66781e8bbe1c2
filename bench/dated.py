"""The dated corpora bench/recency.py reads: two as published, two with dates of their own.

Reuters-21578 and Wikinews keep their dates. Reuters over five years moves each calendar week of
Reuters, whole, by 0 to 4 years: an archive of several years with a real wire's beats and story
structure. BBC News, undated, gets dates drawn at random over its two years: a check of the
mechanism only. Needs ../shared/corpora.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import Article, Corpus, load_corpus

RANDOM_DATES = "bbc, random dates 2004-2005"
RANDOM_DATES_SPAN = (datetime(2004, 1, 1, tzinfo=UTC), datetime(2006, 1, 1, tzinfo=UTC))
WEEKS_OVER_YEARS = "reuters, weeks moved over 1987-1991"
YEARS = 5


def with_random_dates(articles: list[Article], seed: int = 0) -> list[Article]:
    """Each article published at a moment drawn uniformly over RANDOM_DATES_SPAN."""
    start, end = RANDOM_DATES_SPAN
    offsets = np.random.default_rng(seed).uniform(0, (end - start).total_seconds(), len(articles))
    return [
        dataclasses.replace(article, published_at=(start + timedelta(seconds=float(offset))).isoformat())
        for article, offset in zip(articles, offsets, strict=True)
    ]


def weeks_over_years(articles: list[Article], years: int = YEARS, seed: int = 0) -> list[Article]:
    """Each ISO week moved, whole, by 0 to ``years`` - 1 times 52 weeks (same weekday), drawn at random.

    Keeps the wire's texts, its sections and the days between a story's follow-ups within a week, and
    gives a page published later the earlier years' takes on its beat to choose from.
    """
    rng = np.random.default_rng(seed)
    shift: dict[tuple[int, int], int] = {}
    moved = []
    for article in articles:
        if article.published_at:
            published = datetime.fromisoformat(article.published_at)
            week = published.isocalendar()[:2]
            years_later = shift.setdefault(week, int(rng.integers(0, years)))
            article = dataclasses.replace(
                article, published_at=(published + timedelta(weeks=52 * years_later)).isoformat()
            )
        moved.append(article)
    return moved


# Each corpus: its folder under SHARED_CORPORA, and what is done to its dates.
CORPORA: dict[str, tuple[str, Callable[[list[Article]], list[Article]] | None]] = {
    "reuters21578": ("reuters21578", None),
    "wikinews": ("wikinews", None),
    WEEKS_OVER_YEARS: ("reuters21578", weeks_over_years),
    RANDOM_DATES: ("bbc", with_random_dates),
}


def corpus_and_pages(
    name: str, pages: int, redate: Callable[[list[Article]], list[Article]] | None = None
) -> tuple[Corpus, list[Article]]:
    """The corpus with its dates as CORPORA says (or as ``redate`` does), and a seeded sample of its pages."""
    folder, redate = CORPORA[name][0], redate or CORPORA[name][1]
    corpus = load_corpus(SHARED_CORPORA / folder / "articles.jsonl", max_bad_fraction=1.0)
    if redate is not None:
        corpus = dataclasses.replace(corpus, articles=redate(corpus.articles))
    dated = [a for a in corpus.articles if a.published_at]
    sample = [dated[i] for i in np.random.default_rng(0).choice(len(dated), min(pages, len(dated)), replace=False)]
    return corpus, sample
