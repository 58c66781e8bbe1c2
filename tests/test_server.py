"""The real thing: gunicorn serving ``service:create_app()`` on a free loopback port."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recommender.cli import main
from recommender.index import load_index
from recommender.publish import current_dir
from tests.conftest import BUNDLED_CORPUS, free_port, write_jsonl


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


@contextmanager
def gunicorn_serving(index: Path, tmp_path: Path, **environment: str) -> Iterator[str]:
    """gunicorn with 2 workers serving ``index`` on a free port; yields its base URL, then stops it."""
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = tmp_path / "gunicorn.log"
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "service:create_app()"]
    environment = {
        **os.environ,
        "RECOMMENDER_INDEX": str(index),
        "POPULARITY_URL": f"sqlite:///{tmp_path / 'views.sqlite3'}",
        "RECOMMENDER_CHANGES": str(tmp_path / "changes.sqlite3"),
        **environment,
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


@pytest.fixture()
def server(bundled_index: Path, tmp_path: Path) -> Iterator[str]:
    with gunicorn_serving(bundled_index, tmp_path) as base:
        yield base


def test_gunicorn_serves_related_lists(server: str) -> None:
    article_id = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
    status, body = get(f"{server}/api/v1/articles/{article_id}/related")
    assert status == 200 and len(body["items"]) == 5
    assert {"id", "title", "url", "section", "published_at", "score"} == set(body["items"][0])
    status, body = get(f"{server}/api/v1/articles/nope/related")
    assert (status, body["error"]) == (404, "article_not_found")
    status, body = get(f"{server}/healthz")
    assert status == 200 and body["article_count"] == 293


def test_running_workers_pick_up_a_new_version_without_failing_a_request(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--index-root", str(root)]) == 0
    rows = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    smaller = write_jsonl(tmp_path / "export.jsonl", rows[:280])
    article_id = json.loads(rows[0])["id"]
    with gunicorn_serving(root, tmp_path, RELOAD_INTERVAL_SECONDS="1") as base:
        assert main(["build", "--corpus", str(smaller), "--index-root", str(root)]) == 0
        published = load_index(current_dir(root)).version
        started = time.monotonic()
        seen: dict[int, str] = {}
        failures = 0
        while time.monotonic() - started < 10:
            status, _ = get(f"{base}/api/v1/articles/{article_id}/related")
            failures += status != 200
            status, health = get(f"{base}/healthz")
            failures += status != 200
            seen[health["worker_pid"]] = health["index_version"]
            if len(seen) == 2 and set(seen.values()) == {published}:
                break
            time.sleep(0.05)
        assert failures == 0
        assert set(seen.values()) == {published}, seen
        assert len(seen) == 2
