"""A page of an origin not in RECOMMENDER_ALLOWED_ORIGINS: the log says what to set, once per origin."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from service.cors import RefusedOriginHints
from tests.conftest import AppFactory

LISTED = "https://news.example"


@pytest.fixture()
def client(make_app: AppFactory, small_index: Path, tmp_path: Path):
    app = make_app(small_index, tmp_path, RECOMMENDER_ALLOWED_ORIGINS=LISTED)
    return app.test_client()


def hints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "service.cors" and r.levelno == logging.WARNING]


def test_an_unlisted_origin_is_named_once_with_the_setting(client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="service.cors")
    for _ in range(3):
        response = client.get("/api/v1/articles/space-1/related", headers={"Origin": "https://blog.example"})
        assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
    client.options("/api/v1/events", headers={"Origin": "https://blog.example"})
    client.post("/api/v1/events", json={"type": "view", "article_id": "space-1"}, headers={"Origin": "https://x.test"})
    client.get("/api/v1/articles/space-1/related", headers={"Origin": LISTED})
    client.get("/api/v1/articles/space-1/related", headers={"Origin": "http://localhost"})  # the service's own page
    client.get("/healthz", headers={"Origin": "https://elsewhere.example"})  # not the API: no CORS, no hint
    logged = hints(caplog)
    assert len(logged) == 2, logged
    assert "https://blog.example" in logged[0] and "https://x.test" in logged[1]
    assert all("RECOMMENDER_ALLOWED_ORIGINS" in message for message in logged)


def test_the_origins_remembered_are_capped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="service.cors")
    remembered = RefusedOriginHints(limit=3)
    for _ in range(2):
        for number in range(10):
            remembered.refused(f"https://site{number}.example")
    logged = hints(caplog)
    assert len(logged) == 4 and "no more hints" in logged[-1], logged
