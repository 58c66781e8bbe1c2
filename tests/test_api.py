import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import service
from recommender.errors import ConfigError, IncompatibleIndex
from service import create_app
from tests.conftest import AppFactory

ITEM_FIELDS = {"id", "title", "url", "section", "published_at", "image_url", "excerpt", "score", "reason"}


def test_related_returns_five_items_with_their_fields(client) -> None:
    response = client.get("/api/v1/articles/football-1/related")
    assert response.status_code == 200
    body = response.get_json()
    assert body["article_id"] == "football-1"
    assert 1 <= len(body["items"]) <= 5
    assert all(set(item) == ITEM_FIELDS for item in body["items"])
    assert [item["id"] for item in body["items"][:2]] in (["football-2", "football-3"], ["football-3", "football-2"])
    assert body["items"][0]["url"].startswith("https://news.example/")


def test_five_items_by_default_on_the_bundled_corpus(make_app: AppFactory, bundled_index: Path, tmp_path: Path) -> None:
    client = make_app(bundled_index, tmp_path).test_client()
    article_id = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
    items = client.get(f"/api/v1/articles/{article_id}/related").get_json()["items"]
    assert len(items) == 5
    assert article_id not in {item["id"] for item in items}
    assert len(client.get(f"/api/v1/articles/{article_id}/related?limit=50").get_json()["items"]) == 50
    unfloored = client.get(f"/api/v1/articles/{article_id}/related?limit=50&min_score=0&fill=none").get_json()
    assert len(unfloored["items"]) == 30  # every neighbour kept


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_limit_caps_the_list(client, limit: int) -> None:
    items = client.get(f"/api/v1/articles/baking-1/related?limit={limit}").get_json()["items"]
    assert len(items) == min(limit, 11)


def test_article_and_its_duplicates_are_never_in_its_list(client) -> None:
    family = {"space-1", "space-1-republished", "space-1-corrected"}
    for article_id in family:
        items = client.get(f"/api/v1/articles/{article_id}/related?limit=50").get_json()["items"]
        assert not family & {item["id"] for item in items}


def test_unknown_article_is_a_json_404(client) -> None:
    response = client.get("/api/v1/articles/no-such-id/related")
    assert response.status_code == 404
    assert response.get_json() == {"error": "article_not_found", "message": "no article with id 'no-such-id'"}


@pytest.mark.parametrize("limit", ["0", "51", "-1", "abc", "1.5", "", "٣"])
def test_bad_limit_is_a_json_400(client, limit: str) -> None:
    response = client.get(f"/api/v1/articles/football-1/related?limit={limit}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_parameter" and "limit" in body["message"]


def test_unknown_path_and_wrong_method_are_json(client) -> None:
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    wrong = client.post("/api/v1/articles/football-1/related")
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]


def test_unexpected_failure_is_a_json_500_not_html(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path, TESTING=False)  # TESTING would re-raise instead
    app.extensions["recommender.holder"].live.base.neighbour_ids = None  # a damaged index in memory
    response = app.test_client().get("/api/v1/articles/football-1/related")
    assert response.status_code == 500
    assert response.is_json and response.get_json()["error"] == "internal_server_error"


def test_healthz_names_the_index(client, app) -> None:
    body = client.get("/healthz").get_json()
    index = app.extensions["recommender.holder"].live
    assert body["status"] == "ok"
    assert body["index_version"] == index.version and body["article_count"] == 14
    assert body["pending_views"] == 0  # no view acknowledged yet


def test_lists_are_cacheable_and_revalidate_with_the_index_version(client) -> None:
    first = client.get("/api/v1/articles/football-1/related")
    assert "max-age" in first.headers["Cache-Control"] and first.headers["ETag"]
    again = client.get("/api/v1/articles/football-1/related", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/v1/articles/nope/related").headers["Cache-Control"] == "no-store"


def test_settings_come_from_the_environment(
    make_app: AppFactory, small_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOMMENDER_INDEX", str(small_index))
    monkeypatch.setenv("RECOMMENDER_POPULARITY_URL", f"sqlite:///{tmp_path / 'views.sqlite3'}")
    monkeypatch.setenv("RECOMMENDER_CHANGES", str(tmp_path / "changes.sqlite3"))
    monkeypatch.setenv("RECOMMENDER_RELOAD_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("RECOMMENDER_CACHE_MAX_AGE", "42")
    client = make_app.adopt(create_app()).test_client()
    assert client.get("/healthz").get_json()["article_count"] == 14
    assert "max-age=42" in client.get("/api/v1/articles/football-1/related?fill=none").headers["Cache-Control"]


def test_the_old_variable_names_still_work_with_a_warning(make_app: AppFactory, small_index: Path, tmp_path: Path):
    environ = {
        "RECOMMENDER_INDEX": str(small_index),
        "POPULARITY_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}",
        "RELOAD_INTERVAL_SECONDS": "0",
        "POPULARITY_FLUSH_SECONDS": "30",
        "POPULAR_REFRESH_SECONDS": "30",
        "POPULARITY_MAX_PENDING": "10",
    }
    with pytest.warns(DeprecationWarning) as warned:
        app = make_app.adopt(create_app(environ=environ))
    assert {str(warning.message) for warning in warned} == {
        f"{old} is deprecated: set RECOMMENDER_{old} instead" for old in environ if old != "RECOMMENDER_INDEX"
    }
    assert app.config["POPULARITY_URL"] == environ["POPULARITY_URL"] and (tmp_path / "old.sqlite3").is_file()
    assert app.extensions["recommender.popularity"].recorder.max_pending == 10


def test_a_bad_setting_stops_the_app_from_starting_and_starts_nothing(small_index: Path) -> None:
    before = set(threading.enumerate())
    environ = {"RECOMMENDER_INDEX": str(small_index), "RECOMMENDER_CACHE_MAX_AGE": "abc"}
    with pytest.raises(ConfigError, match=r"^RECOMMENDER_CACHE_MAX_AGE='abc': not a whole number$"):
        create_app(environ=environ)
    assert set(threading.enumerate()) == before


def test_a_missing_index_stops_the_app_from_starting(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleIndex, match="recommender build"):
        create_app(environ={"RECOMMENDER_INDEX": str(tmp_path / "absent")})


IMPORT_EVERYTHING = """
import gc, os, pkgutil, importlib, threading, json
before = {"threads": threading.active_count(), "fds": sorted(os.listdir("/proc/self/fd")), "files": os.listdir(".")}
import recommender, service
names = [m.name for package in (recommender, service)
         for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
import flask, sqlite3, socket
after = {"threads": threading.active_count(), "fds": sorted(os.listdir("/proc/self/fd")), "files": os.listdir(".")}
alive = [type(o).__name__ for o in gc.get_objects()
         if isinstance(o, (flask.Flask, sqlite3.Connection, socket.socket, threading.Thread))
         and not isinstance(o, threading._MainThread)]
print(json.dumps({"modules": len(names), "before": before, "after": after, "alive": alive}))
"""


def test_importing_every_module_creates_no_app_thread_file_or_connection(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(done.stdout)
    assert found["modules"] > 40
    assert found["after"] == found["before"]
    assert found["alive"] == []
    assert list(tmp_path.iterdir()) == []
    assert not hasattr(service, "app")


def test_web_workers_do_not_load_the_neighbour_search_compiler() -> None:
    # numba and llvmlite cost about 60 MB per gunicorn worker, and workers only look lists up.
    code = "import sys, service, recommender.serving.live; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
