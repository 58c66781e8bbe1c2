"""Fresh and one item per story: recency relative to the page article, story collapse, diversity."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from bench.dated import weeks_over_years
from recommender.cli import main
from recommender.indexing.corpus import Article
from recommender.indexing.rerank import DAY, Candidate, RerankSettings, recency_factor, rerank
from tests.conftest import AppFactory, write_jsonl

PAGE = 1_790_000_000.0


def vectors_of(rows: dict[str, list[float]]):
    def vectors(ids):
        matrix = np.array([rows[i] for i in ids], dtype=np.float64)
        return sparse.csr_matrix(matrix / np.linalg.norm(matrix, axis=1, keepdims=True))

    return vectors


ORTHOGONAL = vectors_of({name: np.eye(6)[n].tolist() for n, name in enumerate("abcdef")})


def candidate(name: str, similarity: float, age_days: float | None) -> Candidate:
    published = float("-inf") if age_days is None else PAGE - age_days * DAY
    return Candidate(name, similarity, published, name)


def order(ranked: list[Candidate]) -> list[str]:
    return [c.article_id for c in ranked]


def test_a_fresher_item_overtakes_a_slightly_more_similar_old_one() -> None:
    items = [candidate("a", 0.50, 400), candidate("b", 0.45, 2)]
    assert order(rerank(PAGE, items, ORTHOGONAL, RerankSettings(), 5)) == ["b", "a"]
    assert order(rerank(PAGE, items, ORTHOGONAL, RerankSettings(recency=False), 5)) == ["a", "b"]


def test_the_score_is_similarity_times_the_decay_above_the_floor() -> None:
    settings = RerankSettings(half_life_days=10, recency_floor=0.2)
    assert recency_factor(PAGE, PAGE - 10 * DAY, settings) == pytest.approx(0.2 + 0.8 * 0.5)
    assert recency_factor(PAGE, PAGE - 10_000 * DAY, settings) == pytest.approx(0.2)
    ranked = rerank(PAGE, [candidate("a", 0.5, 10)], ORTHOGONAL, settings, 5)
    assert ranked[0].score == pytest.approx(0.5 * 0.6)


def test_follow_ups_are_never_demoted_and_undated_articles_are_neutral() -> None:
    settings = RerankSettings(half_life_days=1, recency_floor=0)
    assert recency_factor(PAGE, PAGE + 30 * DAY, settings) == 1.0  # newer than the page: age 0
    assert recency_factor(PAGE, float("-inf"), settings) == 1.0
    assert recency_factor(float("-inf"), PAGE, settings) == 1.0  # an undated page demotes nothing


def test_an_archive_page_keeps_its_own_eras_stories() -> None:
    """Age is measured from the page article, not from today."""
    old_page = PAGE - 3650 * DAY
    items = [Candidate("a", 0.5, old_page - 1 * DAY, "a"), Candidate("b", 0.5, PAGE, "b")]
    ranked = rerank(old_page, items, ORTHOGONAL, RerankSettings(half_life_days=30), 5)
    assert ranked[0].score == pytest.approx(ranked[1].score, rel=0.02)  # b is newer than the page: not boosted


def test_max_age_days_cuts_old_items() -> None:
    items = [candidate("a", 0.9, 40), candidate("b", 0.3, 5)]
    assert order(rerank(PAGE, items, ORTHOGONAL, RerankSettings(max_age_days=30), 5)) == ["b"]


def test_one_story_told_twice_is_one_item_the_newest() -> None:
    vectors = vectors_of({"a": [1, 0, 0], "a-update": [1, 0.1, 0], "c": [0, 0, 1]})
    items = [candidate("a", 0.60, 3), candidate("a-update", 0.55, 1), candidate("c", 0.40, 2)]
    ranked = rerank(PAGE, items, vectors, RerankSettings(recency=False), 5)
    assert order(ranked) == ["a-update", "c"] and ranked[0].score == pytest.approx(0.60)


def test_diversity_keeps_five_takes_on_one_sub_topic_out_of_a_box() -> None:
    rows = {f"t{n}": [1, 0.7 + 0.05 * n, 0] for n in range(4)} | {"other": [0, 0, 1]}
    items = [candidate(f"t{n}", 0.6 - 0.01 * n, 1) for n in range(4)] + [candidate("other", 0.45, 1)]
    plain = rerank(PAGE, items, vectors_of(rows), RerankSettings(recency=False, story_threshold=1.01), 3)
    assert "other" not in order(plain)
    diverse = rerank(
        PAGE, items, vectors_of(rows), RerankSettings(recency=False, story_threshold=1.01, diversity=0.5), 3
    )
    assert order(diverse)[:2] == ["t0", "other"]


@pytest.mark.parametrize(
    "query",
    [
        "half_life_days=0",
        "half_life_days=-3",
        "half_life_days=x",
        "half_life_days=nan",
        "diversity=1.5",
        "diversity=-0.1",
        "recency=maybe",
        "recency_floor=2",
        "max_age_days=0",
    ],
)
def test_bad_recency_and_diversity_parameters_are_400(
    make_app: AppFactory, small_index: Path, tmp_path: Path, query: str
) -> None:
    app = make_app(small_index, tmp_path)
    for path in ("related", "recommendations"):
        response = app.test_client().get(f"/api/v1/articles/football-1/{path}?{query}")
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_parameter", response.json


def test_recency_only_reorders_items_above_the_floor(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path)
    client = app.test_client()
    for query in ("", "&recency=off", "&half_life_days=0.01&recency_floor=0", "&diversity=1"):
        items = client.get(f"/api/v1/articles/football-1/related?fill=none&limit=50{query}").get_json()["items"]
        assert {item["id"] for item in items} == {"football-2", "football-3"}, query  # the two above 0.2


def test_the_archive_over_years_moves_whole_weeks_by_whole_years() -> None:
    """The archive over years of bench/recency.py: a story's follow-ups stay together, weekdays kept."""
    start = datetime.fromisoformat("1987-03-02T09:00:00+00:00")  # a Monday
    articles = [
        Article(f"a{day}", "t", "b", published_at=(start + timedelta(days=day)).isoformat()) for day in range(0, 210)
    ] + [Article("undated", "t", "b")]
    moved = weeks_over_years(articles, years=5)
    assert moved[-1] == articles[-1]
    shifts: dict[tuple[int, int], set[timedelta]] = {}
    for before, after in zip(articles[:-1], moved[:-1], strict=True):
        published = datetime.fromisoformat(before.published_at or "")
        shift = datetime.fromisoformat(after.published_at or "") - published
        assert shift % timedelta(weeks=52) == timedelta(0) and timedelta(0) <= shift < timedelta(weeks=5 * 52)
        shifts.setdefault(published.isocalendar()[:2], set()).add(shift)
    assert all(len(week) == 1 for week in shifts.values())  # every week moved whole
    assert len(set().union(*shifts.values())) == 5  # 30 weeks spread over all five years
    assert weeks_over_years(articles, years=5) == moved  # seeded: the benchmark can be rerun


