"""The relevance floor, honest fill with a reason on every item, and the quality report of a build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from recommender.cli import main
from recommender.errors import IncompatibleIndex
from recommender.indexing.corpus import load_corpus
from recommender.indexing.storage import load_index
from recommender.serving.publish import current_dir
from tests.conftest import BUNDLED_CORPUS, AppFactory, FakeClock, article_rows, write_jsonl

SPACE_ARTICLE = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
REASONS = {"similar", "same_section_recent", "popular", "recent"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path):
    app = make_app(small_index, tmp_path, CLOCK=FakeClock(), POPULARITY_FLUSH_SECONDS=0)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


def items(client, article_id: str, query: str = "") -> list[dict]:
    response = client.get(f"/api/v1/articles/{article_id}/related?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def reasons(listed: list[dict]) -> list[tuple[str, str]]:
    return [(item["id"], item["reason"]) for item in listed]


def test_the_spacex_box_shows_no_off_topic_item_as_similar(
    make_app: AppFactory, bundled_index: Path, tmp_path: Path
) -> None:
    app = make_app(bundled_index, tmp_path)
    listed = items(app.test_client(), SPACE_ARTICLE)
    similar = [item for item in listed if item["reason"] == "similar"]
    # Before the floor the box listed the travelator accident at Waterloo station (0.080) as similar.
    assert [item["id"] for item in similar] == ["wikinews-SpaceX_successfully_launches_its_first_crewed_spaceflight"]
    assert all(item["score"] >= 0.2 for item in similar)
    assert len(listed) == 5 and {item["reason"] for item in listed[1:]} == {"recent"}  # no sections, no views yet
    assert all(item["score"] is None for item in listed[1:])


def test_similar_items_come_first_then_the_sections_recent_articles(client) -> None:
    listed = items(client, "football-1")
    assert reasons(listed)[:2] == [("football-3", "similar"), ("football-2", "similar")]
    assert all(item["section"] != "football" and item["reason"] == "recent" for item in listed[2:])
    # A floor above both: the section's newest articles fill the box, then the newest of all.
    listed = items(client, "football-1", "min_score=0.3")
    assert reasons(listed)[:2] == [("football-3", "same_section_recent"), ("football-2", "same_section_recent")]
    assert [item["reason"] for item in listed[2:]] == ["recent"] * 3
    assert all(item["score"] is None for item in listed)


def test_fallbacks_never_repeat_the_page_article_or_its_republished_copies(client) -> None:
    listed = items(client, "space-1", "min_score=1&limit=50")
    ids = [item["id"] for item in listed]
    assert not {"space-1", "space-1-republished", "space-1-corrected"} & set(ids)
    assert ids[:2] == ["space-3", "space-2"] and len(ids) == len(set(ids)) == 14 - 3


def test_popular_fills_after_the_section(client, app) -> None:
    for reader in range(3):
        event = {"type": "view", "article_id": "baking-2", "visitor_id": f"reader-{reader}"}
        client.post("/api/v1/events", json=event, headers=BROWSER)
    app.extensions["recommender.popularity"].recorder.flush()
    app.extensions["recommender.popularity"].rankings.refresh()
    listed = items(client, "election-1", "min_score=0.9")
    assert reasons(listed)[:3] == [
        ("election-3", "same_section_recent"),
        ("election-2", "same_section_recent"),
        ("baking-2", "popular"),
    ]
    assert listed[2]["score"] is None
    assert {item["reason"] for item in listed[3:]} == {"recent"}


def test_fill_none_returns_only_similar_items(client) -> None:
    assert reasons(items(client, "football-1", "fill=none")) == [("football-3", "similar"), ("football-2", "similar")]
    assert items(client, "football-1", "fill=none&min_score=0.3") == []


def test_min_score_zero_turns_the_floor_off(client) -> None:
    listed = items(client, "football-1", "min_score=0&fill=none&limit=50")
    assert len(listed) > 2 and {item["reason"] for item in listed} == {"similar"}
    assert listed[-1]["score"] < 0.2


def test_recommendations_carry_reasons_and_show_nothing_twice(client) -> None:
    body = client.get("/api/v1/articles/football-1/recommendations?min_score=0.3").get_json()
    on_page = ["football-1"] + [item["id"] for item in body["more_like_this"] + body["popular"]]
    assert len(on_page) == len(set(on_page)) == 11
    assert {item["reason"] for item in body["more_like_this"]} <= REASONS
    assert body["more_like_this"][0]["reason"] == "same_section_recent"
    assert {item["reason"] for item in body["popular"]} == {"recent"}


@pytest.mark.parametrize("query", ["min_score=-0.1", "min_score=1.5", "min_score=x", "min_score=nan", "min_score="])
@pytest.mark.parametrize("path", ["related", "recommendations"])
def test_a_bad_min_score_is_400(client, query: str, path: str) -> None:
    response = client.get(f"/api/v1/articles/football-1/{path}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_parameter" and "min_score" in response.get_json()["message"]


@pytest.mark.parametrize("path", ["related", "recommendations"])
def test_an_unknown_fill_is_400(client, path: str) -> None:
    response = client.get(f"/api/v1/articles/football-1/{path}?fill=some")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_parameter" and "fill" in response.get_json()["message"]


def test_the_floor_and_the_quality_report_are_in_the_index(make_app: AppFactory, tmp_path: Path, capsys) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--index-root", str(root), "--min-score", "0.15"]) == 0
    summary = capsys.readouterr().out
    assert "quality: floor 0.150, " in summary and "with none" in summary
    directory = current_dir(root)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["relevance"]["floor"] == 0.15 and manifest["relevance"]["min_score"] == 0.15
    quality = json.loads((directory / "quality.json").read_text())
    assert quality["articles"] == 293 and 0 < quality["with_none"] < 1 and 0 <= quality["with_full_box"] < 1
    assert set(quality["first_neighbour_scores"]) == {"p10", "p25", "p50", "p75", "p90"}
    assert len(quality["hubs"]) == 20 and quality["hubs"][0]["listed"] >= quality["hubs"][-1]["listed"]
    assert "quality.json" in manifest["files"]
    assert main(["versions", "--index-root", str(root)]) == 0
    assert "quality: floor 0.150" in capsys.readouterr().out
    app = make_app(root, tmp_path)
    page = app.test_client().get("/preview").get_data(as_text=True)
    assert "Relevance floor: 0.150" in page and "never_listed" not in page and "Listed most often" in page


def test_a_build_whose_coverage_collapses_is_refused_unless_forced(tmp_path: Path, capsys) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--index-root", str(root)]) == 0
    before = current_dir(root)

    # Same articles, but their bodies lost (an export of stubs): almost nothing is similar any more.
    def word(number: int) -> str:  # a word of its own for every stub
        return "".join("abcdefghij"[int(digit)] for digit in f"{number:04d}")

    stubs = [
        {**article.to_dict(), "title": f"Story {word(number)}", "body": "To follow."}
        for number, article in enumerate(load_corpus(BUNDLED_CORPUS).articles)
    ]
    export = write_jsonl(tmp_path / "stubs.jsonl", stubs)
    capsys.readouterr()
    assert main(["build", "--corpus", str(export), "--index-root", str(root)]) == 1
    assert "refusing to publish" in capsys.readouterr().err and current_dir(root) == before
    assert main(["build", "--corpus", str(export), "--index-root", str(root), "--force"]) == 0
    assert current_dir(root) != before


@pytest.mark.parametrize("value", ["-1", "2", "abc"])
def test_a_bad_min_score_at_build_time_exits_2(tmp_path: Path, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(tmp_path / "index"), "--min-score", value])
    assert exit_info.value.code == 2 and "min_score" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_an_index_of_the_previous_format_is_refused_with_a_message_to_rebuild(
    small_index: Path, tmp_path: Path
) -> None:
    """Format 2 (records parsed whole at load, no record tables): refused, never half-served."""
    directory = tmp_path / "old"
    shutil.copytree(small_index, directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(IncompatibleIndex, match="index format 2, this code reads format 3; rebuild with"):
        load_index(directory)


def test_a_corpus_with_no_words_to_compare_is_refused_with_a_message(tmp_path: Path, capsys) -> None:
    rows = [{"id": f"a{number}", "title": "News", "body": "News"} for number in range(60)]
    export = write_jsonl(tmp_path / "same.jsonl", rows)
    assert main(["build", "--corpus", str(export), "--out", str(tmp_path / "index")]) == 1
    assert "no words to compare articles by" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_a_not_recommendable_article_appears_in_no_list_but_has_its_own(make_app: AppFactory, tmp_path: Path) -> None:
    sponsored = {
        "id": "football-sponsored",
        "title": "Football story sponsored",
        "body": "The striker scored twice as the league leaders won the derby match at the stadium; sponsored.",
        "section": "football",
        "published_at": "2026-11-09T08:00:00+00:00",  # the newest article of all
        "recommendable": False,
    }
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [*article_rows(), sponsored])
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    app = make_app(tmp_path / "index", tmp_path, CLOCK=FakeClock(), POPULARITY_FLUSH_SECONDS=0)
    client = app.test_client()
    for reader in range(5):  # the most viewed article, too
        event = {"type": "view", "article_id": "football-sponsored", "visitor_id": f"reader-{reader}"}
        assert client.post("/api/v1/events", json=event, headers=BROWSER).status_code == 202
    app.extensions["recommender.popularity"].recorder.flush()
    app.extensions["recommender.popularity"].rankings.refresh()
    listed = set()
    for article_id in ("football-1", "football-2", "space-1", "baking-2"):
        for query in ("", "?min_score=0", "?min_score=1"):
            listed |= {item["id"] for item in items(client, article_id, query.lstrip("?"))}
        body = client.get(f"/api/v1/articles/{article_id}/recommendations?popular=20").get_json()
        listed |= {item["id"] for item in body["more_like_this"] + body["popular"]}
    listed |= {item["id"] for item in client.get("/api/v1/popular?limit=50").get_json()["items"]}
    assert "football-sponsored" not in listed
    own = items(client, "football-sponsored", "fill=none")
    assert own and own[0]["id"] == "football-1"


def test_recommendable_must_be_a_boolean(tmp_path: Path, capsys) -> None:
    rows = [*article_rows(), {"id": "x", "title": "X", "body": "x", "recommendable": "no"}]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index"), "--force"]) == 0
    assert "field 'recommendable' must be true or false" in capsys.readouterr().err
