"""The page-view stores and the flusher: counts survive, storage stays bounded, a store going away loses nothing."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from recommender.popularity.recorder import ViewRecorder
from recommender.popularity.sqlite_store import SQLiteStore
from recommender.popularity.stores import open_store
from recommender.popularity.views import HOUR, View
from tests.conftest import AppFactory, FakeClock, RedisServer
from tests.readers import BROWSER, Site


def test_a_request_never_waits_for_the_flusher_or_the_store(
    make_app: AppFactory, small_index: Path, tmp_path: Path, clock: FakeClock
) -> None:
    """The flusher waits up to 30 s for SQLite's write lock; Popular is served meanwhile."""
    database = tmp_path / "views.sqlite3"
    app = make_app(small_index, tmp_path, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0.01)
    site = Site(app, app.test_client(), clock)
    recorder = app.extensions["recommender.popularity"].recorder
    site.view("space-2", 2)
    site.popular()
    writer = sqlite3.connect(database, isolation_level=None)  # another process's long write transaction
    writer.execute("BEGIN IMMEDIATE")
    try:
        client = app.test_client()
        client.post("/api/v1/events", json={"type": "view", "article_id": "baking-1"}, headers={"User-Agent": BROWSER})
        deadline = time.monotonic() + 30
        while recorder.pending:  # the flusher has taken the view and waits for the lock
            assert time.monotonic() < deadline
            time.sleep(0.005)
        # Taken from the buffer, not yet written: /healthz still counts it, and answers at once.
        assert client.get("/healthz").get_json()["pending_views"] == 1
        clock.advance(60)  # the ranking is stale: before, a request recomputed it, waiting behind the flusher
        answers: list[int] = []
        request = threading.Thread(target=lambda: answers.append(client.get("/api/v1/popular").status_code))
        request.start()
        request.join(timeout=20)
        assert answers == [200], "a request waited for the flusher"
        assert "baking-1" not in counted_views(database)  # the flusher is still waiting
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    while "baking-1" not in counted_views(database):
        assert time.monotonic() < deadline
        time.sleep(0.005)


