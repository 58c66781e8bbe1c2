"""Articles during the day: PUT/DELETE with a token, `recommender add`, and what other workers see."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recommender.cli import main
from tests.conftest import AppFactory, write_jsonl

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_SPACE_STORY = {
    "title": "Astronauts return from the space station",
    "body": "The capsule carrying astronauts undocked from the orbiting space station and splashed down after "
    "months in orbit; the rocket and capsule will fly again.",
    "section": "space",
    "published_at": "2026-11-25T09:00:00Z",
    "url": "https://news.example/space/4",
}


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path):
    app = make_app(small_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    return app


def related_ids(client, article_id: str) -> list[str]:
    """Every neighbour of the article, best first, floor off and no fallbacks."""
    response = client.get(f"/api/v1/articles/{article_id}/related?limit=50&min_score=0&fill=none")
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


@pytest.mark.parametrize("method", ["put", "delete"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_changes_need_the_token(client, method: str, headers: dict) -> None:
    response = getattr(client, method)("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=headers)
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
    assert client.get("/api/v1/articles/space-9/related").status_code == 404


def test_changes_are_disabled_without_a_configured_token(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    app = make_app(small_index, tmp_path)
    response = app.test_client().put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH)
    assert response.status_code == 403 and response.get_json()["error"] == "admin_disabled"


def test_an_added_article_gets_its_list_and_enters_its_neighbours_lists(client) -> None:
    response = client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "created"
    assert set(related_ids(client, "space-9")[:3]) <= {"space-1", "space-2", "space-3", "space-1-corrected",
                                                        "space-1-republished"}  # fmt: skip
    assert "space-9" in related_ids(client, "space-2")[:2]
    assert "space-9" not in related_ids(client, "baking-1")[:3]
    etag_before = client.get("/healthz").get_json()["index_version"]
    assert "+" in etag_before  # the version names the changes applied on top of the build


def test_a_deleted_article_vanishes_from_every_list(client, app) -> None:
    assert "space-3" in related_ids(client, "space-2")
    response = client.delete("/api/v1/articles/space-3", headers=AUTH)
    assert response.status_code == 200 and response.get_json()["status"] == "deleted"
    everyone = [a["id"] for a in app.extensions["recommender.holder"].live.base.articles if a["id"] != "space-3"]
    for article_id in everyone:
        assert "space-3" not in related_ids(client, article_id)
    assert client.get("/api/v1/articles/space-3/related").get_json()["error"] == "article_not_found"
    popular = client.get("/api/v1/popular?limit=50").get_json()["items"]
    assert "space-3" not in {item["id"] for item in popular}
    assert client.delete("/api/v1/articles/space-3", headers=AUTH).status_code == 404


def test_an_updated_article_moves_to_its_new_topic(client) -> None:
    rewritten = {"title": "Bread without an oven", "body": "Knead the dough with flour and bake the bread in a pan."}
    response = client.put("/api/v1/articles/space-3", json=rewritten, headers=AUTH)
    assert response.status_code == 200 and response.get_json()["status"] == "updated"
    assert related_ids(client, "space-3")[0].startswith("baking-")
    assert "space-3" not in related_ids(client, "space-2")[:3]
    assert "space-3" in related_ids(client, "baking-1")[:3]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"title": "No body"}, "'body' must be a non-empty string"),
        ({**NEW_SPACE_STORY, "id": "other-id"}, "not the URL's"),
        ({**NEW_SPACE_STORY, "published_at": "soon"}, "not ISO 8601"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_bad_article_is_a_400_and_changes_nothing(client, body, reason: str) -> None:
    response = client.put("/api/v1/articles/space-9", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_article" and reason in response.get_json()["message"]
    assert client.get("/api/v1/articles/space-9/related").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**NEW_SPACE_STORY, "title": "Astronauts \udc80 return"}, "lone surrogate"),
        ({**NEW_SPACE_STORY, "tags": ["space", "\ud800"]}, "lone surrogate"),
        ({**NEW_SPACE_STORY, "extra": {"\udfff": 1}}, "lone surrogate"),
        ({**NEW_SPACE_STORY, "title": "t" * 1_001}, "more than 1,000"),
        ({**NEW_SPACE_STORY, "body": "b" * 200_001}, "more than 200,000"),
    ],
)
def test_an_article_with_invalid_text_is_a_400(client, body: dict, reason: str) -> None:
    raw = json.dumps(body)  # ensure_ascii: a lone surrogate travels as its \\uXXXX escape
    response = client.put("/api/v1/articles/space-9", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_article" and reason in response.get_json()["message"]
    assert client.get("/api/v1/articles/space-9/related").status_code == 404


def test_an_id_up_to_256_characters_is_accepted(client) -> None:
    article_id = "a" * 256
    assert client.put(f"/api/v1/articles/{article_id}", json=NEW_SPACE_STORY, headers=AUTH).status_code == 201
    too_long = client.put(f"/api/v1/articles/{article_id}b", json=NEW_SPACE_STORY, headers=AUTH)
    assert too_long.status_code == 400 and "more than 256" in too_long.get_json()["message"]


@pytest.mark.parametrize(
    "raw",
    [b"[" * 4096, b'{"title": "x", ' * 2000, b"{not json", b"\xff\xfe{}", b'{"title": ' + b"9" * 5000 + b"}", b""],
    ids=["deep-nesting", "deep-objects", "syntax", "not-utf8", "huge-integer", "empty"],
)
def test_an_undecodable_body_is_a_400_invalid_json(client, raw: bytes) -> None:
    response = client.put("/api/v1/articles/space-9", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json" and response.get_json()["message"]


@pytest.mark.parametrize("path_id", ["%20x", "x%20", "%09x", "x%09"])
def test_an_id_with_surrounding_whitespace_is_refused_not_trimmed(client, path_id: str) -> None:
    response = client.put(f"/api/v1/articles/{path_id}", json=NEW_SPACE_STORY, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_article"
    assert client.get("/api/v1/articles/x/related").status_code == 404
    assert client.get(f"/api/v1/articles/{path_id}/related").status_code == 404


def test_other_workers_and_restarts_see_the_changes(
    make_app: AppFactory, small_index: Path, tmp_path: Path, client
) -> None:
    other_worker = make_app(small_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH)
    client.delete("/api/v1/articles/baking-2", headers=AUTH)
    other = other_worker.test_client()
    assert other.get("/api/v1/articles/space-9/related").status_code == 404  # not polled yet
    other_worker.extensions["recommender.holder"].refresh()  # what its watcher does every few seconds
    assert "space-9" in related_ids(other, "space-2")[:2]
    assert other.get("/api/v1/articles/baking-2/related").status_code == 404
    restarted = make_app(small_index, tmp_path).test_client()
    assert "space-9" in related_ids(restarted, "space-2")[:2]
    assert "baking-2" not in related_ids(restarted, "baking-1")


def test_the_watcher_applies_changes_within_seconds(
    make_app: AppFactory, small_index: Path, tmp_path: Path, client
) -> None:
    watching = make_app(small_index, tmp_path, RELOAD_INTERVAL_SECONDS=0.2)
    client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH)
    deadline = time.monotonic() + 10
    while watching.test_client().get("/api/v1/articles/space-9/related").status_code != 200:
        assert time.monotonic() < deadline, "the watcher did not apply the change within 10 s"
        time.sleep(0.1)


def test_add_command_publishes_a_batch(make_app: AppFactory, small_index: Path, tmp_path: Path, capsys) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    batch = write_jsonl(
        tmp_path / "batch.jsonl",
        [
            {**NEW_SPACE_STORY, "id": "space-9"},
            {
                **NEW_SPACE_STORY,
                "id": "space-10",
                "title": "Rocket return",
                "body": "The rocket that carried the astronauts to orbit landed back at its launch pad.",
            },
            "{",
        ],
    )
    assert main(["add", str(batch), "--index", str(index)]) == 0
    out, err = capsys.readouterr()
    assert "added 2 articles, 1 bad rows skipped" in out and f"{batch}:3: invalid JSON" in err
    # The service finds the change log beside the index by default, as `recommender add` does.
    served = make_app(index, tmp_path, RECOMMENDER_CHANGES=None)
    assert {"space-9", "space-10"} <= set(related_ids(served.test_client(), "space-2"))


def test_add_command_needs_an_index(tmp_path: Path, capsys) -> None:
    batch = write_jsonl(tmp_path / "batch.jsonl", [{**NEW_SPACE_STORY, "id": "space-9"}])
    assert main(["add", str(batch), "--index", str(tmp_path / "nothing")]) == 1
    assert "recommender build" in capsys.readouterr().err


def test_the_nightly_build_folds_the_changes_in(
    make_app: AppFactory, tmp_path: Path, small_corpus: Path, capsys
) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    app = make_app(root, tmp_path, RECOMMENDER_CHANGES=str(root / "changes.sqlite3"), RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH)
    # The CMS export taken after the change contains the article; building from it folds the change in.
    export = write_jsonl(
        tmp_path / "export.jsonl",
        [json.loads(line) for line in small_corpus.read_text().splitlines()] + [{**NEW_SPACE_STORY, "id": "space-9"}],
    )
    os.utime(export, (time.time() + 1, time.time() + 1))
    assert main(["build", "--corpus", str(export), "--index-root", str(root)]) == 0
    assert "folded 1 of the day's article changes" in capsys.readouterr().err
    holder = app.extensions["recommender.holder"]
    holder.refresh()
    assert holder.live.seq == 0, "the folded change is no longer replayed"
    assert "space-9" in holder.live.base and "space-9" in related_ids(client, "space-2")[:5]


def test_the_nightly_build_folds_changes_kept_outside_the_index_root(
    make_app: AppFactory, tmp_path: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """deploy/: the web user may not write the index root, so the change log lives elsewhere."""
    root, changes = tmp_path / "root", tmp_path / "state" / "changes.sqlite3"
    changes.parent.mkdir()
    monkeypatch.setenv("RECOMMENDER_CHANGES", str(changes))
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    app = make_app(root, tmp_path, RECOMMENDER_CHANGES=str(changes), RECOMMENDER_ADMIN_TOKEN=TOKEN)
    assert app.test_client().put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH).status_code == 201
    assert not (root / "changes.sqlite3").exists()
    export = write_jsonl(
        tmp_path / "export.jsonl",
        [json.loads(line) for line in small_corpus.read_text().splitlines()] + [{**NEW_SPACE_STORY, "id": "space-9"}],
    )
    os.utime(export, (time.time() + 1, time.time() + 1))
    assert main(["build", "--corpus", str(export), "--index-root", str(root)]) == 0
    assert "folded 1 of the day's article changes" in capsys.readouterr().err


def test_a_change_made_while_the_export_ran_is_not_lost(
    make_app: AppFactory, tmp_path: Path, small_corpus: Path, capsys
) -> None:
    """Before: the build dropped every change older than the export file, including those the export,
    begun earlier, did not contain."""
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    export_began = datetime.now(UTC) - timedelta(seconds=5)
    app = make_app(root, tmp_path, RECOMMENDER_CHANGES=str(root / "changes.sqlite3"), RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    assert client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH).status_code == 201
    export = write_jsonl(tmp_path / "export.jsonl", small_corpus.read_text().splitlines())  # without space-9
    os.utime(export, (time.time() + 1, time.time() + 1))  # the file was finished after the change
    build = ["build", "--corpus", str(export), "--index-root", str(root), "--exported-at", export_began.isoformat()]
    assert main(build) == 0
    assert "1 made since are replayed on top of it" in capsys.readouterr().err
    holder = app.extensions["recommender.holder"]
    holder.refresh()
    assert "space-9" in holder.live and "space-9" not in holder.live.base


def test_a_rollback_after_a_fold_replays_the_changes_the_older_version_lacks(
    make_app: AppFactory, tmp_path: Path, small_corpus: Path
) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    app = make_app(root, tmp_path, RECOMMENDER_CHANGES=str(root / "changes.sqlite3"), RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    assert client.put("/api/v1/articles/space-9", json=NEW_SPACE_STORY, headers=AUTH).status_code == 201
    rows = [json.loads(line) for line in small_corpus.read_text().splitlines()] + [{**NEW_SPACE_STORY, "id": "space-9"}]
    export = write_jsonl(tmp_path / "export.jsonl", rows)
    os.utime(export, (time.time() + 1, time.time() + 1))
    assert main(["build", "--corpus", str(export), "--index-root", str(root)]) == 0  # folds space-9 in
    holder = app.extensions["recommender.holder"]
    holder.refresh()
    assert "space-9" in holder.live.base and holder.live.seq == 0
    assert main(["rollback", "--index-root", str(root)]) == 0
    holder.refresh()
    assert "space-9" not in holder.live.base and "space-9" in holder.live  # replayed on the older version
    assert "space-9" in related_ids(client, "space-2")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_put_body_is_json_whatever_its_content_type(client, content_type: str | None) -> None:
    """Before: without Content-Type: application/json the body was called 'not a JSON object'."""
    headers = dict(AUTH) | ({"Content-Type": content_type} if content_type else {})
    response = client.put("/api/v1/articles/space-9", data=json.dumps(NEW_SPACE_STORY), headers=headers)
    assert response.status_code == 201, response.get_json()
