"""Editors' pins and blocks: through the API with the token, the CLI, rebuilds and rollbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.cli import main
from tests.conftest import AppFactory

TOKEN = "editor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def root(small_corpus: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    return root


@pytest.fixture()
def app(make_app: AppFactory, root: Path, tmp_path: Path):
    app = make_app(root, tmp_path, RECOMMENDER_CHANGES=str(root / "changes.sqlite3"), RECOMMENDER_ADMIN_TOKEN=TOKEN)
    return app


def box(client, article_id: str, query: str = "") -> list[tuple[str, str]]:
    response = client.get(f"/api/v1/articles/{article_id}/related?{query}")
    assert response.status_code == 200, response.get_json()
    return [(item["id"], item["reason"]) for item in response.get_json()["items"]]


def test_pins_come_first_in_order_and_blocks_are_gone(app) -> None:
    client = app.test_client()
    assert box(client, "football-1")[:2] == [("football-3", "similar"), ("football-2", "similar")]
    body = {"pinned": ["baking-2", "space-3"], "blocked": ["football-3"]}
    response = client.put("/api/v1/articles/football-1/curation", json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.get_json() == {
        "article_id": "football-1",
        "pinned": ["baking-2", "space-3"],
        "blocked": ["football-3"],
    }
    listed = box(client, "football-1", "limit=50")
    assert listed[:3] == [("baking-2", "pinned"), ("space-3", "pinned"), ("football-2", "similar")]
    assert "football-3" not in {article_id for article_id, _ in listed}
    page = client.get("/api/v1/articles/football-1/recommendations?popular=50").get_json()
    assert "football-3" not in {item["id"] for item in page["more_like_this"] + page["popular"]}
    assert client.get("/api/v1/articles/football-1/curation", headers=AUTH).get_json()["pinned"] == [
        "baking-2",
        "space-3",
    ]
    assert client.delete("/api/v1/articles/football-1/curation", headers=AUTH).get_json()["pinned"] == []
    assert box(client, "football-1")[0] == ("football-3", "similar")


def test_curation_needs_the_token(app) -> None:
    client = app.test_client()
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/api/v1/articles/football-1/curation", json={"pinned": []})
        assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"pinned": ["nope"]}, "unknown_article"),
        ({"blocked": ["nope"]}, "unknown_article"),
        ({"pinned": ["football-1"]}, "invalid_curation"),
        ({"blocked": ["football-1"]}, "invalid_curation"),
        ({"pinned": "football-2"}, "invalid_curation"),
        ({"pinned": [3]}, "invalid_curation"),
        ({"pins": []}, "invalid_curation"),
        (["football-2"], "invalid_curation"),
        ({"pinned": ["football-2"], "blocked": ["football-2"]}, "invalid_curation"),
    ],
)
def test_bad_curation_is_400_and_changes_nothing(app, body: object, error: str) -> None:
    client = app.test_client()
    response = client.put("/api/v1/articles/football-1/curation", json=body, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["error"] == error
    assert client.get("/api/v1/articles/football-1/curation", headers=AUTH).get_json()["pinned"] == []


def test_curation_of_an_unknown_article_is_404(app) -> None:
    response = app.test_client().put("/api/v1/articles/nope/curation", json={"pinned": []}, headers=AUTH)
    assert response.status_code == 404


def test_a_pinned_article_that_is_deleted_drops_out(app) -> None:
    client = app.test_client()
    client.put("/api/v1/articles/football-1/curation", json={"pinned": ["baking-2"]}, headers=AUTH)
    assert box(client, "football-1")[0] == ("baking-2", "pinned")
    assert client.delete("/api/v1/articles/baking-2", headers=AUTH).status_code == 200
    assert "baking-2" not in {article_id for article_id, _ in box(client, "football-1", "limit=50")}


def test_curation_survives_a_rebuild_and_a_rollback(app, root: Path, small_corpus: Path) -> None:
    client = app.test_client()
    client.put("/api/v1/articles/football-1/curation", json={"pinned": ["space-2"]}, headers=AUTH)
    holder = app.extensions["recommender.holder"]
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    holder.refresh()
    assert box(client, "football-1")[0] == ("space-2", "pinned")
    assert main(["rollback", "--index-root", str(root)]) == 0
    holder.refresh()
    assert box(client, "football-1")[0] == ("space-2", "pinned")


def test_the_curate_command(app, root: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("RECOMMENDER_CHANGES", str(root / "changes.sqlite3"))
    args = ["curate", "football-1", "--pin", "space-1", "--pin", "baking-1", "--block", "football-2"]
    assert main([*args, "--index", str(root)]) == 0
    assert "pinned: space-1, baking-1" in capsys.readouterr().out
    holder = app.extensions["recommender.holder"]
    holder.refresh()
    assert box(app.test_client(), "football-1")[:2] == [("space-1", "pinned"), ("baking-1", "pinned")]
    assert main(["curate", "football-1", "--pin", "nope", "--index", str(root)]) == 1
    assert "no article with id 'nope'" in capsys.readouterr().err
    assert main(["curate", "football-1", "--clear", "--index", str(root)]) == 0
    holder.refresh()
    assert box(app.test_client(), "football-1")[0] == ("football-3", "similar")


def test_editors_curate_from_the_preview(app) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    page = client.get("/preview/football-1", headers=headers).get_data(as_text=True)
    assert 'action="/preview/football-1/curation"' in page and "Pinned: none" in page
    form = {"pinned": "space-2 baking-1", "blocked": "football-3"}
    response = client.post("/preview/football-1/curation", data=form, headers=headers)
    assert response.status_code == 302
    page = client.get("/preview/football-1", headers=headers).get_data(as_text=True)
    assert "Pinned: space-2, baking-1" in page and "Blocked: football-3" in page
    assert 'data-reason="pinned"' in page
    refused = client.post("/preview/football-1/curation", data={"pinned": "nope"}, headers=headers)
    assert refused.status_code == 400 and "no article with id" in refused.get_data(as_text=True)
    assert client.post("/preview/football-1/curation", data=form).status_code == 401  # no token, no change
