"""Recency, story collapse and diversity on the dated shared corpora: what each setting does to the box.

Four corpora, in one run:

- Reuters-21578: dated Feb-Oct 1987, with topics: a real wire's density and story structure;
- Wikinews: 2019-2020, no sections, 293 articles: real years, but few candidates per page;
- Reuters over five years: each calendar week of Reuters moved, whole, to the same week of one of
  1987-1991 drawn at random (seeded). A wire's beats recur year after year (earnings, harvests, OPEC,
  trade figures) while a story's follow-ups stay within their week: the one corpus with both sections
  and an archive of several years to choose from, which is what recency is for;
- BBC News (five sections, stories of 2004-2005 without dates) with dates drawn at random over those
  two years: a check of the mechanism, not of how news ages (follow-ups are scattered too).

Per way of reading a page (on its publication day, when every candidate is older; or in the whole
archive, follow-ups included) and per setting: the median age of the similar items shown (the page
article's date minus the item's, 0 for a newer item), same-section precision of the similar items
(Reuters, BBC), the share of boxes holding two items of one story (cosine at or above the story
threshold), the share of boxes that differ from what re-ranking all 30 stored neighbours would give
(are 5 candidates per item enough?), and the time per box. The baselines, ``recency=off`` without
story collapse and ``recency=off`` as a request asks for it, are measured in the same run. Then, on
the two Reuters corpora, what an index of 100 neighbours per article instead of 30, all re-ranked,
would change (``bench/results/recency-neighbours.json``): how many neighbours does re-ranking need?

Rerun: ``.venv/bin/python -m bench.recency`` (``make bench``); needs ../shared/corpora and says so
when it is absent. Results go to ``bench/results/recency.json``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import Article, Corpus, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.neighbours import SearchSettings
from recommender.indexing.rerank import DAY, RerankSettings
from recommender.serving import boxes
from recommender.serving.live import LiveIndex

RESULTS = Path(__file__).resolve().parent / "results"
BOX = 5
NO_RERANK = RerankSettings(recency=False, story_threshold=1.01)
SETTINGS = {
    "recency off, no collapse (baseline)": NO_RERANK,
    "recency off, one item per story (recency=off)": RerankSettings(recency=False),
    "half-life 30 d, floor 0.5 (default)": RerankSettings(),
    "half-life 90 d, floor 0.5": RerankSettings(half_life_days=90),
    "half-life 365 d, floor 0.5": RerankSettings(half_life_days=365),
    "half-life 30 d, floor 0.2": RerankSettings(half_life_days=30, recency_floor=0.2),
    "half-life 30 d, floor 0": RerankSettings(half_life_days=30, recency_floor=0.0),
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


def corpus_and_pages(name: str, pages: int) -> tuple[Corpus, list[Article]]:
    """The corpus with its dates as CORPORA says, and a seeded sample of its dated articles."""
    folder, redate = CORPORA[name]
    corpus = load_corpus(SHARED_CORPORA / folder / "articles.jsonl", max_bad_fraction=1.0)
    if redate is not None:
        corpus = dataclasses.replace(corpus, articles=redate(corpus.articles))
    dated = [a for a in corpus.articles if a.published_at]
    sample = [dated[i] for i in np.random.default_rng(0).choice(len(dated), min(pages, len(dated)), replace=False)]
    return corpus, sample


@dataclasses.dataclass
class Boxes:
    """The boxes of a sample of pages, as one setting and one way of reading them give them."""

    ids: list[list[str]]
    ages: list[float]  # days, the page's date minus the item's: negative for a newer item
    same_section: int
    judged: int
    seconds: list[float]

    def summary(self) -> dict[str, object]:
        ages = [max(0.0, a) for a in self.ages]  # age as recency sees it: 0 for a newer item
        return {
            "median_age_days": round(statistics.median(ages), 1) if ages else None,
            "mean_age_days": round(statistics.fmean(ages), 1) if ages else None,
            "median_distance_days": round(statistics.median(abs(a) for a in self.ages), 1) if ages else None,
            "section_precision": round(self.same_section / self.judged, 4) if self.judged else None,
        }


def read_boxes(
    live: LiveIndex,
    sample: list[Article],
    view: str,
    rerank: RerankSettings,
    candidates_per_item: int = boxes.CANDIDATES_PER_ITEM,
) -> Boxes:
    read = Boxes([], [], 0, 0, [])
    for article in sample:
        exclude = {article.id} | (not_yet_published(live, article.id) if view == PUBLICATION_DAY else set())
        started = time.perf_counter()
        items = boxes.similar_items(live, article.id, BOX, live.floor, rerank, exclude, candidates_per_item)
        read.seconds.append(time.perf_counter() - started)
        page = live.published_timestamp(article.id)
        for item in items:
            published = live.published_timestamp(item.article["id"])
            if np.isfinite(published) and np.isfinite(page):
                read.ages.append((page - published) / DAY)
            if article.section and item.article.get("section"):
                read.judged += 1
                read.same_section += item.article["section"] == article.section
        read.ids.append([item.article["id"] for item in items])
    return read


def changed_share(before: Boxes, after: Boxes) -> float:
    return round(sum(a != b for a, b in zip(before.ids, after.ids, strict=True)) / len(before.ids), 4)


def measure(name: str, pages: int = 3000) -> list[dict[str, object]]:
    corpus, sample = corpus_and_pages(name, pages)
    live = LiveIndex(build_index(corpus))
    rows: list[dict[str, object]] = []
    for view, setting, rerank in [(view, *setting) for view in VIEWS for setting in SETTINGS.items()]:
        read = read_boxes(live, sample, view, rerank)
        story_boxes = sum(
            any(live.same_story(a, b) for n, a in enumerate(ids) for b in ids[n + 1 :]) for ids in read.ids
        )
        # Every stored neighbour as a candidate: what more candidates would change.
        every_stored = read_boxes(live, sample, view, rerank, candidates_per_item=30)
        rows.append(
            {"corpus": name, "view": view, "setting": setting}
            | read.summary()
            | {
                "boxes_with_one_story_twice": round(story_boxes / len(sample), 4),
                "boxes_changed_by_more_candidates": changed_share(read, every_stored),
                "median_ms_per_box": round(1000 * statistics.median(read.seconds), 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def more_neighbours(name: str, neighbours: int = 100, pages: int = 3000) -> list[dict[str, object]]:
    """What an index holding ``neighbours`` per article, all of them re-ranked, would change in the boxes.

    The served index stores 30 and a box of 5 re-ranks 25: over years, fresh candidates ranked lower on
    wording are what recency looks for. On the publication day the deeper list also stands in for the
    neighbours newer than the page that the reading leaves out (the day's index had older ones instead).
    """
    corpus, sample = corpus_and_pages(name, pages)
    served = LiveIndex(build_index(corpus))
    deeper = LiveIndex(build_index(corpus, search_settings=SearchSettings(k=neighbours)))
    # With recency floor f, an item can reach the box only if its similarity is at least f times the fifth
    # best: how many of a page's neighbours are within that reach (of the deeper list; after collapse, fewer)?
    f = RerankSettings().recency_floor
    reach = []
    for article in sample:
        similarities = [n.score for n in deeper.related(article.id, neighbours, deeper.floor)]
        fifth = similarities[BOX - 1] if len(similarities) >= BOX else 0.0
        reach.append(sum(s >= f * fifth for s in similarities))
    beyond = {"pages with more than 30 neighbours within reach": round(float(np.mean(np.array(reach) > 30)), 4)}
    rows: list[dict[str, object]] = []
    for view in VIEWS:
        for setting in ("recency off, one item per story (recency=off)", "half-life 30 d, floor 0.5 (default)"):
            stored = read_boxes(served, sample, view, SETTINGS[setting])
            deep = read_boxes(deeper, sample, view, SETTINGS[setting], candidates_per_item=neighbours)
            rows.append(
                {"corpus": name, "view": view, "setting": setting, "boxes_changed": changed_share(stored, deep)}
                | beyond
                | {f"30 stored: {key}": value for key, value in stored.summary().items()}
                | {f"{neighbours} stored: {key}": value for key, value in deep.summary().items()}
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
    rows = [row for name in CORPORA for row in measure(name)]
    deeper = [row for name in ("reuters21578", WEEKS_OVER_YEARS) for row in more_neighbours(name)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recency.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "recency-neighbours.json").write_text(json.dumps(deeper, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
