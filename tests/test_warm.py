"""Lists computed ahead of readers: which articles, the very lists a reader gets, a new snapshot each time."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.serving import boxes, live, warm
from recommender.serving.curation import Curation
from recommender.serving.holder import IndexHolder
from recommender.serving.live import LiveIndex
from recommender.serving.page import page_boxes
from recommender.serving.warm import Warmer, likeliest, prepare
from tests.conftest import AppFactory
from tests.test_metrics import scrape, value
from tests.test_operations import wait_for

TOKEN = "s3cret-token"


def newest_ids(index: LiveIndex) -> list[str]:
    return [article["id"] for article in index.newest_first]


def test_the_likeliest_are_the_most_viewed_then_the_newest_each_once(small_index: Path) -> None:
    index = IndexHolder(small_index).live
    newest = newest_ids(index)
    viewed = [newest[-1], "no-such-article", newest[-3], newest[-1]]
    assert list(likeliest(index, viewed, 4)) == [newest[-1], newest[-3], newest[0], newest[1]]
    assert list(likeliest(index, [], 2)) == newest[:2]
    assert sorted(likeliest(index, viewed, 1000)) == sorted(newest)  # every article, once


def test_a_prepared_list_is_the_readers_and_spares_the_reader_the_re_rank(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = IndexHolder(small_index).live
    warm = IndexHolder(small_index).live
    for article_id in newest_ids(warm):
        prepare(warm, article_id)
    re_ranked: list[str] = []
    rerank = boxes.rerank
    monkeypatch.setattr(boxes, "rerank", lambda *args: re_ranked.append("rerank") or rerank(*args))
    for article_id in newest_ids(warm):
        assert page_boxes(warm, article_id, []) == page_boxes(cold, article_id, [])
    assert len(re_ranked) == len(cold)  # the cold snapshot's, one per article; none for the prepared one


def test_each_snapshot_served_is_prepared_in_the_background(small_index: Path) -> None:
    holder = IndexHolder(small_index)
    prepared: list[float] = []
    warmer = Warmer(lambda: holder.live, lambda: [], observe=lambda event, amount: prepared.append(amount))
    warmer.start()
    try:
        first = holder.live
        wait_for(lambda: prepared == [len(first)], "prepared snapshot")
        assert warmer.prepared == (first, len(first))
        holder.live = first.with_curation({})  # any swap: a new snapshot starts without lists
        wait_for(lambda: prepared == [len(first), len(first)], "second prepared snapshot")
        assert warmer.prepared == (holder.live, len(first))
    finally:
        warmer.stop()
    assert not warmer.is_alive()


def test_a_snapshot_replaced_while_it_is_prepared_is_dropped(small_index: Path) -> None:
    first = IndexHolder(small_index).live
    second = first.with_curation({})
    served = iter([first, first, first])
    warmer = Warmer(lambda: next(served, second), lambda: [], articles=100)
    assert warmer.prepare_snapshot(first) == 3  # the fourth check found a newer snapshot served
    assert warmer.prepared == (first, 3)


def test_at_most_the_configured_number_of_lists(small_index: Path) -> None:
    index = IndexHolder(small_index).live
    assert Warmer(lambda: index, lambda: [], articles=4).prepare_snapshot(index) == 4


def test_the_service_prepares_every_worker_s_lists_and_again_after_a_change(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    app = make_app(small_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    count = client.get("/healthz").get_json()["article_count"]
    wait_for(lambda: client.get("/healthz").get_json()["lists_prepared"] == count, "lists prepared")
    story = {"title": "Bread ovens", "body": "Bakers bake bread in a hot oven with flour.", "section": "baking"}
    response = client.put("/api/v1/articles/baking-9", json=story, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 201, response.get_json()
    health = client.get("/healthz").get_json()
    assert health["article_count"] == count + 1
    wait_for(lambda: client.get("/healthz").get_json()["lists_prepared"] == count + 1, "lists of the new snapshot")
    # The first snapshot's, the new one's, and any between (a PUT may be seen by more than one refresh).
    wait_for(lambda: value(scrape(client), "recommender_lists_prepared_total") >= 2 * count + 1, "lists counted")


def test_no_lists_are_prepared_when_turned_off(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path, WARM_ARTICLES=0)
    assert app.test_client().get("/healthz").get_json()["lists_prepared"] == 0
    assert "recommender.warmer" not in app.extensions


def test_an_article_that_fails_is_skipped_and_the_others_prepared(
    small_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = IndexHolder(small_index).live
    failing = newest_ids(index)[1]
    more_like_this = boxes.more_like_this

    def broken(served: LiveIndex, article_id: str, *args: object, **kwargs: object) -> object:
        if article_id == failing:
            raise ValueError("a record the re-rank cannot read")
        return more_like_this(served, article_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(boxes, "more_like_this", broken)
    assert Warmer(lambda: index, lambda: []).prepare_snapshot(index) == len(index) - 1


def test_never_more_lists_than_half_the_memo_holds(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm, "MOST_ARTICLES", 3)  # room is left for the lists readers ask for besides
    index = IndexHolder(small_index).live
    assert Warmer(lambda: index, lambda: [], articles=1000).prepare_snapshot(index) == 3


def test_an_editors_correction_keeps_the_lists_prepared(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = IndexHolder(small_index).live
    for article_id in newest_ids(index):
        prepare(index, article_id)
    pinned, blocked = "space-3", "space-2"
    corrected = index.with_curation({"space-1": Curation(pinned=(pinned,), blocked=frozenset({blocked}))})
    cold = IndexHolder(small_index).live.with_curation(corrected.curation)
    re_ranked: list[str] = []
    rerank = boxes.rerank
    monkeypatch.setattr(boxes, "rerank", lambda *args: re_ranked.append("rerank") or rerank(*args))
    others = [article_id for article_id in newest_ids(index) if article_id != "space-1"]
    for article_id in others:
        assert page_boxes(corrected, article_id, []) == page_boxes(cold, article_id, [])
    assert len(re_ranked) == len(others)  # the cold snapshot's only
    page = page_boxes(corrected, "space-1", [])
    assert page == page_boxes(cold, "space-1", [])
    assert page.more_like_this[0].article["id"] == pinned
    assert blocked not in {item.article["id"] for item in page.more_like_this}


def test_a_full_memo_lets_its_oldest_lists_go_one_at_a_time(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "MEMO_SIZE", 3)
    index = IndexHolder(small_index).live
    computed: list[int] = []

    def memoise(key: int) -> int:
        return index.memoised(("test", key), lambda: computed.append(key) or key)

    for key in range(1, 6):
        memoise(key)
    computed.clear()
    assert [memoise(key) for key in (3, 4, 5)] == [3, 4, 5] and computed == []  # the newest three are kept
    memoise(1)
    assert computed == [1]