def test_a_shorter_box_begins_with_the_longer_boxs_first_items(make_app: AppFactory, tmp_path: Path) -> None:
    """Every stored neighbour is re-ranked, whatever the limit: a fresh item ranked 15th on wording leads both."""

    def word(stem: str, number: int) -> str:  # the vectoriser keeps letters only
        return stem + "".join(chr(ord("a") + int(digit)) for digit in str(number))

    shared = " ".join(word("topic", n) for n in range(20))

    def filler(rank: int) -> str:  # words of this take alone, and of its echo (a word must be in two articles)
        return " ".join(word(f"filler{word('x', rank)}x", n) for n in range(20 + 3 * rank))

    page = {"id": "page", "title": "Page", "body": shared, "published_at": "2026-11-20T08:00:00+00:00"}
    rows = [page] + [
        {
            "id": f"take-{rank}",
            "title": f"Take {rank}",
            "body": f"{shared} {filler(rank)}",
            # the least similar is this morning's follow-up; the others are years old
            "published_at": "2026-11-20T07:00:00+00:00" if rank == 15 else f"20{10 + rank % 5}-01-01T00:00:00+00:00",
        }
        for rank in range(1, 16)
    ]
    others = [{"id": f"echo-{rank}", "title": "Echo", "body": filler(rank)} for rank in range(1, 16)]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows + others)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    client = make_app(tmp_path / "index", tmp_path).test_client()

    def box(query: str) -> list[str]:
        response = client.get(f"/api/v1/articles/page/related?fill=none&min_score=0&{query}")
        return [item["id"] for item in response.get_json()["items"]]

    by_wording = box("recency=off&limit=15")
    assert by_wording[-1] == "take-15"  # 15th on wording
    longest = box("limit=5")
    assert longest[0] == "take-15"
    for limit in (1, 2, 3, 4):
        assert box(f"limit={limit}") == longest[:limit]
