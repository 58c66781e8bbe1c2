"""recommender import-views through its entry point: what it reports, where it counts, and its errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recommender.cli import main
from recommender.indexing.corpus import parse_article
from recommender.popularity.stores import open_store
from recommender.popularity.views import HOUR
from recommender.serving.changes import ChangeLog
from tests.access_logs import GOOGLEBOT, NINE, NINE_HOUR, line, write_log
from tests.conftest import AppFactory, FakeClock


@pytest.fixture()
def no_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A change log path of this test's own, so that nothing beside the shared index is read or written."""
    path = tmp_path / "changes.sqlite3"
    monkeypatch.setenv("RECOMMENDER_CHANGES", str(path))
    return path


def test_the_command_imports_and_reports_every_reason(
    small_index: Path, tmp_path: Path, popularity_url: str, no_changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(
        tmp_path / "access.log",
        [
            line("09:15:02", "/football/1?utm_source=feed"),
            line("09:20:00", "/football/1/"),
            line("09:21:00", "/football/1", agent=GOOGLEBOT),
            line("09:22:00", "/football/1", method="POST"),
            line("09:23:00", "/football/1", status=404),
            line("09:24:00", "/about"),
            "not a log line",
            line("10:05:00", "/election/2", ip="198.51.100.7"),
        ],
    )
    args = ["import-views", str(log), "--index", str(small_index), "--popularity-url", popularity_url]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"malformed line: {log}:7: not in the combined log format" in err
    lines = out.splitlines()
    assert lines[0].startswith(
        "read 8 lines from 1 files, counted 2 views in hours 2026-11-25 09:00 to 2026-11-25 10:00 UTC -> "
    )
    assert lines[1] == "skipped 6 lines:"
    counts = {entry[:17].strip(): int(entry[17:27]) for entry in lines[2:]}
    assert counts == {
        "malformed": 1,
        "method": 1,
        "status": 1,
        "not an article": 1,
        "bot": 1,
        "duplicate": 1,
    }
    store = open_store(popularity_url)
    try:
        assert store.hourly_counts(NINE_HOUR, NINE_HOUR + 1) == {
            "football-1": {NINE_HOUR: 1},
            "election-2": {NINE_HOUR + 1: 1},
        }
    finally:
        store.close()


def test_republished_copies_sharing_a_url_are_named_and_views_go_to_the_first(
    small_index: Path, tmp_path: Path, no_changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'views.sqlite3'}"
    log = write_log(tmp_path / "access.log", [line("09:00:00", "/space/1")])
    assert main(["import-views", str(log), "--index", str(small_index), "--popularity-url", url]) == 0
    err = capsys.readouterr().err
    assert "warning: space-1-republished has the URL of space-1" in err
    assert "warning: space-1-corrected has the URL of space-1" in err
    store = open_store(url)
    try:
        assert store.hourly_counts(NINE_HOUR, NINE_HOUR) == {"space-1": {NINE_HOUR: 1}}
    finally:
        store.close()


def test_articles_added_since_the_build_are_matched_too(
    small_index: Path, tmp_path: Path, no_changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = ChangeLog(no_changes)
    changes.put(parse_article({"id": "breaking-1", "title": "Breaking", "body": "News.", "url": "/breaking/1"}))
    changes.close()
    url = f"sqlite:///{tmp_path / 'views.sqlite3'}"
    log = write_log(tmp_path / "access.log", [line("09:00:00", "/breaking/1")])
    assert main(["import-views", str(log), "--index", str(small_index), "--popularity-url", url]) == 0
    assert "counted 1 views" in capsys.readouterr().out
    store = open_store(url)
    try:
        assert store.hourly_counts(NINE_HOUR, NINE_HOUR) == {"breaking-1": {NINE_HOUR: 1}}
    finally:
        store.close()


def test_a_missing_file_is_an_error_and_nothing_is_written(
    small_index: Path, tmp_path: Path, no_changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'views.sqlite3'}"
    log = write_log(tmp_path / "access.log", [line("09:00:00", "/football/1")])
    missing = tmp_path / "access.log.1.gz"
    assert main(["import-views", str(log), str(missing), "--index", str(small_index), "--popularity-url", url]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == f"error: {missing}: no such access log" and out == ""
    store = open_store(url)
    try:
        assert store.hourly_counts(NINE_HOUR - 24, NINE_HOUR + 24) == {}
    finally:
        store.close()


def test_a_bad_store_url_is_an_error(
    small_index: Path, tmp_path: Path, no_changes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "access.log", [line("09:00:00", "/football/1")])
    assert main(["import-views", str(log), "--index", str(small_index), "--popularity-url", "mysql://x"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: RECOMMENDER_POPULARITY_URL 'mysql://x'")


def test_the_popular_list_shows_imported_views(
    make_app: AppFactory, small_index: Path, tmp_path: Path, popularity_url: str, no_changes: Path
) -> None:
    log = write_log(
        tmp_path / "access.log.gz",
        [line("09:00:00", "/space/2", ip=f"198.51.100.{n}") for n in range(3)]
        + [line("09:30:00", "/baking/1", ip=f"198.51.100.{n}") for n in range(2)]
        + [line("10:00:00", "/baking/1", agent=GOOGLEBOT)] * 5,
    )
    args = ["import-views", str(log), "--index", str(small_index), "--popularity-url", popularity_url]
    assert main(args) == 0
    app = make_app(small_index, tmp_path, POPULARITY_URL=popularity_url, CLOCK=FakeClock(NINE + 2 * HOUR))
    body = app.test_client().get("/api/v1/popular").get_json()
    assert body["source"] == "views"
    viewed = [(item["id"], item["views"]) for item in body["items"] if item["reason"] == "popular"]
    assert viewed == [("space-2", 3), ("baking-1", 2)]


def test_by_default_the_store_is_the_one_the_service_uses_beside_the_index(
    make_app: AppFactory, small_index: Path, tmp_path: Path, no_changes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = shutil.copytree(small_index, tmp_path / "site" / "index")
    monkeypatch.delenv("POPULARITY_URL", raising=False)
    monkeypatch.delenv("RECOMMENDER_POPULARITY_URL", raising=False)
    monkeypatch.setenv("RECOMMENDER_INDEX", str(index))
    log = write_log(tmp_path / "access.log", [line("09:00:00", "/election/3")])
    assert main(["import-views", str(log)]) == 0
    assert (tmp_path / "site" / "popularity.sqlite3").is_file()
    app = make_app(index, tmp_path, POPULARITY_URL=None, CLOCK=FakeClock(NINE + HOUR))
    items = app.test_client().get("/api/v1/popular").get_json()["items"]
    assert [(item["id"], item["views"]) for item in items if item["reason"] == "popular"] == [("election-3", 1)]
