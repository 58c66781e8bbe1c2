"""Flood resistance of POST /api/v1/events: per-client rate, trusted proxies, dedupe without a
visitor id, the pages allowed to report views; on SQLite and on a real Redis."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from recommender.popularity.ratelimit import TokenBuckets
from recommender.popularity.stores import open_store
from recommender.popularity.views import DAY, DEDUPE_SECONDS, HOUR, View
from tests.conftest import AppFactory, FakeClock

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
)
VIEW = {"type": "view", "article_id": "space-2"}


class Site:
    def __init__(self, app: Flask, clock: FakeClock) -> None:
        self.app = app
        self.client = self.app.test_client()
        self.clock = clock
        self.popularity = self.app.extensions["recommender.popularity"]

    def post(self, event: dict = VIEW, address: str = "192.0.2.1", agent: str = BROWSER, **headers: str):
        environ = {"REMOTE_ADDR": address}
        return self.client.post("/api/v1/events", json=event, headers={"User-Agent": agent, **headers},
                                environ_base=environ)  # fmt: skip

    def views(self, article_id: str = "space-2") -> int:
        self.popularity.recorder.flush()
        hour = int(self.clock() // HOUR)
        return sum(self.popularity.store.hourly_counts(hour - 48, hour).get(article_id, {}).values())


@pytest.fixture()
def new_site(make_app: AppFactory, small_index: Path, clock: FakeClock) -> Callable[..., Site]:
    """A worker of the site: its own app, with its stores in ``store_dir``, closed at the test's end."""

    def new(store_dir: Path, **config: Any) -> Site:
        return Site(make_app(small_index, store_dir, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0, **config), clock)

    return new


@pytest.fixture()
def site(new_site: Callable[..., Site], tmp_path: Path, popularity_url: str) -> Site:
    return new_site(tmp_path, POPULARITY_URL=popularity_url)


def test_a_client_past_its_burst_gets_429_with_retry_after(new_site, tmp_path: Path, clock) -> None:
    site = new_site(tmp_path, EVENTS_PER_MINUTE=60, EVENTS_BURST=5)
    for number in range(5):
        assert site.post({**VIEW, "visitor_id": f"r{number}"}).status_code == 202
    refused = site.post({**VIEW, "visitor_id": "r5"})
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited" and refused.get_json()["message"]
    assert refused.headers["Retry-After"] == "1"
    assert site.post({**VIEW, "visitor_id": "r6"}, address="192.0.2.2").status_code == 202  # another client
    clock.advance(1)  # one token back
    assert site.post({**VIEW, "visitor_id": "r7"}).status_code == 202
    assert site.post({**VIEW, "visitor_id": "r8"}).status_code == 429
    assert site.views() == 7


def test_the_default_rate_lets_a_reader_through_and_stops_a_script(new_site, tmp_path: Path, clock) -> None:
    site = new_site(tmp_path)
    statuses = [site.post({**VIEW, "visitor_id": f"r{number}"}).status_code for number in range(100)]
    assert statuses == [202] * 30 + [429] * 70  # a burst of 30...
    clock.advance(60)
    statuses = [site.post({**VIEW, "visitor_id": f"s{number}"}).status_code for number in range(40)]
    assert statuses == [202] * 30 + [429] * 10  # ...refilled at 1 per second, up to the burst


def test_the_rate_limit_can_be_switched_off(new_site, tmp_path: Path, clock) -> None:
    site = new_site(tmp_path, EVENTS_PER_MINUTE=0)
    assert {site.post({**VIEW, "visitor_id": f"r{n}"}).status_code for n in range(100)} == {202}


@pytest.mark.parametrize("proxies", [0, 1, 2])
def test_the_client_address_honours_the_trusted_proxies(new_site, tmp_path: Path, clock, proxies) -> None:
    site = new_site(tmp_path, EVENTS_BURST=1, TRUSTED_PROXIES=proxies)
    # The proxy nearest to the service appends the address it saw; anything to its left can be forged.
    chains = ["forged-1, 198.51.100.7, 203.0.113.1", "forged-2, 198.51.100.8, 203.0.113.1"]
    statuses = [
        site.post({**VIEW, "visitor_id": f"r{n}"}, address="10.0.0.1", **{"X-Forwarded-For": chain}).status_code
        for n, chain in enumerate(chains)
    ]
    # 0: both from the proxy's own address; 1: both from 203.0.113.1; 2: two readers.
    assert statuses == ([202, 202] if proxies == 2 else [202, 429])


