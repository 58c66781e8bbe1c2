"""Recency, story collapse and diversity on the dated shared corpora: what each setting does to the box.

Four corpora, in one run:

- Reuters-21578: dated Feb-Oct 1987, with topics: a real wire's density and story structure;
- Wikinews: 2019-2020, no sections, 293 articles: real years, but few candidates per page;
- Reuters over five years: each calendar week of Reuters moved, whole, by 0 to 4 times 52 weeks
  (same weekday), drawn at random (seeded). A wire's beats recur from year to year (earnings,
  harvests, OPEC, trade figures) while a story's follow-ups stay days apart within their week: the
  one corpus with both sections and an archive of several years to choose from, which is what
  recency is for. Reuters' stories fall in few weeks (most in March and April 1987), so each year
  holds a few weeks of them;
- BBC News (five sections, stories of 2004-2005 without dates) with dates drawn at random over those
  two years: a check of the mechanism, not of how news ages (follow-ups are scattered too).

Per way of reading a page (on its publication day, when every candidate is older; or in the whole
archive, follow-ups included) and per setting: the median age of the similar items shown (the page
article's date minus the item's, 0 for a newer item), same-section precision of the similar items
(Reuters, BBC), the share of boxes holding two items of one story (cosine at or above the story
threshold), and the time per box; per corpus, how many older similar articles a page has to choose
from on its publication day. The baselines, ``recency=off`` without story collapse and
``recency=off`` as a request asks for it, are measured in the same run (``recency.json``).

Then, on the two Reuters corpora, what an index of 50 or 100 neighbours per article instead of 30
would change (``recency-depth.json``): how many neighbours does re-ranking need? And the archive
over years drawn again with four other seeds (``recency-seeds.json``): is its result one draw's luck?

Rerun: ``.venv/bin/python -m bench.recency`` (``make bench``); needs ../shared/corpora and says so
when it is absent. Results go to ``bench/results/``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np

from bench.dated import CORPORA, WEEKS_OVER_YEARS, corpus_and_pages, weeks_over_years
from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import Article
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
) -> Boxes:
    """The box of each page as a reader sees it: on its publication day, the newer neighbours left out."""
    read = Boxes([], [], 0, 0, [])
    for article in sample:
        exclude = {article.id} | (not_yet_published(live, article.id) if view == PUBLICATION_DAY else set())
        started = time.perf_counter()
        items = boxes.similar_items(live, article.id, BOX, live.floor, rerank, exclude)
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
    """The share of pages whose box differs, in its items or their order."""
    return round(sum(a != b for a, b in zip(before.ids, after.ids, strict=True)) / len(before.ids), 4)


def older_similar(live: LiveIndex, sample: list[Article]) -> dict[str, object]:
    """How many similar articles a page has to choose from on its publication day: recency can only make a
    box fresher where there are more than the box shows."""
    counts = []
    for article in sample:
        above = live.related(article.id, live.neighbours_per_article, live.floor)
        similar = [n for n, thin in zip(above, boxes.thin_matches(live, article.id, above), strict=True) if not thin]
        page = live.published_timestamp(article.id)
        counts.append(sum(live.published_timestamp(n.article["id"]) <= page for n in similar))
    older = np.array(counts)
    return {
        "pages_with_no_older_similar": round(float(np.mean(older == 0)), 4),
        "pages_with_5_or_fewer": round(float(np.mean(older <= BOX)), 4),
        "pages_with_15_or_more": round(float(np.mean(older >= 15)), 4),
    }


def measure(name: str, pages: int = 3000) -> list[dict[str, object]]:
    corpus, sample = corpus_and_pages(name, pages)
    live = LiveIndex(build_index(corpus))
    pools = older_similar(live, sample)
    rows: list[dict[str, object]] = []
    for view, setting, rerank in [(view, *setting) for view in VIEWS for setting in SETTINGS.items()]:
        read = read_boxes(live, sample, view, rerank)
        story_boxes = sum(
            any(live.same_story(a, b) for n, a in enumerate(ids) for b in ids[n + 1 :]) for ids in read.ids
        )
        rows.append(
            {"corpus": name, "view": view, "setting": setting}
            | read.summary()
            | {
                "boxes_with_one_story_twice": round(story_boxes / len(sample), 4),
                "median_ms_per_box": round(1000 * statistics.median(read.seconds), 3),
            }
            | pools
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def more_neighbours(name: str, depths: tuple[int, ...] = (50, 100), pages: int = 3000) -> list[dict[str, object]]:
    """What an index holding more neighbours per article than the 30 served would change in the boxes.

    Every stored neighbour is re-ranked: over years, fresh candidates ranked low on wording are what
    recency looks for. On the publication day a deeper list also stands in for the neighbours newer than
    the page that the reading leaves out (the index of that day held older ones in their place).
    """
    corpus, sample = corpus_and_pages(name, pages)
    served = LiveIndex(build_index(corpus))
    f = RerankSettings().recency_floor
    rows: list[dict[str, object]] = []
    for depth in depths:
        deeper = LiveIndex(build_index(corpus, search_settings=SearchSettings(k=depth)))
        # An item can reach the box only if its similarity is at least f times the fifth best. An estimate
        # of how many a page has within that reach: before collapse, thin matches and the publication day.
        reach = []
        for article in sample:
            similarities = [n.score for n in deeper.related(article.id, depth, deeper.floor)]
            fifth = similarities[BOX - 1] if len(similarities) >= BOX else 0.0
            reach.append(sum(s >= f * fifth for s in similarities))
        within = {"pages_with_more_than_30_within_reach": round(float(np.mean(np.array(reach) > 30)), 4)}
        for view in VIEWS:
            for setting in ("recency off, one item per story (recency=off)", "half-life 30 d, floor 0.5 (default)"):
                stored = read_boxes(served, sample, view, SETTINGS[setting])
                deep = read_boxes(deeper, sample, view, SETTINGS[setting])
                rows.append(
                    {"corpus": name, "neighbours": depth, "view": view, "setting": setting}
                    | {"boxes_changed": changed_share(stored, deep)}
                    | within
                    | {f"30: {key}": value for key, value in stored.summary().items()}
                    | {f"{depth}: {key}": value for key, value in deep.summary().items()}
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def other_seeds(seeds: tuple[int, ...] = (1, 2, 3, 4), pages: int = 3000) -> list[dict[str, object]]:
    """The archive over years drawn again: ``recency=off`` against the default, per seed."""
    rows: list[dict[str, object]] = []
    for seed in seeds:
        corpus, sample = corpus_and_pages(WEEKS_OVER_YEARS, pages, partial(weeks_over_years, seed=seed))
        live = LiveIndex(build_index(corpus))
        for view in VIEWS:
            for setting in ("recency off, one item per story (recency=off)", "half-life 30 d, floor 0.5 (default)"):
                read = read_boxes(live, sample, view, SETTINGS[setting])
                rows.append({"seed": seed, "view": view, "setting": setting} | read.summary())
                print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict[str, object]]) -> str:
    def cell(value: object, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    lines = [
        "| corpus | page read | setting | age of similar items, median / mean (days) | "
        "median distance in time (days) | same-section precision | boxes with one story twice | "
        "ms per box |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['corpus']} | {row['view']} | {row['setting']} | {cell(row['median_age_days'], '.1f')} / "
            f"{cell(row['mean_age_days'], '.1f')} | {cell(row['median_distance_days'], '.1f')} | "
            f"{cell(row['section_precision'], '.3f')} | {cell(row['boxes_with_one_story_twice'], '.1%')} | "
            f"{cell(row['median_ms_per_box'], '.2f')} |"
        )
    return "\n".join(lines)


def main() -> None:
    if not SHARED_CORPORA.is_dir():
        print(f"{SHARED_CORPORA} is absent: the recency benchmark needs the shared corpora; nothing measured")
        return
    rows = [row for name in CORPORA for row in measure(name)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recency.json").write_text(json.dumps(rows, indent=2) + "\n")
    deeper = [row for name in ("reuters21578", WEEKS_OVER_YEARS) for row in more_neighbours(name)]
    (RESULTS / "recency-depth.json").write_text(json.dumps(deeper, indent=2) + "\n")
    (RESULTS / "recency-seeds.json").write_text(json.dumps(other_seeds(), indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
