"""What an operator sees of the real service under gunicorn: metrics summed over workers, and the log naming
the index version each worker loaded, switched to, or refused."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.harness import get_json, gunicorn
from recommender.cli import main
from recommender.indexing.storage import load_index
from recommender.serving.publish import current_dir
from tests.conftest import article_rows, write_jsonl
from tests.test_metrics import parse, publish, value

DEADLINE_SECONDS = 30


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE_SECONDS} s"
        time.sleep(0.05)


def scrape(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        assert response.status == 200
        return parse(response.read().decode())


def healthz_count(base: str) -> float:
    return value(scrape(base), "recommender_http_requests_total", endpoint="api.healthz", status="200")


def test_metrics_are_summed_over_the_workers(small_index: Path, tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR unset: deploy/gunicorn.conf.py makes one, so any worker's answer counts all."""
    with gunicorn(small_index, tmp_path, workers=2) as running:
        before = healthz_count(running.base)
        served: Counter[int] = Counter()

        def both_workers_answered() -> bool:
            status, health = get_json(f"{running.base}/healthz")
            assert status == 200
            served[health["worker_pid"]] += 1
            return len(served) == 2

        wait_for(both_workers_answered, "answer from the second worker")
        sent = sum(served.values())
        # Each scrape is a new connection, answered by either worker: all give the sum over both.
        assert {healthz_count(running.base) - before for _ in range(6)} == {sent}, served
    log = running.log.read_text()
    assert "metrics of the workers in" in log and "Traceback" not in log, log[-3000:]


def lines(log: Path, pattern: str) -> dict[str, str]:
    """Worker pid -> the first log line from it matching ``pattern``."""
    found: dict[str, str] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"\[[^\]]+\] \[(\d+)\] \[(?:INFO|ERROR)\] (.*)", line)
        if match and re.search(pattern, match[2]):
            found.setdefault(match[1], line)
    return found


def test_the_log_names_each_workers_versions(small_corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    first = load_index(current_dir(root)).version
    more = write_jsonl(tmp_path / "more.jsonl", [*article_rows(), {**article_rows()[0], "id": "football-9"}])
    with gunicorn(root, tmp_path, workers=2, RELOAD_INTERVAL_SECONDS="0.2") as running:
        log = running.log
        wait_for(lambda: len(lines(log, f"^loaded index version {first} from .* at start$")) == 2, "start lines")

        assert main(["build", "--corpus", str(more), "--index-root", str(root)]) == 0
        second = load_index(current_dir(root)).version
        assert second != first
        switched = f"^now serving index version {re.escape(second)} \\(was {re.escape(first)}\\)$"
        wait_for(lambda: len(lines(log, switched)) == 2, "switch line from each worker")

        broken = publish(root, current_dir(root), "999999-broken")
        manifest = json.loads((broken / "manifest.json").read_text())
        manifest |= {"format_version": 0, "version": "20991231T000000Z-broken00"}
        (broken / "manifest.json").write_text(json.dumps(manifest))
        refused = f"^refused index version 20991231T000000Z-broken00, still serving {re.escape(second)}: .*format"
        wait_for(lambda: len(lines(log, refused)) == 2, "refused line from each worker")
        status, health = get_json(f"{running.base}/healthz")
        assert (status, health["index_version"]) == (200, second)
    shutil.rmtree(root)