def wait_for_counts(store, expected: dict[str, int]) -> None:
    """Until the store's views of this hour and the next equal ``expected``, for threads that write them."""
    deadline = time.monotonic() + 30
    hour = int(time.time() // HOUR)
    while (counts := {a: sum(v.values()) for a, v in store.hourly_counts(hour - 1, hour + 1).items()}) != expected:
        assert time.monotonic() < deadline, f"the store holds {counts}, not {expected}"
        time.sleep(0.01)


def counted_views(database: Path) -> dict[str, int]:
    connection = sqlite3.connect(database)
    try:
        return dict(connection.execute("SELECT article_id, SUM(views) FROM view_counts GROUP BY article_id"))
    finally:
        connection.close()


def test_store_counts_survive_reopening(popularity_url: str, clock: FakeClock) -> None:
    store = open_store(popularity_url)
    assert store.add_views([View("a", clock(), "v"), View("a", clock() + 1, "v"), View("b", clock())]) == 2
    store.add_counts({("a", int(clock() // HOUR)): 5})
    store.close()
    reopened = open_store(popularity_url)
    hour = int(clock() // HOUR)
    assert reopened.hourly_counts(hour - 1, hour) == {"a": {hour: 6}, "b": {hour: 1}}
    reopened.close()


def test_sqlite_storage_grows_with_hours_not_views_and_prunes_old_hours(tmp_path: Path, clock: FakeClock) -> None:
    store = SQLiteStore(tmp_path / "views.sqlite3")
    hour = int(clock() // HOUR)
    store.add_views([View("a", clock() + n) for n in range(1000)])
    store.add_views([View("a", clock() - 10 * 24 * HOUR)])
    rows = store._db.execute("SELECT COUNT(*) FROM view_counts").fetchone()[0]  # noqa: SLF001 - storage shape
    assert rows == 2
    store.prune(hour - 7 * 24 - 1, clock())
    assert store.hourly_counts(0, hour + 1) == {"a": {hour: 1000}}
    store.close()


def test_redis_going_away_keeps_the_page_answering(
    make_app: AppFactory,
    small_index: Path,
    tmp_path: Path,
    redis_server: RedisServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if redis_server.process is None:
        redis_server.start()
    app = make_app(small_index, tmp_path, POPULARITY_URL=redis_server.url, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0)
    site = Site(app, app.test_client(), clock)
    site.view("space-2", 3)
    assert site.popular_ids() == ["space-2"]
    redis_server.stop()
    try:
        with caplog.at_level(logging.WARNING):
            site.view("baking-1", 5)  # acknowledged, kept in the buffer at the flush
        assert "store unavailable; 5 views kept" in caplog.text
        assert app.extensions["recommender.popularity"].recorder.pending == 5
        assert site.client.get("/healthz").get_json()["pending_views"] == 5  # the buffer is visible to operators
        clock.advance(60)
        response = site.client.get("/api/v1/articles/football-1/recommendations")
        assert response.status_code == 200
        assert site.popular_ids() == ["space-2"]  # the last computed list
        assert site.client.get("/api/v1/popular").status_code == 200
    finally:
        redis_server.start()
    site.flush()  # the kept views reach the store once it is back (a fresh server: space-2's views are gone)
    assert site.client.get("/healthz").get_json()["pending_views"] == 0
    assert [(i["id"], i["views"]) for i in site.popular()["items"] if i["reason"] == "popular"] == [("baking-1", 5)]


def test_the_flusher_drops_only_the_view_the_store_refuses(
    popularity_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A view no store can encode (it bypassed the API's checks) is dropped alone; the thread goes on."""
    store = open_store(popularity_url)
    recorder = ViewRecorder(store, flush_interval=0.01)
    try:
        with caplog.at_level(logging.ERROR):
            recorder.record("a", "\udc80")
            for number in range(3):
                recorder.record("b", f"reader-{number}")
            wait_for_counts(store, {"b": 3})
        assert recorder.rejected == 1 and "dropped a page view the store refused" in caplog.text
        recorder.record("c", "reader-9")
        wait_for_counts(store, {"b": 3, "c": 1})
    finally:
        recorder.close()
        store.close()


def test_views_wait_in_a_bounded_buffer_while_the_store_is_down(
    redis_server: RedisServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    if redis_server.process is None:
        redis_server.start()
    store = open_store(redis_server.url)
    recorder = ViewRecorder(store, flush_interval=0, clock=clock, max_pending=10)
    redis_server.stop()
    try:
        for number in range(6):
            recorder.record("old", f"reader-{number}")
        assert recorder.flush() == 0 and recorder.pending == 6
        for number in range(8):
            recorder.record("new", f"reader-{number}")
        assert recorder.pending == 10 and recorder.overflowed == 4
        with caplog.at_level(logging.ERROR):
            assert recorder.flush() == 0
        assert recorder.pending == 10 and "dropped the 4 oldest page views (4 in all)" in caplog.text
    finally:
        redis_server.start()
    assert recorder.flush() == 10 and recorder.pending == 0
    hour = int(clock() // HOUR)
    assert store.hourly_counts(hour, hour) == {"old": {hour: 2}, "new": {hour: 8}}
    recorder.close()
    store.close()


def test_the_flusher_retries_until_the_store_is_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    if redis_server.process is None:
        redis_server.start()
    store = open_store(redis_server.url)
    recorder = ViewRecorder(store, flush_interval=0.01, max_backoff=0.1)
    redis_server.stop()
    deadline = time.monotonic() + 30
    try:
        with caplog.at_level(logging.WARNING):
            recorder.record("a", "reader-1")
            recorder.record("a", "reader-2")
            while caplog.text.count("page-view store unavailable") < 2:  # it failed, waited, and failed again
                assert time.monotonic() < deadline, "the flusher did not try"
                time.sleep(0.01)
    finally:
        redis_server.start()
    try:
        wait_for_counts(store, {"a": 2})
    finally:
        recorder.close()
        store.close()


def _open_store(path: Path, start: Any, outcomes: Any) -> None:
    start.wait()
    try:
        SQLiteStore(path).close()
        outcomes.put("ok")
    except Exception as error:  # reported to the test, which names it
        outcomes.put(repr(error))


def test_workers_booting_together_all_open_a_new_store(tmp_path: Path) -> None:
    """gunicorn's workers open the page-view store as they boot: switching a new file to WAL made some of
    them fail at once with "database is locked", and a worker that fails to boot stops the server."""
    context = multiprocessing.get_context("fork")
    failures = []
    for trial in range(30):
        path = tmp_path / f"views-{trial}.sqlite3"
        start, outcomes = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_open_store, args=(path, start, outcomes)) for _ in range(6)]
        for worker in workers:
            worker.start()
        failures += [outcome for outcome in (outcomes.get(timeout=60) for _ in workers) if outcome != "ok"]
        for worker in workers:
            worker.join(timeout=60)
    assert failures == []
