"""Shared fixtures: a small hand-written corpus whose right neighbours are obvious,
an index built from it, the bundled corpus, and the Flask app and client."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bench.harness import free_port
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index
from service import create_app

REPO = Path(__file__).resolve().parent.parent
BUNDLED_CORPUS = REPO / "corpus" / "wikinews.jsonl"

TOPICS = {
    "football": [
        "The striker scored twice as the league leaders won the derby match at the stadium.",
        "A late goal from the midfielder settled the cup match; the goalkeeper saved a penalty.",
        "The football club sacked its manager after a run of league defeats and a cup exit.",
    ],
    "election": [
        "Voters queued at polling stations as the general election went to a second ballot.",
        "The opposition candidate conceded the election after the ballot count in parliament seats.",
        "Parliament will sit after the election; the coalition needs a majority of seats and voters.",
    ],
    "space": [
        "The rocket lifted off carrying astronauts to the orbiting space station.",
        "Astronauts docked their capsule with the space station after two days in orbit.",
        "The space agency delayed the rocket launch; the capsule will carry astronauts to orbit.",
    ],
    "baking": [
        "Knead the dough, let the bread rise, then bake it in a hot oven with flour on top.",
        "This recipe for sourdough bread needs flour, water, salt and a very hot oven.",
        "Bakers say the oven temperature and the flour decide whether the bread will rise.",
    ],
}


def article_rows() -> list[dict[str, Any]]:
    rows = []
    for section, bodies in TOPICS.items():
        for number, body in enumerate(bodies, start=1):
            rows.append(
                {
                    "id": f"{section}-{number}",
                    "title": f"{section.title()} story {number}",
                    "body": body,
                    "section": section,
                    "url": f"https://news.example/{section}/{number}",
                    "published_at": f"2026-11-{number:02d}T08:00:00+00:00",
                    "tags": [section],
                }
            )
    first_space = dict(rows[6])
    # The same story republished under another id, and a lightly corrected copy:
    # neither may appear in the original's list, nor the original in theirs.
    rows.append(dict(first_space, id="space-1-republished"))
    rows.append(dict(first_space, id="space-1-corrected", body=first_space["body"] + " Corrected."))
    return rows


def write_jsonl(path: Path, rows: Iterable[object]) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "small.jsonl", article_rows())


@pytest.fixture(scope="session")
def small_index(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_index(build_index(load_corpus(small_corpus)), tmp_path_factory.mktemp("index") / "small")


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_index(build_index(load_corpus(BUNDLED_CORPUS)), tmp_path_factory.mktemp("index") / "bundled")


class FakeClock:
    """Injectable time: tests move it instead of sleeping."""

    def __init__(self, now: float = 1_795_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


class RedisServer:
    """A real redis-server on a free loopback port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: apt-get install redis-server (.ci/run does)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def popularity_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each popularity test runs once on SQLite and once on a real Redis."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'views.sqlite3'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    if server.process is None:
        server.start()
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    client.close()
    return server.url


class AppFactory:
    """Makes apps for one test and closes every one at its teardown, so that no watcher, flusher or
    refresher thread and no store connection outlives the test that started it."""

    def __init__(self) -> None:
        self.made: list[Flask] = []

    def __call__(self, index: Path, store_dir: Path, **config: Any) -> Flask:
        """An app serving ``index`` with its stores in ``store_dir``; ``config`` overrides app config keys."""
        settings = {
            "RECOMMENDER_INDEX": str(index),
            "POPULARITY_URL": f"sqlite:///{store_dir / 'views.sqlite3'}",
            "RECOMMENDER_CHANGES": str(store_dir / "changes.sqlite3"),
            "RELOAD_INTERVAL_SECONDS": 0,  # tests call refresh() themselves
            "TESTING": True,
            **config,
        }
        return self.adopt(create_app(settings, environ={}))  # the developer's environment is not the test's

    def adopt(self, app: Flask) -> Flask:
        """Close an app made some other way (create_app from the environment) at teardown too."""
        self.made.append(app)
        return app

    def close_all(self) -> None:
        for app in reversed(self.made):
            app.extensions["recommender"].close()


@pytest.fixture()
def make_app() -> Iterator[AppFactory]:
    factory = AppFactory()
    yield factory
    factory.close_all()


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path) -> Flask:
    return make_app(small_index, tmp_path)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()
