"""Page views and the Popular list, through the API; every test runs on SQLite and on a real Redis."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from recommender.popularity.recorder import ViewRecorder
from recommender.popularity.sqlite_store import SQLiteStore
from recommender.popularity.stores import open_store
from recommender.popularity.views import HOUR, View
from tests.conftest import AppFactory, FakeClock, RedisServer

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str, clock: FakeClock):
    app = make_app(small_index, tmp_path, POPULARITY_URL=popularity_url, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


class Site:
    """What the website does: report views; what the tests need: flush and move time."""

    def __init__(self, app, client, clock: FakeClock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.readers = 0

    def view(self, article_id: str, times: int = 1, visitor: str | None = None, agent: str = BROWSER):
        """``times`` views by one visitor, or by as many different readers when no visitor is named."""
        for _ in range(times):
            self.readers += 1
            event = {"type": "view", "article_id": article_id, "visitor_id": visitor or f"reader-{self.readers}"}
            response = self.client.post("/api/v1/events", json=event, headers={"User-Agent": agent})
            assert response.status_code == 202, response.get_json()
        self.flush()
        return response

    def flush(self) -> None:
        self.app.extensions["recommender.popularity"].recorder.flush()

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def refreshed(self) -> None:
        self.later(60)  # past the per-process refresh interval...
        self.app.extensions["recommender.popularity"].rankings.refresh()  # ...and refreshed, as the thread would

    def popular(self, query: str = "") -> dict:
        self.refreshed()
        response = self.client.get(f"/api/v1/popular?{query}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def popular_ids(self, query: str = "") -> list[str]:
        """The items ranked by views; the rest of the box is filled with recent articles."""
        return [item["id"] for item in self.popular(query)["items"] if item["reason"] == "popular"]


@pytest.fixture()
def site(app, client, clock) -> Site:
    return Site(app, client, clock)


def test_views_are_counted_and_ranked(site: Site) -> None:
    site.view("football-1", 3)
    site.view("space-2", 5)
    site.view("baking-3", 1)
    body = site.popular()
    assert body["source"] == "views" and body["window"] == "24h"
    assert [(item["id"], item["views"], item["reason"]) for item in body["items"]] == [
        ("space-2", 5, "popular"),
        ("football-1", 3, "popular"),
        ("baking-3", 1, "popular"),
        ("football-3", 0, "recent"),  # the box is filled with the newest articles, each saying so
        ("election-3", 0, "recent"),
    ]
    fields = "id title url section published_at image_url excerpt score views reason"
    assert set(body["items"][0]) == set(fields.split())
    assert [item["score"] is None for item in body["items"]] == [False, False, False, True, True]


def test_one_view_still_gives_a_full_popular_box(site: Site) -> None:
    site.view("baking-1")
    items = site.popular("limit=5")["items"]
    assert len(items) == 5 and items[0]["id"] == "baking-1" and items[0]["reason"] == "popular"
    assert {item["reason"] for item in items[1:]} == {"recent"} and len({item["id"] for item in items}) == 5


def test_a_visitor_counts_once_per_article_per_30_minutes(site: Site) -> None:
    site.view("football-1", 3, visitor="reader-1")
    site.later(29 * 60)
    site.view("football-1", 1, visitor="reader-1")
    site.view("football-1", 1, visitor="reader-2")
    site.view("football-2", 1, visitor="reader-1")
    assert {i["id"]: i["views"] for i in site.popular()["items"] if i["reason"] == "popular"} == {
        "football-1": 2,
        "football-2": 1,
    }
    site.later(31 * 60)
    site.view("football-1", 1, visitor="reader-1")
    assert {i["id"]: i["views"] for i in site.popular()["items"] if i["reason"] == "popular"}["football-1"] == 3


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
        "",
    ],
)
def test_bots_are_accepted_but_not_counted(site: Site, agent: str) -> None:
    response = site.view("football-1", 2, agent=agent)
    assert response.get_json()["status"] == "ignored_bot"
    assert site.popular()["source"] == "recent"


def test_send_beacon_text_plain_body_is_accepted(site: Site) -> None:
    body = json.dumps({"type": "view", "article_id": "space-3", "visitor_id": "v1"})
    response = site.client.post(
        "/api/v1/events", data=body, content_type="text/plain;charset=UTF-8", headers={"User-Agent": BROWSER}
    )
    assert response.status_code == 202
    site.flush()
    assert site.popular_ids() == ["space-3"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "invalid_json"),
        ("[1]", "invalid_json"),
        (json.dumps({"type": "click", "article_id": "space-3"}), "invalid_event"),
        (json.dumps({"article_id": "space-3"}), "invalid_event"),
        (json.dumps({"type": "view", "article_id": "no-such-article"}), "unknown_article"),
        (json.dumps({"type": "view"}), "unknown_article"),
        (json.dumps({"type": "view", "article_id": "space-3", "visitor_id": 12}), "invalid_event"),
        (b"\xff\xfe", "invalid_json"),
        ('{"type": "view", "article_id": "space-3", "visitor_id": "\\udc80"}', "invalid_event"),
        ('{"type": "view", "article_id": "space-3", "visitor_id": "ok", "page": ["\\ud83d"]}', "invalid_event"),
        ('{"type": "view", "article_id": "space-3", "\\udfff": 1}', "invalid_event"),
        (json.dumps({"type": "view", "article_id": "space-3", "visitor_id": "has space"}), "invalid_event"),
        (json.dumps({"type": "view", "article_id": "space-3", "visitor_id": "x" * 129}), "invalid_event"),
        (json.dumps({"type": "view", "article_id": "space-3", "visitor_id": ""}), "invalid_event"),
        (json.dumps({"type": "view", "article_id": "space-3", "visitor_id": "caf\u00e9"}), "invalid_event"),
        ("[" * 4000, "invalid_json"),
        ('{"type": "view", "article_id": "space-3", "n": NaN}', "invalid_json"),
        (b'{"type": "view", "article_id": "space-3", "visitor_id": "\xed\xb2\x80"}', "invalid_json"),
    ],
)
def test_bad_events_are_400_and_store_nothing(site: Site, body: str | bytes, error: str) -> None:
    response = site.client.post("/api/v1/events", data=body, headers={"User-Agent": BROWSER})
    assert response.status_code == 400
    assert response.get_json()["error"] == error and response.get_json()["message"]
    site.flush()
    assert site.popular()["source"] == "recent"


@pytest.mark.parametrize("visitor_id", ["a", "3f9c2b1e-77aa-4d0b-9a8e-0c4b1d2e3f40", "k3x9.lq:7_Z-", "v" * 128])
def test_well_formed_visitor_ids_are_accepted(site: Site, visitor_id: str) -> None:
    site.view("space-3", visitor=visitor_id)
    assert site.popular_ids() == ["space-3"]


def test_a_view_with_a_lone_surrogate_does_not_stop_counting(
    make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str
) -> None:
    """One such beacon used to kill the flusher thread: later views were acknowledged and never written."""
    app = make_app(small_index, tmp_path, POPULARITY_URL=popularity_url, POPULARITY_FLUSH_SECONDS=0.02)
    client = app.test_client()
    poison = '{"type":"view","article_id":"space-3","visitor_id":"\\udc80"}'
    client.post("/api/v1/events", data=poison, content_type="text/plain", headers={"User-Agent": BROWSER})
    for number in range(3):
        event = {"type": "view", "article_id": "baking-2", "visitor_id": f"reader-{number}"}
        assert client.post("/api/v1/events", json=event, headers={"User-Agent": BROWSER}).status_code == 202
    store = open_store(popularity_url)
    hour = int(time.time() // HOUR)

    def counted() -> dict[str, int]:
        return {article: sum(views.values()) for article, views in store.hourly_counts(hour - 1, hour + 1).items()}

    try:
        deadline = time.monotonic() + 30
        while counted().get("baking-2", 0) < 3:
            assert time.monotonic() < deadline, "the good views were never written"
            time.sleep(0.02)
        assert counted() == {"baking-2": 3}
    finally:
        store.close()


def test_windows_keep_only_their_hours(site: Site) -> None:
    site.view("election-1", 4)
    site.later(3 * HOUR)
    site.view("baking-1", 1)
    site.later(2 * 24 * HOUR)
    site.view("space-2", 2)
    assert site.popular_ids("window=1h") == ["space-2"]
    assert site.popular_ids("window=24h") == ["space-2"]
    # 4 views 51 hours ago weigh 4 * 0.5 ** (51 / 42) = 1.73 < 2 views now (half-life 42 h in 7d)
    assert site.popular_ids("window=7d") == ["space-2", "election-1", "baking-1"]
    site.later(8 * 24 * HOUR)
    assert site.popular("window=7d")["source"] == "recent"


def test_recent_views_weigh_more_than_older_ones(site: Site) -> None:
    site.view("election-1", 10)  # 10 views 20 hours ago...
    site.later(20 * HOUR)
    site.view("baking-2", 5)  # ...weigh less than 5 views now (half-life 6 h in the 24h window)
    items = site.popular()["items"][:2]
    assert [item["id"] for item in items] == ["baking-2", "election-1"]
    assert [item["views"] for item in items] == [5, 10]
    assert items[0]["score"] > items[1]["score"]


def test_ties_go_to_the_newest_article(site: Site) -> None:
    site.view("football-1", 2)
    site.view("football-3", 2)
    site.view("football-2", 2)
    assert site.popular_ids() == ["football-3", "football-2", "football-1"]  # published on the 3rd, 2nd, 1st


def test_exclude_and_section_filter_the_list(site: Site) -> None:
    site.view("football-1", 3)
    site.view("space-2", 5)
    site.view("football-2", 1)
    assert site.popular_ids("exclude=space-2") == ["football-1", "football-2"]
    assert site.popular_ids("exclude=space-2&exclude=football-1") == ["football-2"]
    assert site.popular_ids("section=football") == ["football-1", "football-2"]
    assert site.popular_ids("limit=1") == ["space-2"]
    assert all(item["section"] == "football" for item in site.popular("section=football")["items"])


def test_a_fresh_install_falls_back_to_the_newest_articles(site: Site) -> None:
    body = site.popular("limit=3")
    assert body["source"] == "recent"
    assert [item["published_at"][:10] for item in body["items"]] == ["2026-11-03"] * 3
    assert all(item["views"] == 0 and item["score"] is None for item in body["items"])
    section = site.popular("section=baking&limit=5")
    assert section["source"] == "recent" and {i["id"] for i in section["items"]} == {"baking-1", "baking-2", "baking-3"}


@pytest.mark.parametrize("query", ["window=2h", "window=", "limit=0", "limit=51", "limit=x"])
def test_bad_popular_parameters_are_400(site: Site, query: str) -> None:
    response = site.client.get(f"/api/v1/popular?{query}")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_parameter"


def test_the_list_is_computed_at_most_every_few_seconds(site: Site) -> None:
    site.view("football-1", 1)
    assert site.popular_ids() == ["football-1"]
    site.view("space-1", 3)
    assert site.client.get("/api/v1/popular").get_json()["items"][0]["id"] == "football-1"  # cached
    assert site.popular_ids()[0] == "space-1"  # after the refresh interval


def test_the_background_thread_refreshes_the_list_once_the_interval_has_passed(
    make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str, clock: FakeClock
) -> None:
    config = {"POPULARITY_URL": popularity_url, "CLOCK": clock, "POPULARITY_FLUSH_SECONDS": 0}
    app = make_app(small_index, tmp_path, POPULAR_REFRESH_SECONDS=2, **config)
    site = Site(app, app.test_client(), clock)
    site.view("space-2", 2)
    site.later(1)  # within the interval: the thread leaves the list alone
    assert site.client.get("/api/v1/popular").get_json()["source"] == "recent"
    site.later(1)
    deadline = time.monotonic() + 30
    while site.client.get("/api/v1/popular").get_json()["source"] != "views":
        assert time.monotonic() < deadline, "the list was not refreshed in the background"
        time.sleep(0.01)
    items = site.client.get("/api/v1/popular").get_json()["items"]
    assert [item["id"] for item in items if item["reason"] == "popular"] == ["space-2"]


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


def test_one_call_returns_both_boxes_without_repeats(site: Site) -> None:
    # The most viewed articles are the page's own article and its related ones.
    site.view("football-1", 9)
    site.view("football-2", 8)
    site.view("football-3", 7)
    site.view("space-2", 2)
    site.view("baking-1", 1)
    site.refreshed()
    response = site.client.get("/api/v1/articles/football-1/recommendations?related=2&popular=5")
    assert response.status_code == 200
    body = response.get_json()
    more_like_this = [item["id"] for item in body["more_like_this"]]
    popular = [item["id"] for item in body["popular"]]
    assert body["article_id"] == "football-1" and set(more_like_this) == {"football-2", "football-3"}
    assert popular[:2] == ["space-2", "baking-1"] and len(popular) == 5
    on_page = ["football-1", *more_like_this, *popular]
    assert len(on_page) == len(set(on_page))


def test_recommendations_of_an_unknown_article_is_404(site: Site) -> None:
    response = site.client.get("/api/v1/articles/nope/recommendations")
    assert response.status_code == 404 and response.get_json()["error"] == "article_not_found"


def test_recommendations_are_cacheable(site: Site) -> None:
    first = site.client.get("/api/v1/articles/football-1/recommendations")
    assert first.headers["Cache-Control"].startswith("public, max-age=") and first.headers["ETag"]
    again = site.client.get(
        "/api/v1/articles/football-1/recommendations", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


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
