"""The real thing: gunicorn serving ``service:create_app()`` on a free loopback port."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_until_serving(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"{base}/healthz")
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture()
def server(bundled_index: Path, tmp_path: Path):
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = tmp_path / "gunicorn.log"
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "service:create_app()"]
    environment = {
        **os.environ,
        "RECOMMENDER_INDEX": str(bundled_index),
        "POPULARITY_URL": f"sqlite:///{tmp_path / 'views.sqlite3'}",
        "RECOMMENDER_CHANGES": str(tmp_path / "changes.sqlite3"),
    }
    with log.open("wb") as sink, subprocess.Popen(command, env=environment, stdout=sink, stderr=sink) as process:
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(base, process, log)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_gunicorn_serves_related_lists(server: str) -> None:
    article_id = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
    status, body = get(f"{server}/api/v1/articles/{article_id}/related")
    assert status == 200 and len(body["items"]) == 5
    assert {"id", "title", "url", "section", "published_at", "score"} == set(body["items"][0])
    status, body = get(f"{server}/api/v1/articles/nope/related")
    assert (status, body["error"]) == (404, "article_not_found")
    status, body = get(f"{server}/healthz")
    assert status == 200 and body["article_count"] == 293
