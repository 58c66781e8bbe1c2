"""Page views and the Popular list, through the API; every test runs on SQLite and on a real Redis."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from recommender.popularity.stores import open_store
from recommender.popularity.views import HOUR
from tests.conftest import AppFactory, FakeClock
from tests.readers import BROWSER, Site


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str, clock: FakeClock):
    app = make_app(small_index, tmp_path, POPULARITY_URL=popularity_url, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


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
    rankings = app.extensions["recommender.popularity"].rankings
    generation = rankings.generation
    site.later(1)
    deadline = time.monotonic() + 30
    while rankings.generation == generation:
        assert time.monotonic() < deadline, "the list was not refreshed in the background"
        time.sleep(0.01)
    site.later(app.config["POPULAR_CACHE_MAX_AGE"])  # once the kept answers are no longer fresh
    assert site.client.get("/api/v1/popular").get_json()["source"] == "views"
    items = site.client.get("/api/v1/popular").get_json()["items"]
    assert [item["id"] for item in items if item["reason"] == "popular"] == ["space-2"]


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
