import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recommender.cli import main, make_parser
from recommender.indexing.storage import load_index
from tests.conftest import BUNDLED_CORPUS, write_jsonl


def test_build_writes_an_index_and_ends_with_a_summary(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--corpus", str(small_corpus), "--out", str(tmp_path / "index")]) == 0
    out, err = capsys.readouterr()
    index = load_index(tmp_path / "index")
    assert out.strip().splitlines()[-1].startswith(f"published index {index.version}: 14 articles, 0 bad rows")
    assert "neighbours: 14/14 (100%)" in err  # plain log lines when not on a terminal
    assert "reading (MB): 1/1 (100%)" in err  # the corpus's reading is a stage too


def test_build_names_bad_rows_and_still_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()
    rows.insert(10, '{"id": "broken", "title": "no body"}')
    rows.insert(100, "{not json")
    corpus = write_jsonl(tmp_path / "export.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    _, err = capsys.readouterr()
    assert f"bad row: {corpus}:11: field 'body' must be a non-empty string" in err
    assert f"bad row: {corpus}:101: invalid JSON" in err
    assert load_index(tmp_path / "index").manifest["corpus"]["bad_rows"] == 2


def test_build_of_only_bad_rows_fails_and_keeps_the_old_index(
    small_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "index"
    main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(target)])
    before = load_index(target).version
    corpus = write_jsonl(tmp_path / "broken.jsonl", ["<html>", "{}", json.dumps({"id": "x"})])
    assert main(["build", "--corpus", str(corpus), "--out", str(target)]) == 1
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == f"error: {corpus}: no valid article in 3 rows"
    assert load_index(target).version == before


def test_build_refuses_more_than_one_percent_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()[:100] + ["x", "y"]
    corpus = write_jsonl(tmp_path / "export.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 1
    assert "2 of 102 rows are bad" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_a_refused_build_names_its_first_20_bad_rows_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()[:100] + [f"broken {n}" for n in range(25)]
    corpus = write_jsonl(tmp_path / "export.jsonl", rows)
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    named = [line for line in err.splitlines() if line.startswith(f"bad row: {corpus}:")]
    assert len(named) == 20 and named[0] == f"bad row: {corpus}:101: invalid JSON: Expecting value"
    assert "... and 5 more bad rows" in err and "25 of 125 rows are bad" in err and "nothing was published" in err


def test_build_out_refuses_an_index_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--index-root", str(root)]) == 0
    (root / "changes.sqlite3").write_bytes(b"the day's changes")
    before = sorted(path.name for path in root.rglob("*"))
    capsys.readouterr()
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(root)]) == 1
    assert f"--index-root {root}" in capsys.readouterr().err
    assert sorted(path.name for path in root.rglob("*")) == before
    assert (root / "changes.sqlite3").read_bytes() == b"the day's changes"


def test_build_out_refuses_a_directory_that_is_not_an_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("keep me")
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(tmp_path / "site")]) == 1
    assert "neither empty nor an index directory" in capsys.readouterr().err
    assert (tmp_path / "site" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(tmp_path / "empty")]) == 0
    assert main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(tmp_path / "empty")]) == 0  # its own index


def test_build_of_a_missing_corpus_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--corpus", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "index")]) == 1
    assert "no such corpus file" in capsys.readouterr().err


def test_evaluate_prints_project_baseline_and_random(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.loads(line) for line in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines()[:120]]
    for number, row in enumerate(rows):
        row["section"] = "even" if number % 2 else "odd"
    corpus = write_jsonl(tmp_path / "labeled.jsonl", rows)
    assert main(["evaluate", "--corpus", str(corpus), "--k", "5"]) == 0
    out = capsys.readouterr().out
    assert "precision@5" in out and "120 with a section" in out
    for name in ("project settings", "TfidfVectorizer() defaults", "random"):
        assert name in out


def test_console_script_entry_point(small_corpus: Path, tmp_path: Path) -> None:
    recommender = Path(sys.executable).parent / "recommender"
    result = subprocess.run(
        [str(recommender), "build", "--corpus", str(small_corpus), "--out", str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "published index" in result.stdout
    usage = subprocess.run([str(recommender), "build"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "--corpus" in usage.stderr


def test_every_command_has_help_and_is_in_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    listing = capsys.readouterr().out
    subcommands = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    documented = set(re.findall(r"\brecommender ([a-z][a-z-]+)\b(?!/)", readme))
    assert documented == set(subcommands), "the README documents exactly the commands the parser has"
    for command, parser in subcommands.items():
        assert re.search(rf"^    {re.escape(command)}\b", listing, re.MULTILINE), f"{command} missing from --help"
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: recommender {command}")
        assert parser.description, f"{command} has no description"


def test_progress_shows_each_stages_time_and_what_it_has_left() -> None:
    from io import StringIO

    from recommender.cli.common import Progress

    now = [0.0]
    stream = StringIO()
    progress = Progress(stream, clock=lambda: now[0])
    progress("vectorising", 0, 1000)
    now[0] = 30.0
    progress("vectorising", 250, 1000)  # 30 s for a quarter: 90 s to go
    now[0] = 130.0
    progress("vectorising", 1000, 1000)
    progress("neighbours", 0, 10)
    now[0] = 131.0
    progress("neighbours", 5, 10)
    assert stream.getvalue().splitlines() == [
        "vectorising: 0/1000 (0%) 0.0s",
        "vectorising: 250/1000 (25%) 30.0s ETA 1m30s",
        "vectorising: 1000/1000 (100%) 2m10s",
        "neighbours: 0/10 (0%) 0.0s",
        "neighbours: 5/10 (50%) 1.0s ETA 1.0s",
    ]


def test_the_commands_read_the_services_settings_and_name_a_bad_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOMMENDER_POPULARITY_URL", "mysql://db/views")
    assert main(["report", "clicks"]) == 2
    assert capsys.readouterr().err.startswith("error: RECOMMENDER_POPULARITY_URL='mysql://db/views': ")
