"""/metrics: Prometheus series that move with the traffic, per app under the test client."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AppFactory, FakeClock, RedisServer

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
BOT = {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def publish(root: Path, source: Path, name: str) -> Path:
    """A copy of ``source`` published as version ``name`` of the index root, made current."""
    version = root / "versions" / name
    shutil.copytree(source, version)
    (root / "current.tmp").symlink_to(Path("versions") / name)
    os.replace(root / "current.tmp", root / "current")
    return version


@pytest.fixture()
def root(small_index: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    publish(root, small_index, "000001-good")
    return root


def view(article_id: str, visitor: str) -> dict:
    return {"type": "view", "article_id": article_id, "visitor_id": visitor}


def test_each_series_moves_with_the_traffic(
    make_app: AppFactory, root: Path, small_index: Path, tmp_path: Path
) -> None:
    app = make_app(root, tmp_path, CLOCK=FakeClock(), EVENTS_PER_MINUTE=1, EVENTS_BURST=4)
    client = app.test_client()
    before = scrape(client)
    assert value(before, "recommender_views_total", outcome="accepted") == 0
    assert value(before, "recommender_popular_refresh_seconds_count") >= 1  # computed once at start
    version = client.get("/healthz").get_json()["index_version"]
    for number in range(3):
        assert client.post("/api/v1/events", json=view("space-1", f"v{number}"), headers=BROWSER).status_code == 202
    assert client.post("/api/v1/events", json=view("space-1", "bot"), headers=BOT).status_code == 202
    assert client.post("/api/v1/events", json=view("space-1", "v9"), headers=BROWSER).status_code == 429
    impression = {
        "type": "impression", "article_id": "space-1", "box": "more_like_this", "ids": ["space-2", "space-3"],
        "reasons": ["similar", "similar"], "index_version": version,
    }  # fmt: skip
    assert client.post("/api/v1/events", json=impression, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 202
    click = {key: impression[key] for key in ("article_id", "box", "index_version")}
    click |= {"type": "click", "target_id": "space-2", "position": 1, "reason": "similar"}
    assert client.post("/api/v1/events", json=click, environ_base={"REMOTE_ADDR": "10.0.0.3"}).status_code == 202
    assert client.get("/api/v1/articles/football-1/related").status_code == 200
    assert client.get("/api/v1/articles/no-such-article-42/related").status_code == 404
    assert client.get("/no/such/path/12345").status_code == 404
    broken = publish(root, small_index, "000002-broken")
    manifest = json.loads((broken / "manifest.json").read_text())
    (broken / "manifest.json").write_text(json.dumps({**manifest, "format_version": 0}))
    app.extensions["recommender.holder"].refresh()
    app.extensions["recommender.popularity"].recorder.flush()

    after = scrape(client)
    moved = {
        "accepted": value(after, "recommender_views_total", outcome="accepted"),
        "bot": value(after, "recommender_views_total", outcome="bot"),
        "rate_limited": value(after, "recommender_views_total", outcome="rate_limited"),
        "flushed": value(after, "recommender_views_total", outcome="flushed"),
        "impressions": value(after, "recommender_box_events_total", kind="impression", box="more_like_this"),
        "clicks": value(after, "recommender_box_events_total", kind="click", box="more_like_this"),
        "reload failures": value(after, "recommender_index_reload_failures_total"),
    }
    assert moved == {
        "accepted": 3, "bot": 1, "rate_limited": 1, "flushed": 3, "impressions": 1, "clicks": 1,
        "reload failures": 1,
    }  # fmt: skip
    assert value(after, "recommender_http_requests_total", endpoint="api.related", status="200") == 1
    assert value(after, "recommender_http_requests_total", endpoint="api.related", status="404") == 1
    assert value(after, "recommender_http_requests_total", endpoint="unmatched", status="404") == 1
    assert value(after, "recommender_http_request_duration_seconds_count", endpoint="api.related") == 2
    # Buckets below 5 ms, where a healthy worker's answers fall (the library's default starts there).
    bucket = (
        "recommender_http_request_duration_seconds_bucket",
        frozenset({"endpoint": "api.related", "le": "0.001"}.items()),
    )
    assert bucket in after
    assert value(after, "recommender_http_requests_total", endpoint="api.events", status="429") == 1
    assert 0 < value(after, "recommender_index_age_seconds") < 7 * 86400
    text = client.get("/metrics").get_data(as_text=True)
    assert "no-such-article-42" not in text and "/no/such/path" not in text  # endpoints, never paths


def test_views_dropped_and_failed_flushes_are_counted(
    make_app: AppFactory, small_index: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    if redis_server.process is None:
        redis_server.start()
    app = make_app(
        small_index, tmp_path, POPULARITY_URL=redis_server.url, POPULARITY_FLUSH_SECONDS=0, POPULARITY_MAX_PENDING=2
    )
    client = app.test_client()
    popularity = app.extensions["recommender.popularity"]
    try:
        redis_server.stop()
        for number in range(3):
            assert client.post("/api/v1/events", json=view("space-1", f"r{number}"), headers=BROWSER).status_code == 202
        popularity.recorder.flush()  # the store is down: kept, and counted as a failed flush
        down = scrape(client)
        assert value(down, "recommender_views_total", outcome="dropped") == 1
        assert value(down, "recommender_flush_errors_total") == 1
        assert value(down, "recommender_views_total", outcome="flushed") == 0
        redis_server.start()
        popularity.recorder.flush()
        assert value(scrape(client), "recommender_views_total", outcome="flushed") == 2
    finally:
        if redis_server.process is None:
            redis_server.start()


def test_metrics_off_means_no_endpoint(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path, RECOMMENDER_METRICS="off")
    response = app.test_client().get("/metrics")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert "recommender.metrics" not in app.extensions


def test_two_apps_in_one_process_count_apart(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    """No global registry: each app has its own series."""
    first, second = make_app(small_index, tmp_path / "a"), make_app(small_index, tmp_path / "b")
    first.test_client().get("/api/v1/articles/space-1/related")
    counted = value(
        scrape(second.test_client()), "recommender_http_requests_total", endpoint="api.related", status="200"
    )
    assert counted == 0
