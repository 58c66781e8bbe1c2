"""Recency, story collapse and diversity on the dated shared corpora: what each setting does to the box.

For Reuters-21578 (dated Feb-Oct 1987, with topics), Wikinews (2019-2020, no sections), and BBC News
(five sections, stories of 2004-2005 without dates) with dates drawn at random over those two years,
the one corpus with both sections and years (a check of the mechanism on a large candidate pool, not
of how news ages: real follow-ups are dated close to their story), in one run, per way of reading a
page (on its publication day, when every candidate is older; or in the whole archive, follow-ups
included) and per setting: the median age of the similar items shown (the page article's date minus
the item's, 0 for a newer item), same-section precision of the similar items (Reuters, BBC), the share
of boxes holding two items of one story (cosine at or above the story threshold), the share of boxes
that differ from what re-ranking all 30 stored neighbours would give (are 3 candidates per item
enough?), and the time per box. The baseline is ``recency=off`` without
story collapse, measured in the same run.

Rerun: ``.venv/bin/python -m bench.recency`` (``make bench``); needs ../shared/corpora and says so
when it is absent. Results go to ``bench/results/recency.json``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import Article, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.rerank import DAY, RerankSettings
from recommender.serving import boxes
from recommender.serving.live import LiveIndex

RESULTS = Path(__file__).resolve().parent / "results"
BOX = 5
NO_RERANK = RerankSettings(recency=False, story_threshold=1.01)
SETTINGS = {
    "recency off, no collapse (baseline)": NO_RERANK,
    "recency off, one item per story": RerankSettings(recency=False),
    "half-life 30 d, floor 0.5 (default)": RerankSettings(),
    "half-life 90 d, floor 0.5": RerankSettings(half_life_days=90),
    "half-life 365 d, floor 0.5": RerankSettings(half_life_days=365),
    "half-life 30 d, floor 0.2": RerankSettings(half_life_days=30, recency_floor=0.2),
    "default + diversity 0.2": RerankSettings(diversity=0.2),
    "default + diversity 0.4": RerankSettings(diversity=0.4),
}
# Two ways to read an archive: as it stands now, where half of a page's neighbours are its own follow-ups
# (age 0 by definition), and as a reader sees the page on the day it is published, when every candidate
# is older: where most of a news site's page views fall.
ARCHIVE = "whole archive"
PUBLICATION_DAY = "on its publication day"
VIEWS = (ARCHIVE, PUBLICATION_DAY)


def not_yet_published(live: LiveIndex, article_id: str) -> set[str]:
    """The stored neighbours newer than the page: on the page's first day they did not exist yet."""
    page = live.published_timestamp(article_id)
    stored = live.related(article_id, live.base.neighbour_ids.shape[1])
    return {n.article["id"] for n in stored if live.published_timestamp(n.article["id"]) > page}


RANDOM_DATES = "bbc, random dates 2004-2005"
RANDOM_DATES_SPAN = (datetime(2004, 1, 1, tzinfo=UTC), datetime(2006, 1, 1, tzinfo=UTC))


def with_random_dates(articles: list[Article], seed: int = 0) -> list[Article]:
    """Each article published at a moment drawn uniformly over RANDOM_DATES_SPAN."""
    start, end = RANDOM_DATES_SPAN
    offsets = np.random.default_rng(seed).uniform(0, (end - start).total_seconds(), len(articles))
    return [
        dataclasses.replace(article, published_at=(start + timedelta(seconds=float(offset))).isoformat())
        for article, offset in zip(articles, offsets, strict=True)
    ]


def measure(name: str, pages: int = 3000) -> list[dict[str, object]]:
    folder = "bbc" if name == RANDOM_DATES else name
    corpus = load_corpus(SHARED_CORPORA / folder / "articles.jsonl", max_bad_fraction=1.0)
    if name == RANDOM_DATES:
        corpus = dataclasses.replace(corpus, articles=with_random_dates(corpus.articles))
    live = LiveIndex(build_index(corpus))
    dated = [a for a in corpus.articles if a.published_at]
    sample = [dated[i] for i in np.random.default_rng(0).choice(len(dated), min(pages, len(dated)), replace=False)]
    rows: list[dict[str, object]] = []
    for view, setting, rerank in [(view, *setting) for view in VIEWS for setting in SETTINGS.items()]:
        ages, hits, judged, story_boxes, differ, seconds = [], 0, 0, 0, 0, []
        for article in sample:
            exclude = {article.id} | (not_yet_published(live, article.id) if view == PUBLICATION_DAY else set())
            started = time.perf_counter()
            items = boxes.similar_items(live, article.id, BOX, live.floor, rerank, exclude)
            seconds.append(time.perf_counter() - started)
            page = live.published_timestamp(article.id)
            for item in items:
                published = live.published_timestamp(item.article["id"])
                if np.isfinite(published) and np.isfinite(page):
                    ages.append((page - published) / DAY)
                if article.section and item.article.get("section"):
                    judged += 1
                    hits += item.article["section"] == article.section
            ids = [item.article["id"] for item in items]
            story_boxes += any(live.same_story(a, b) for n, a in enumerate(ids) for b in ids[n + 1 :])
            # Every stored neighbour as a candidate: what more candidates would change.
            full = boxes.similar_items(live, article.id, BOX, live.floor, rerank, exclude, candidates_per_item=30)
            differ += [i.article["id"] for i in full] != ids
        rows.append(
            {
                "corpus": name,
                "view": view,
                "setting": setting,
                # Age as recency sees it (0 for a newer item), and the distance in time either way.
                "median_age_days": round(statistics.median(max(0.0, a) for a in ages), 1) if ages else None,
                "mean_age_days": round(statistics.fmean(max(0.0, a) for a in ages), 1) if ages else None,
                "median_distance_days": round(statistics.median(abs(a) for a in ages), 1) if ages else None,
                "section_precision": round(hits / judged, 4) if judged else None,
                "boxes_with_one_story_twice": round(story_boxes / len(sample), 4),
                "boxes_changed_by_more_candidates": round(differ / len(sample), 4),
                "median_ms_per_box": round(1000 * statistics.median(seconds), 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict[str, object]]) -> str:
    def cell(value: object, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    lines = [
        "| corpus | page read | setting | age of similar items, median / mean (days) | "
        "median distance in time (days) | same-section precision | boxes with one story twice | "
        "boxes changed by 30 candidates | ms per box |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['corpus']} | {row['view']} | {row['setting']} | {cell(row['median_age_days'], '.1f')} / "
            f"{cell(row['mean_age_days'], '.1f')} | {cell(row['median_distance_days'], '.1f')} | "
            f"{cell(row['section_precision'], '.3f')} | {cell(row['boxes_with_one_story_twice'], '.1%')} | "
            f"{cell(row['boxes_changed_by_more_candidates'], '.1%')} | {cell(row['median_ms_per_box'], '.2f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    if not SHARED_CORPORA.is_dir():
        print(f"{SHARED_CORPORA} is absent: the recency benchmark needs the shared corpora; nothing measured")
        return
    rows = [row for name in ("reuters21578", "wikinews", RANDOM_DATES) for row in measure(name)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recency.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