def test_token_buckets_stay_bounded_and_forget_idle_clients() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_second=1, burst=3, clock=clock, max_clients=100)
    for number in range(1000):
        assert buckets.take(f"client-{number}") == 0.0
    assert len(buckets) == 100
    for _ in range(3):
        buckets.take("busy")
    assert buckets.take("busy") == pytest.approx(1.0)
    clock.advance(3)  # every bucket is full again: as good as forgotten
    buckets.take("newcomer")
    assert len(buckets) == 1


def test_views_without_a_visitor_id_count_once_per_reader_per_30_minutes(site: Site) -> None:
    for _ in range(5):
        assert site.post().status_code == 202
    assert site.views() == 1
    site.post(agent=PHONE)  # another browser at the same address: another reader
    site.post(address="192.0.2.99")
    site.post({**VIEW, "visitor_id": "named-reader"})  # a visitor id is its own reader
    assert site.views() == 4
    site.clock.advance(29 * 60)
    site.post()
    assert site.views() == 4
    site.clock.advance(2 * 60)
    site.post()
    assert site.views() == 5


def test_workers_agree_on_the_day_salt_and_it_changes_with_the_day(
    site: Site, new_site: Callable[..., Site], tmp_path: Path, popularity_url: str
) -> None:
    other_worker = new_site(tmp_path / "other", POPULARITY_URL=popularity_url)
    site.post()
    site.views()
    other_worker.post()  # the same reader, answered by another process
    assert other_worker.views() == 1
    store = site.popularity.store
    day = int(site.clock() // DAY)
    assert store.daily_salt(day) == store.daily_salt(day) != store.daily_salt(day + 1)


def test_no_address_or_user_agent_is_stored(site: Site, popularity_url: str) -> None:
    site.post(address="198.51.100.23", agent=PHONE)
    site.post({**VIEW, "article_id": "baking-1"}, address="198.51.100.23", agent=PHONE)
    assert site.views() == 1 and site.views("baking-1") == 1
    if popularity_url.startswith("redis"):
        client = redis.Redis.from_url(popularity_url)
        stored = b" ".join(key + b" " + repr(client.dump(key)).encode() for key in client.keys("*"))
        client.close()
    else:
        connection = sqlite3.connect(popularity_url.removeprefix("sqlite:///"))
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        stored = repr([connection.execute(f"SELECT * FROM {table}").fetchall() for table in tables]).encode()
        marks = connection.execute("SELECT visitor_id FROM recent_visits").fetchall()
        connection.close()
        assert len(marks) == 2 and all(mark.startswith("#") and len(mark) == 33 for (mark,) in marks)
    for raw in (b"198.51.100.23", b"Pixel 8", b"Android"):
        assert raw not in stored


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://news.example"}, 202),
        ({"Origin": "https://m.news.example"}, 202),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Referer": "https://news.example/politics/story"}, 202),
        ({"Referer": "https://evil.example/page"}, 403),
        ({"Origin": "https://news.example", "Referer": "https://evil.example/"}, 202),
        ({}, 202),  # no browser page said where it came from
        ({"Origin": "http://localhost"}, 202),  # the service's own pages: the demo
    ],
)
def test_only_listed_origins_may_report_views(new_site, tmp_path: Path, clock, headers, status) -> None:
    site = new_site(tmp_path, RECOMMENDER_ALLOWED_ORIGINS="https://news.example,https://m.news.example")
    response = site.post({**VIEW, "visitor_id": "r1"}, **headers)
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"] == "origin_not_allowed"
    assert site.views() == (1 if status == 202 else 0)


def test_without_a_list_any_origin_may_report_views(site: Site) -> None:
    assert site.post({**VIEW, "visitor_id": "r1"}, Origin="https://elsewhere.example").status_code == 202
    assert site.views() == 1


def test_recent_visits_are_forgotten_continuously(popularity_url: str, clock: FakeClock) -> None:
    """Not only by the hourly prune: SQLite deletes expired marks with every batch, Redis lets them expire."""
    store = open_store(popularity_url)
    try:
        store.add_views([View("a", clock(), f"reader-{number}") for number in range(50)])
        clock.advance(31 * 60)
        store.add_views([View("a", clock(), "reader-late")])
    finally:
        store.close()
    if popularity_url.startswith("redis"):
        client = redis.Redis.from_url(popularity_url)
        ttls = [client.ttl(key) for key in client.keys("recommender:seen:*")]
        client.close()
        assert len(ttls) == 51 and all(0 < ttl <= DEDUPE_SECONDS + 60 for ttl in ttls)
    else:
        connection = sqlite3.connect(popularity_url.removeprefix("sqlite:///"))
        marks = connection.execute("SELECT visitor_id FROM recent_visits").fetchall()
        connection.close()
        assert marks == [("reader-late",)]
