"""Replicas: `recommender pull SOURCE_ROOT` between two index roots, and a replica's workers switching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.cli import main
from recommender.indexing.storage import load_index
from recommender.serving.publish import current_dir, list_versions
from tests.conftest import BUNDLED_CORPUS, AppFactory, write_jsonl

ROWS = [json.loads(line) for line in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()]


def build(rows: list, root: Path, tmp_path: Path) -> str:
    corpus = write_jsonl(tmp_path / f"export-{len(rows)}.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--index-root", str(root), "--force"]) == 0
    return load_index(current_dir(root)).version


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    source = tmp_path / "build-machine"
    build(ROWS, source, tmp_path)
    return source


def serving(root: Path) -> str:
    return load_index(current_dir(root)).version


def test_pull_copies_the_current_version_then_follows_new_builds_and_rollbacks(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replica = tmp_path / "replica"
    first = serving(source)
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    assert serving(replica) == first
    assert capsys.readouterr().out.startswith(f"current version is now {first} (copied and checked, 293 articles)")
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    assert capsys.readouterr().out.strip() == f"current version is still {first} (already here)"

    second = build(ROWS[:285], source, tmp_path)
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    assert serving(replica) == second
    assert [version.version for version in list_versions(replica)] == [first, second]

    assert main(["rollback", "--index-root", str(source)]) == 0
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    assert serving(replica) == first
    assert "already here" in capsys.readouterr().out


def test_a_damaged_or_half_copied_source_is_refused_and_the_replica_keeps_serving(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replica = tmp_path / "replica"
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    first = serving(replica)
    build(ROWS[:285], source, tmp_path)
    half_copied = current_dir(source) / "neighbour_ids.npy"
    half_copied.write_bytes(half_copied.read_bytes()[:100])
    capsys.readouterr()
    assert main(["pull", str(source), "--index-root", str(replica)]) == 1
    assert "nothing was switched" in capsys.readouterr().err
    assert serving(replica) == first
    assert [path.name for path in (replica / "versions").iterdir()] == [current_dir(replica).name]

    assert main(["pull", str(tmp_path / "nowhere"), "--index-root", str(replica)]) == 1
    assert "not an index root" in capsys.readouterr().err
    assert serving(replica) == first


def test_a_replicas_service_switches_to_the_pulled_version(make_app: AppFactory, source: Path, tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    app = make_app(replica, tmp_path)
    client = app.test_client()
    before = client.get("/healthz").get_json()["index_version"]
    newer = build(ROWS[:285], source, tmp_path)
    assert main(["pull", str(source), "--index-root", str(replica)]) == 0
    app.extensions["recommender.holder"].refresh()  # what the watcher does every few seconds
    assert before != newer
    assert client.get("/healthz").get_json()["index_version"] == newer
