"""The article records as tables: found by id without a dict, listed newest first, by section and by tag,
the same after the day's changes as a full sort would give."""

from __future__ import annotations

import gc
import mmap
import weakref
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from recommender.indexing import records
from recommender.indexing.corpus import Article, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.records import encode_records, published_timestamp
from recommender.indexing.storage import load_index, save_index
from recommender.indexing.tags import tags_of
from recommender.serving.changes import Change
from recommender.serving.live import LiveIndex
from tests.conftest import article_rows, write_jsonl

ODD_IDS = ["plain", "with space", "ünïcødé-日本", "a/b?c=d&e", "x" * 256, "emoji-🛰️"]


def _rows(ids: list[str]) -> list[dict]:
    return [
        {"id": article_id, "title": f"T {n}", "published_at": f"2026-01-{n % 28 + 1:02d}"}
        for n, article_id in enumerate(ids)
    ]


def test_every_id_is_found_and_unknown_ones_are_not() -> None:
    table = encode_records(_rows(ODD_IDS))
    assert [table.row_of(article_id) for article_id in ODD_IDS] == list(range(len(ODD_IDS)))
    assert [table.id_of(row) for row in range(len(table))] == ODD_IDS
    for unknown in ["nope", "plain ", "\udc80", "", "x" * 255]:
        assert table.row_of(unknown) is None


def test_ids_whose_hashes_collide_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "id_hash", lambda article_id: 7)  # every id: the same hash
    table = encode_records(_rows(ODD_IDS))
    assert [table.row_of(article_id) for article_id in ODD_IDS] == list(range(len(ODD_IDS)))
    assert table.row_of("nope") is None


def test_a_loaded_index_maps_its_records_and_decodes_only_what_is_read(small_index: Path) -> None:
    index = load_index(small_index)
    assert isinstance(index.articles.records, mmap.mmap)
    assert all(isinstance(array, np.memmap) for array in index.articles.arrays.values())
    assert index.article("space-1")["title"] == next(a for a in article_rows() if a["id"] == "space-1")["title"]
    assert len(index.articles._decoded) == 1


def _tagged_rows() -> list[dict]:
    rows = article_rows()
    for number, row in enumerate(rows):
        row["tags"] = [*row["tags"], "News" if number % 2 else "news", *(["Rare"] if number % 5 == 0 else [])]
        if number % 4 == 0:
            del row["published_at"]  # undated: sorted last
    return rows


def test_the_days_changes_keep_every_order_a_full_sort_gives(tmp_path: Path) -> None:
    rows = _tagged_rows()
    base = load_index(save_index(build_index(load_corpus(write_jsonl(tmp_path / "c.jsonl", rows))), tmp_path / "i"))
    live = LiveIndex(base)
    added = [
        Article("new-space", "Rocket to the station", "The rocket docked.", section="space", tags=("Rare", "Moon"),
                published_at="2026-11-30T08:00:00+00:00"),
        Article("new-undated", "Football again", "The striker scored.", section="football", tags=("news",)),
        Article(rows[3]["id"], "An update", "The striker scored twice.", section="football", tags=("Moon",),
                published_at="2026-11-03T08:00:00+00:00"),  # same date as another: ties keep the base first
    ]  # fmt: skip
    changes = [Change(n + 1, a.id, a, float("inf")) for n, a in enumerate(added)]
    changes.append(Change(len(changes) + 1, rows[7]["id"], None, float("inf")))  # deleted
    live = live.with_changes(changes)

    changed = {rows[3]["id"], rows[7]["id"]}  # updated, deleted
    everything = sorted(
        [a for a in base.articles if a["id"] not in changed] + [live.article(a.id) for a in added],
        key=published_timestamp,
        reverse=True,
    )
    assert [a["id"] for a in live.newest_first] == [a["id"] for a in everything]
    for section in ("space", "football", "politics", "none"):
        expected = [a["id"] for a in everything if a.get("section") == section]
        assert [a["id"] for a in live.newest_in_section(section)] == expected
    for tag in ("news", "rare", "moon", "space", "none"):
        expected = [a["id"] for a in everything if tag in tags_of(a)]
        assert [article_id for article_id, _ in live.tag_index.newest(tag)] == expected
        assert live.tag_index.tagged(tag) == len(expected)
    assert live.tag_index.count == len(live) == len(everything) == len(rows) + 1


def test_a_replaced_index_is_freed_at_once_not_by_the_collector(small_index: Path) -> None:
    """The service freezes the collector after its first load: an index kept alive by a reference cycle
    would stay mapped (memory, file handles, disk space of pruned versions) for the worker's life."""
    gc.disable()
    try:
        base = load_index(small_index)
        added = Article("new", "Rocket to the station", "The rocket docked.", tags=("space",))
        live = LiveIndex(base).with_changes([Change(1, added.id, added, float("inf"))])
        for served in (base, live):
            served.tag_index.tagged("space")
            list(served.tag_index.newest("space"))
            list(served.newest_first)
        freed = weakref.ref(base)
        del base, live, served
        assert freed() is None
    finally:
        gc.enable()


def test_a_box_decodes_the_records_it_reads_not_every_record(tmp_path: Path) -> None:
    """At a million articles, decoding every record for a fallback box would take seconds a request."""
    rows = _tagged_rows()
    base = load_index(save_index(build_index(load_corpus(write_jsonl(tmp_path / "c.jsonl", rows))), tmp_path / "i"))
    added = Article("new", "Rocket to the station", "The rocket docked.", section="space", tags=("news",))
    live = LiveIndex(base).with_changes([Change(1, added.id, added, float("inf"))])
    before = len(base.articles._decoded)
    list(islice(live.newest_first, 3))
    list(islice(live.newest_in_section("space"), 2))
    list(islice(live.tag_index.newest("news"), 50))  # ids and dates only: nothing decoded
    assert len(base.articles._decoded) - before <= 5
