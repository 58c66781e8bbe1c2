"""What readers click: impressions and clicks validated like views, counted per hour, reported with CTR."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.cli import main
from tests.conftest import AppFactory, FakeClock

TOKEN = "editor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str):
    app = make_app(
        small_index, tmp_path, POPULARITY_URL=popularity_url, RECOMMENDER_ADMIN_TOKEN=TOKEN, CLOCK=FakeClock(),
        POPULARITY_FLUSH_SECONDS=0,
    )  # fmt: skip
    return app


def send(client, event: dict, headers: dict = BROWSER):
    return client.post("/api/v1/events", json=event, headers=headers)


IMPRESSION = {
    "type": "impression",
    "article_id": "football-1",
    "box": "more_like_this",
    "ids": ["football-3", "football-2", "space-1"],
    "reasons": ["similar", "similar", "recent"],
    "index_version": "v1",
}
CLICK = {
    "type": "click",
    "article_id": "football-1",
    "target_id": "football-2",
    "box": "more_like_this",
    "position": 2,
    "reason": "similar",
    "index_version": "v1",
}


def rows(client, query: str = "") -> list[dict]:
    response = client.get(f"/api/v1/reports/clicks?{query}", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def test_impressions_and_clicks_are_counted_per_position_and_reported(app) -> None:
    client = app.test_client()
    for _ in range(4):
        assert send(client, IMPRESSION).status_code == 202
    assert send(client, CLICK).status_code == 202
    report = rows(client, "window=24h&group=box,position,reason")
    assert {(r["position"], r["reason"]): (r["impressions"], r["clicks"], r["ctr"]) for r in report} == {
        (1, "similar"): (4, 0, 0.0),
        (2, "similar"): (4, 1, 0.25),
        (3, "recent"): (4, 0, 0.0),
    }
    by_reason = rows(client, "group=reason")
    assert {r["reason"]: r["impressions"] for r in by_reason} == {"similar": 8, "recent": 4}
    by_version = rows(client, "window=7d&group=index_version")
    assert by_version == [{"index_version": "v1", "impressions": 12, "clicks": 1, "ctr": round(1 / 12, 4)}]


def test_bots_are_not_counted(app) -> None:
    client = app.test_client()
    response = send(client, CLICK, {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert response.status_code == 202 and response.get_json()["status"] == "ignored_bot"
    assert rows(client) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"box": "sidebar"}, "invalid_event"),
        ({"position": 0}, "invalid_event"),
        ({"position": -1}, "invalid_event"),
        ({"position": "2"}, "invalid_event"),
        ({"target_id": "nope"}, "unknown_article"),
        ({"article_id": "nope"}, "unknown_article"),
        ({"reason": "because"}, "invalid_event"),
        ({"index_version": "v1 <script>"}, "invalid_event"),
    ],
)
def test_bad_clicks_are_400_and_store_nothing(app, change: dict, error: str) -> None:
    client = app.test_client()
    response = send(client, {**CLICK, **change})
    assert response.status_code == 400 and response.get_json()["error"] == error
    assert rows(client) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"ids": ["football-3", "nope", "space-1"]}, "unknown_article"),
        ({"reasons": ["similar"]}, "invalid_event"),
        ({"ids": []}, "invalid_event"),
        ({"box": "footer"}, "invalid_event"),
    ],
)
def test_bad_impressions_are_400_and_store_nothing(app, change: dict, error: str) -> None:
    client = app.test_client()
    response = send(client, {**IMPRESSION, **change})
    assert response.status_code == 400 and response.get_json()["error"] == error
    assert rows(client) == []


def test_the_report_needs_the_token_and_valid_parameters(app) -> None:
    client = app.test_client()
    assert client.get("/api/v1/reports/clicks").status_code == 401
    for query in ("window=1h", "group=colour", "group="):
        response = client.get(f"/api/v1/reports/clicks?{query}", headers=AUTH)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_parameter"


def test_the_report_command_prints_the_same_rows(
    make_app: AppFactory, small_index: Path, tmp_path: Path, capsys
) -> None:
    url = f"sqlite:///{tmp_path / 'views.sqlite3'}"
    app = make_app(small_index, tmp_path, POPULARITY_URL=url, POPULARITY_FLUSH_SECONDS=0)
    client = app.test_client()
    send(client, IMPRESSION)
    send(client, CLICK)
    app.extensions["recommender"].close()  # as a worker that stops: what it holds is written
    assert main(["report", "clicks", "--window", "7d", "--popularity-url", url, "--group", "position"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("clicks in the last 7d")
    assert sorted(line.split() for line in lines[2:]) == [  # equal impressions: the order is not the point
        ["1", "1", "0", "0.00%"],
        ["2", "1", "1", "100.00%"],
        ["3", "1", "0", "0.00%"],
    ]
