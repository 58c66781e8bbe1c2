"""The real thing: gunicorn serving ``service:create_app()`` on a free loopback port."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import get_json, gunicorn
from recommender.cli import main
from recommender.indexing.storage import load_index
from recommender.serving.publish import current_dir
from tests.conftest import BUNDLED_CORPUS, AppFactory, RedisServer, write_jsonl


@pytest.fixture()
def server(bundled_index: Path, tmp_path: Path) -> Iterator[str]:
    with gunicorn(bundled_index, tmp_path, workers=2, worker_class="sync") as running:
        yield running.base


def test_gunicorn_serves_related_lists(server: str) -> None:
    article_id = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
    status, body = get_json(f"{server}/api/v1/articles/{article_id}/related")
    assert status == 200 and len(body["items"]) == 5
    assert set(body["items"][0]) == set("id title url section published_at image_url excerpt score reason".split())
    status, body = get_json(f"{server}/api/v1/articles/nope/related")
    assert (status, body["error"]) == (404, "article_not_found")
    status, body = get_json(f"{server}/healthz")
    assert status == 200 and body["article_count"] == 293


def test_a_bad_setting_fails_the_worker_boot_with_its_message(small_index: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="gunicorn did not start") as failed:
        with gunicorn(small_index, tmp_path, workers=1, RECOMMENDER_POPULAR_MAX_AGE="-5"):
            pass
    assert "ConfigError: RECOMMENDER_POPULAR_MAX_AGE='-5': must be 0 or more" in str(failed.value)
    assert "Worker failed to boot" in str(failed.value)


def test_running_workers_pick_up_a_new_version_without_failing_a_request(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--index-root", str(root)]) == 0
    rows = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    smaller = write_jsonl(tmp_path / "export.jsonl", rows[:280])
    article_id = json.loads(rows[0])["id"]
    with gunicorn(root, tmp_path, RECOMMENDER_RELOAD_INTERVAL_SECONDS="1") as running:
        base = running.base
        assert main(["build", "--corpus", str(smaller), "--index-root", str(root)]) == 0
        published = load_index(current_dir(root)).version
        started = time.monotonic()
        seen: dict[int, str] = {}
        failures = 0
        while time.monotonic() - started < 10:
            status, _ = get_json(f"{base}/api/v1/articles/{article_id}/related")
            failures += status != 200
            status, health = get_json(f"{base}/healthz")
            failures += status != 200
            seen[health["worker_pid"]] = health["index_version"]
            if len(seen) == 2 and set(seen.values()) == {published}:
                break
            time.sleep(0.05)
        assert failures == 0
        assert set(seen.values()) == {published}, seen
        assert len(seen) == 2


def send(method: str, url: str, body: dict | None, token: str) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_writes_are_decided_by_the_shared_log_whichever_worker_takes_them(bundled_index: Path, tmp_path: Path) -> None:
    """Before: a DELETE right after a PUT answered 404 whenever the other worker, not yet reloaded, took it."""
    token = "editor-token"
    # No worker catches up by itself.
    environment = {"RECOMMENDER_ADMIN_TOKEN": token, "RECOMMENDER_RELOAD_INTERVAL_SECONDS": "3600"}
    with gunicorn(bundled_index, tmp_path, workers=2, worker_class="sync", **environment) as running:
        crossed = 0
        for number in range(30):
            url = f"{running.base}/api/v1/articles/t{number}"
            article = {"title": f"Test story {number}", "body": "Astronauts docked with the space station."}
            status, put = send("PUT", url, article, token)
            assert (status, put["status"]) == (201, "created")
            status, again = send("PUT", url, article, token)
            assert (status, again["status"]) == (200, "updated"), again
            status, deleted = send("DELETE", url, None, token)
            assert (status, deleted.get("status")) == (200, "deleted"), deleted
            status, gone = send("DELETE", url, None, token)
            assert (status, gone["error"]) == (404, "article_not_found")
            crossed += len({put["worker_pid"], again["worker_pid"], deleted["worker_pid"]}) > 1
        assert crossed, "every write landed on one worker: the test proved nothing"


def test_readyz_is_503_while_the_redis_store_is_down(
    make_app: AppFactory, small_index: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    if redis_server.process is None:
        redis_server.start()
    app = make_app(small_index, tmp_path, POPULARITY_URL=redis_server.url)
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
        redis_server.stop()
        down = client.get("/readyz")
        assert down.status_code == 503 and down.get_json()["error"] == "store_unavailable"
        assert client.get("/healthz").status_code == 200  # liveness: the worker still answers every list
        assert client.get("/api/v1/articles/football-1/related").status_code == 200
    finally:
        redis_server.start()
    assert client.get("/readyz").status_code == 200
