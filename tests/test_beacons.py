"""POST /api/v1/events has two ways in: the WSGI layer for a body of declared length (nearly all of
them), the Flask view for a chunked one. A site must not be able to tell them apart."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from recommender.popularity.views import HOUR
from tests.conftest import AppFactory, FakeClock

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
SITE = "https://news.example"
VIEW = {"type": "view", "article_id": "space-2", "visitor_id": "reader-1"}
IMPRESSION = {
    "type": "impression",
    "article_id": "football-1",
    "box": "more_like_this",
    "ids": ["football-3", "football-2"],
    "reasons": ["similar", "similar"],
    "index_version": "v1",
}

# (name, body, headers): every outcome a beacon can have.
BEACONS = [
    ("view", json.dumps(VIEW).encode(), {}),
    ("view from the site", json.dumps(VIEW).encode(), {"Origin": SITE}),
    ("anonymous view", json.dumps({"type": "view", "article_id": "space-3"}).encode(), {}),
    ("crawler", json.dumps(VIEW).encode(), {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}),
    ("impression", json.dumps(IMPRESSION).encode(), {}),
    ("not JSON", b"{not json", {}),
    ("nested too deep", b"[" * 4000, {}),
    ("unknown article", json.dumps({"type": "view", "article_id": "nope"}).encode(), {}),
    ("bad visitor id", json.dumps({**VIEW, "visitor_id": "a b"}).encode(), {}),
    ("lone surrogate", b'{"type": "view", "article_id": "space-2", "visitor_id": "\\udc80"}', {}),
    ("too large", json.dumps({**VIEW, "padding": "x" * 5000}).encode(), {}),
    ("beyond the app's limit", json.dumps({**VIEW, "padding": "x" * (2 << 20)}).encode(), {}),
    ("other site", json.dumps(VIEW).encode(), {"Origin": "https://elsewhere.example"}),
    ("flood", json.dumps(VIEW).encode(), {}),
]
FLOODER = "192.0.2.1"  # sends the first three beacons (its burst) and the flood; every other one has its own address
CHUNKED = {"CONTENT_LENGTH": "", "wsgi.input_terminated": True}
IGNORED_HEADERS = {"content-length", "transfer-encoding", "date"}


def answers(make_app: AppFactory, small_index: Path, store_dir: Path, chunked: bool) -> tuple[list, dict]:
    clock = FakeClock()
    app = make_app(
        small_index, store_dir, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0, RECOMMENDER_ALLOWED_ORIGINS=SITE,
        EVENTS_PER_MINUTE=1, EVENTS_BURST=3,
    )  # fmt: skip
    client = app.test_client()
    seen = []
    for number, (name, body, headers) in enumerate(BEACONS):
        address = FLOODER if number < 3 or name == "flood" else f"198.51.100.{number}"
        headers = {"User-Agent": BROWSER, "Content-Type": "text/plain;charset=UTF-8", **headers}
        sender = {"REMOTE_ADDR": address}
        if chunked:  # as gunicorn passes a chunked body: no length, the stream ends with the body
            headers["Transfer-Encoding"] = "chunked"
            response = client.post("/api/v1/events", input_stream=io.BytesIO(body), environ_base=sender,
                                   environ_overrides=CHUNKED, headers=headers)  # fmt: skip
        else:
            response = client.post("/api/v1/events", data=body, headers=headers, environ_base=sender)
        kept = sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() not in IGNORED_HEADERS)
        seen.append((name, response.status_code, response.get_json(), kept))
    popularity = app.extensions["recommender.popularity"]
    popularity.recorder.flush()
    popularity.clicks.flush()
    hour = int(clock() // HOUR)
    return seen, popularity.store.hourly_counts(hour - 1, hour)


def test_a_beacon_gets_the_same_answer_and_count_either_way(make_app, small_index: Path, tmp_path: Path) -> None:
    layer, layer_counts = answers(make_app, small_index, tmp_path / "layer", chunked=False)
    flask, flask_counts = answers(make_app, small_index, tmp_path / "flask", chunked=True)
    for by_layer, by_flask in zip(layer, flask, strict=True):
        assert by_layer == by_flask
    statuses = {name: status for name, status, _, _ in layer}
    assert statuses == {
        "view": 202, "view from the site": 202, "anonymous view": 202, "crawler": 202, "impression": 202,
        "not JSON": 400, "nested too deep": 400, "unknown article": 400, "bad visitor id": 400,
        "lone surrogate": 400, "too large": 413, "beyond the app's limit": 413, "other site": 403, "flood": 429,
    }  # fmt: skip
    assert dict(layer[1][3])["access-control-allow-origin"] == SITE
    assert dict(layer[-1][3])["retry-after"].isdigit()
    assert layer_counts == flask_counts
    # reader-1's second view of space-2 is the same visit; the crawler's is not a reader's
    assert {article: sum(hours.values()) for article, hours in layer_counts.items()} == {"space-2": 1, "space-3": 1}


@pytest.mark.parametrize("declared", ["", "abc", "-1"])
def test_a_beacon_without_a_usable_length_is_not_lost(make_app, small_index: Path, tmp_path: Path, declared) -> None:
    app = make_app(small_index, tmp_path, POPULARITY_FLUSH_SECONDS=0)
    response = app.test_client().post(
        "/api/v1/events", input_stream=io.BytesIO(json.dumps(VIEW).encode()),
        environ_overrides={**CHUNKED, "CONTENT_LENGTH": declared},
        headers={"User-Agent": BROWSER},
    )  # fmt: skip
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"status": "accepted"}


def test_the_layer_counts_its_answers_in_the_request_metrics(make_app, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path, RECOMMENDER_METRICS="on")
    client = app.test_client()
    for body in (json.dumps(VIEW).encode(), b"{"):
        client.post("/api/v1/events", data=body, headers={"User-Agent": BROWSER})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'recommender_http_requests_total{endpoint="api.events",status="202"} 1.0' in text
    assert 'recommender_http_requests_total{endpoint="api.events",status="400"} 1.0' in text
    assert 'recommender_views_total{outcome="accepted"} 1.0' in text
    assert 'recommender_http_request_duration_seconds_count{endpoint="api.events"} 2.0' in text
