"""What an operator sees of the real service under gunicorn: metrics summed over workers, and the log naming
the index version each worker loaded, switched to, or refused."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.harness import get_json, gunicorn
from tests.test_metrics import parse, value

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
