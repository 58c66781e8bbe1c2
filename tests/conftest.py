"""Shared fixtures: a small hand-written corpus whose right neighbours are obvious,
an index built from it, the bundled corpus, and the Flask app and client."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from recommender.corpus import load_corpus
from recommender.index import build_index, save_index
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


@pytest.fixture()
def app(small_index: Path):
    return create_app({"RECOMMENDER_INDEX": str(small_index), "TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()
