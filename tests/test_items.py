"""Items as the page shows them: every box's items carry the article's ``image_url`` and an ``excerpt``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index
from recommender.indexing.teaser import teaser
from service.openapi import document
from tests.conftest import AppFactory, article_rows, write_jsonl

TOKEN = "editor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DATELINE = "Friday, January 4, 2019\xa0 \n\n"


def pictured_rows() -> list[dict[str, Any]]:
    """The small corpus, even rows with a picture, every body behind a Wikinews-style date line."""
    rows = article_rows()
    for number, row in enumerate(rows):
        row["body"] = DATELINE + row["body"]
        if number % 2 == 0:
            row["image_url"] = f"https://img.news.example/{row['id']}.jpg"
    return rows


@pytest.fixture(scope="module")
def pictured_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = write_jsonl(tmp_path_factory.mktemp("pictured") / "corpus.jsonl", pictured_rows())
    return save_index(build_index(load_corpus(corpus)), tmp_path_factory.mktemp("index") / "pictured")


@pytest.fixture()
def client(make_app: AppFactory, pictured_index: Path, tmp_path: Path) -> Any:
    app = make_app(pictured_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    return app.test_client()


def every_item(client) -> list[dict[str, Any]]:
    """The items of every list the API serves for the first football story."""
    lists = [
        client.get("/api/v1/articles/football-1/related").get_json()["items"],
        client.get("/api/v1/articles/football-1/related-by-tags").get_json()["items"],
        client.get("/api/v1/popular").get_json()["items"],
    ]
    page = client.get("/api/v1/articles/football-1/recommendations?related=1").get_json()
    lists += [page["more_like_this"], page["related"], page["popular"]]
    assert all(lists)
    return [item for items in lists for item in items]


def test_every_box_item_carries_its_picture_and_its_teaser(client) -> None:
    rows = {row["id"]: row for row in pictured_rows()}
    items = every_item(client)
    for item in items:
        row = rows[item["id"]]
        assert item["image_url"] == row.get("image_url")  # null without a picture
        assert item["excerpt"] == teaser(row["body"]) == row["body"].removeprefix(DATELINE)
    assert {item["image_url"] is None for item in items} == {True, False}


def test_items_keep_to_the_openapi_item_schemas(client) -> None:
    schemas = document()["components"]["schemas"]
    for name in ("RelatedItem", "PopularItem", "TaggedItem"):
        properties, required = schemas[name]["properties"], schemas[name]["required"]
        assert {"image_url", "excerpt"} <= set(required)
        assert properties["excerpt"]["maxLength"] == 160
    item_schema = schemas["RelatedItem"]
    for item in every_item(client):
        assert set(item_schema["required"]) <= set(item) <= set(item_schema["properties"]) | {"views", "shared_tags"}
        assert item["excerpt"] is None or len(item["excerpt"]) <= 160


def test_an_article_added_during_the_day_has_its_teaser_at_once(client) -> None:
    body = (
        "Monday, November 23, 2026\n\nThe football club appointed a new manager after the league defeats, and the "
        "striker who scored twice in the derby match at the stadium welcomed the choice of a coach who once played "
        "in goal for the club himself."
    )
    story = {"title": "New manager", "body": body, "section": "football", "image_url": "/pictures/manager.jpg"}
    assert client.put("/api/v1/articles/football-9", json=story, headers=AUTH).status_code == 201
    items = client.get("/api/v1/articles/football-1/related?limit=50&fill=none&min_score=0").get_json()["items"]
    added = next(item for item in items if item["id"] == "football-9")
    assert added["image_url"] == "/pictures/manager.jpg"
    assert added["excerpt"].startswith("The football club appointed") and added["excerpt"].endswith("…")
    assert len(added["excerpt"]) <= 160


def test_the_demo_page_passes_the_widget_attributes_on_from_its_query(client) -> None:
    page = client.get("/demo/football-1?layout=tabs&thumbnails=&excerpts=&popular=3&onclick=x").get_data(as_text=True)
    container = next(line for line in page.splitlines() if "data-recommender-article" in line)
    assert 'data-layout="tabs"' in container and 'data-thumbnails=""' in container and 'data-popular="3"' in container
    assert 'data-excerpts=""' in container and "onclick" not in container
    assert 'data-link-template="/demo/{id}?layout=tabs&amp;thumbnails=&amp;excerpts=&amp;popular=3"' in container
    plain = client.get("/demo/football-1").get_data(as_text=True)
    assert '<div data-recommender-article="football-1" data-link-template="/demo/{id}"></div>' in plain
