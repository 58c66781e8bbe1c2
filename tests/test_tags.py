"""The "Related" box from editors' tags: a rare shared tag beats a common one; nothing twice on a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.cli import main
from tests.conftest import AppFactory, article_rows, write_jsonl

TOKEN = "editor-token"


@pytest.fixture()
def client(make_app: AppFactory, tmp_path: Path):
    rows = article_rows()  # each tagged with its section
    for row in rows:
        row["tags"] = [*row["tags"], "News"]  # a tag on every article
    rows[6]["tags"] = ["space", "News", "Mars"]  # space-1: Mars is rare
    rows += [
        {"id": "mars-old", "title": "Rover lands", "body": "A rover landed on Mars.", "tags": ["Mars"],
         "published_at": "2020-01-01T00:00:00Z"},
        {"id": "mars-sponsored", "title": "Mars tours", "body": "Book a Mars tour.", "tags": ["mars"],
         "published_at": "2026-11-20T00:00:00Z", "recommendable": False},
        {"id": "untagged", "title": "No tags", "body": "Nothing to tag.", "published_at": "2026-11-21T00:00:00Z"},
    ]  # fmt: skip
    corpus = write_jsonl(tmp_path / "tagged.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    app = make_app(tmp_path / "index", tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    return app.test_client()


def related(client, article_id: str, query: str = "") -> list[dict]:
    response = client.get(f"/api/v1/articles/{article_id}/related-by-tags?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_rare_shared_tag_wins_over_a_common_one(client) -> None:
    items = related(client, "space-1", "limit=50")
    ids = [item["id"] for item in items]
    assert {item["reason"] for item in items} == {"shared_tags"}
    mars = items[ids.index("mars-old")]
    assert mars["shared_tags"] == ["Mars"]
    news_only = [item for item in items if item["shared_tags"] == ["News"]]
    assert news_only and all(mars["score"] > item["score"] for item in news_only)  # older, but Mars is rare
    assert ids.index("mars-old") < min(ids.index(item["id"]) for item in news_only)
    both = [item for item in items if item["shared_tags"] == ["space", "News"]]
    assert both and ids[: len(both)] == [item["id"] for item in both]  # two shared tags first
    assert "mars-sponsored" not in ids  # not recommendable


def test_an_article_without_tags_gets_an_empty_list(client) -> None:
    assert related(client, "untagged") == []
    body = client.get("/api/v1/articles/untagged/recommendations").get_json()
    assert body["related"] == []


def test_nothing_appears_twice_across_the_three_boxes(client) -> None:
    body = client.get("/api/v1/articles/space-1/recommendations?related=5&tagged=5&popular=5").get_json()
    on_page = [item["id"] for box in ("more_like_this", "related", "popular") for item in body[box]]
    assert len(body["related"]) == 5 and len(on_page) == len(set(on_page)) == 15
    assert "space-1" not in on_page


def test_pins_and_blocks_apply_to_related_too(client) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    curation = {"pinned": ["baking-1"], "blocked": ["mars-old"]}
    assert client.put("/api/v1/articles/space-1/curation", json=curation, headers=headers).status_code == 200
    items = related(client, "space-1", "limit=50")
    assert items[0]["id"] == "baking-1" and items[0]["reason"] == "pinned"
    assert "mars-old" not in {item["id"] for item in items}


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=x"])
def test_bad_limit_is_400(client, query: str) -> None:
    response = client.get(f"/api/v1/articles/space-1/related-by-tags?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_parameter"


def test_unknown_article_is_404(client) -> None:
    assert client.get("/api/v1/articles/nope/related-by-tags").status_code == 404
