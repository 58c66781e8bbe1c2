"""What an app starts, its one close() stops: threads, buffered counts, store connections."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from recommender.cli import main
from recommender.popularity.stores import open_store
from recommender.popularity.views import HOUR
from service import create_app
from tests.conftest import AppFactory

TOKEN = "lifecycle-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
IMPRESSION = {
    "type": "impression",
    "article_id": "football-1",
    "box": "more_like_this",
    "ids": ["football-3", "football-2"],
    "reasons": ["similar", "similar"],
    "index_version": "v1",
}
STORY = {"title": "Rocket test", "body": "The rocket carried astronauts to the space station in orbit."}


def open_files_under(directory: Path) -> set[str]:
    """Files under ``directory`` this process holds open (Linux): an open connection holds its file."""
    held = set()
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:  # closed meanwhile, or the listing's own descriptor
            continue
        if target.startswith(str(directory)):
            held.add(target)
    return held


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to list open files")


def test_close_stops_every_thread_writes_what_is_held_and_closes_the_stores(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    before = set(threading.enumerate())
    app = make_app(
        small_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN, RELOAD_INTERVAL_SECONDS=3600,
        POPULARITY_FLUSH_SECONDS=3600,  # nothing is written before close
    )  # fmt: skip
    client = app.test_client()
    assert client.post("/api/v1/events", json={"type": "view", "article_id": "space-2"}, headers=BROWSER).status_code
    assert client.post("/api/v1/events", json=IMPRESSION, headers=BROWSER).status_code == 202
    assert client.put("/api/v1/articles/space-9", json=STORY, headers=AUTH).status_code == 201
    body = {"pinned": ["space-9"], "blocked": []}
    assert client.put("/api/v1/articles/space-1/curation", json=body, headers=AUTH).status_code == 200
    started = {thread.name for thread in set(threading.enumerate()) - before}
    assert started == {"index-watcher", "popular-refresher", "view-flusher", "click-flusher", "list-warmer"}
    assert {Path(name).name for name in open_files_under(tmp_path)} >= {
        "views.sqlite3", "changes.sqlite3", "curation.sqlite3"
    }  # fmt: skip

    app.extensions["recommender"].close()

    assert set(threading.enumerate()) == before
    assert open_files_under(tmp_path) == set()
    assert app.extensions["recommender"].closed
    app.extensions["recommender"].close()  # a second close does nothing
    store = open_store(f"sqlite:///{tmp_path / 'views.sqlite3'}")
    try:
        now = app.config["CLOCK"]()
        counts = store.hourly_counts(int(now // HOUR) - 1, int(now // HOUR))
        assert sum(counts.get("space-2", {}).values()) == 1, "the buffered view was written at close"
    finally:
        store.close()


def test_an_app_that_fails_to_start_leaves_nothing_running(small_index: Path, tmp_path: Path) -> None:
    before = set(threading.enumerate())
    config = {"RECOMMENDER_CHANGES": str(tmp_path / "changes.sqlite3"), "RELOAD_INTERVAL_SECONDS": 3600}
    # The watcher has started by the time the page-view store is opened, and refused.
    with pytest.raises(ValueError, match="mysql://x"):
        create_app({**config, "POPULARITY_URL": "mysql://x"}, environ={"RECOMMENDER_INDEX": str(small_index)})
    assert set(threading.enumerate()) == before
    assert open_files_under(tmp_path) == set()


def test_a_closed_app_is_not_kept_alive_until_exit(small_index: Path, tmp_path: Path) -> None:
    environ = {
        "RECOMMENDER_INDEX": str(small_index),
        "RECOMMENDER_POPULARITY_URL": f"sqlite:///{tmp_path / 'views.sqlite3'}",
        "RECOMMENDER_RELOAD_INTERVAL_SECONDS": "3600",
    }
    app = create_app(environ=environ)
    lifecycle = weakref.ref(app.extensions["recommender"])
    app.extensions["recommender"].close()
    del app
    gc.collect()
    assert lifecycle() is None, "something (an exit hook) still holds the closed app"


def files_under(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def test_a_read_only_app_creates_no_change_log_and_no_curation_file(
    make_app: AppFactory, small_corpus: Path, tmp_path: Path
) -> None:
    root = tmp_path / "site" / "index"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    environ = {"RECOMMENDER_INDEX": str(root), "RECOMMENDER_RELOAD_INTERVAL_SECONDS": "0"}  # every default path
    before = files_under(tmp_path)
    reader = make_app.adopt(create_app(environ=environ))
    client = reader.test_client()
    for path in ("/api/v1/articles/space-1/related", "/api/v1/articles/space-1/recommendations",
                 "/api/v1/popular", "/api/v1/articles/space-1/curation", "/preview/space-1", "/healthz"):  # fmt: skip
        assert client.get(path).status_code in (200, 403), path
    assert client.post("/api/v1/events", json={"type": "view", "article_id": "space-2"}, headers=BROWSER)
    assert client.put("/api/v1/articles/space-9", json=STORY, headers=AUTH).status_code == 403
    assert client.delete("/api/v1/articles/space-1/curation", headers=AUTH).status_code == 403
    reader.extensions["recommender.holder"].refresh()  # what its watcher does
    reader.extensions["recommender"].close()
    created = files_under(tmp_path) - before
    assert {name.removesuffix("-wal").removesuffix("-shm") for name in created} == {"site/popularity.sqlite3"}

    # The first change creates the log, and a worker started before it existed reads it at its next check.
    reader = make_app.adopt(create_app(environ=environ))
    editor = make_app.adopt(create_app(environ={**environ, "RECOMMENDER_ADMIN_TOKEN": TOKEN}))
    assert editor.test_client().put("/api/v1/articles/space-9", json=STORY, headers=AUTH).status_code == 201
    assert (root / "changes.sqlite3").is_file() and not (root / "curation.sqlite3").exists()
    reader.extensions["recommender.holder"].refresh()
    assert reader.test_client().get("/api/v1/articles/space-9/related").status_code == 200
    body = {"pinned": ["space-9"], "blocked": []}
    assert editor.test_client().put("/api/v1/articles/space-1/curation", json=body, headers=AUTH).status_code == 200
    reader.extensions["recommender.holder"].refresh()
    curation = reader.test_client().get("/api/v1/articles/space-1/related").get_json()["items"][0]
    assert curation["id"] == "space-9"


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_an_app_runs_blas_on_the_request_s_own_thread_until_it_is_closed(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    before = blas_threads()  # {2} on a 2-core machine; {1} where BLAS is given one thread already (the test
    app = make_app(small_index, tmp_path)  # then shows the limit no more than it restores it)
    assert blas_threads() == {1}  # more would only spin beside the request
    app.extensions["recommender"].close()
    assert blas_threads() == before
