"""Zero failed requests while the index is rebuilt and reloaded under load.

Serves an index root (the largest shared corpus, Reuters-21578, or the bundled
corpus when ../shared is absent) with gunicorn, 2 gthread workers checking for
new versions every second. A client sends a steady rate of /related and
/recommendations requests over keep-alive connections while, in turn:

1. ``before``: nothing happens (the baseline of the same run);
2. ``rebuild``: ``recommender build --index-root`` rebuilds and publishes;
3. ``reload``: from the publish until every worker serves the new version;
4. ``after``: 10 more seconds;
5. ``broken``: a half-copied version is made current; the workers must refuse it;
6. ``rollback``: ``recommender rollback`` points back at the good version.

Every request that is not a 200 within 5 seconds is an error; the target is
zero. Rerun: ``.venv/bin/python -m bench.reload [--rate 100]``; results also
go to ``bench/results/reload.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.harness import get_json, gunicorn

REPO = Path(__file__).resolve().parent.parent
REUTERS = REPO.parent / "shared" / "corpora" / "reuters21578" / "articles.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
RECOMMENDER = Path(sys.executable).parent / "recommender"


class Client:
    """Threads sending requests at a steady total rate; each records (phase, latency ms, ok)."""

    def __init__(self, base: str, article_ids: list[str], rate: float, threads: int = 4) -> None:
        self.port = int(base.rsplit(":", 1)[1])
        self.paths = [
            f"/api/v1/articles/{urllib.parse.quote(article_id, safe='')}/{kind}"
            for article_id in article_ids
            for kind in ("related", "recommendations")
        ]
        self.interval = threads / rate
        self.phase = "before"
        self.records: list[tuple[str, float, bool]] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(seed,)) for seed in range(threads)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        next_at = time.perf_counter()
        while not self.stopped.is_set():
            phase = self.phase
            started = time.perf_counter()
            try:
                connection.request("GET", rng.choice(self.paths))
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            self.records.append((phase, (time.perf_counter() - started) * 1000, ok))
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        connection.close()

    def __enter__(self) -> Client:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def versions_served(base: str, workers: int, seconds: float = 3) -> dict[int, str]:
    """Ask /healthz until every worker has answered (each answer names its pid and version)."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    while len(seen) < workers and time.monotonic() < deadline:
        _, health = get_json(f"{base}/healthz")
        seen[health["worker_pid"]] = health["index_version"]
    return seen


def wait_until_all_serve(base: str, workers: int, version: str, timeout: float = 30) -> float:
    started = time.monotonic()
    seen: dict[int, str] = {}
    while time.monotonic() - started < timeout:
        _, health = get_json(f"{base}/healthz")
        seen[health["worker_pid"]] = health["index_version"]
        if len(seen) >= workers and set(seen.values()) == {version}:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"workers did not all switch to {version} within {timeout}s: {seen}")


def publish_broken_copy(root: Path) -> None:
    """A half-copied version made current: what an interrupted rsync of an index would look like."""
    current = (root / os.readlink(root / "current")).resolve()
    broken = root / "versions" / "999999-broken"
    shutil.copytree(current, broken)
    arrays = broken / "matrix_data.npy"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    (root / "current.broken").symlink_to(Path("versions") / broken.name)
    os.replace(root / "current.broken", root / "current")


def summarise(records: list[tuple[str, float, bool]]) -> list[dict]:
    rows = []
    for phase in ("before", "rebuild", "reload", "after", "broken", "rollback"):
        latencies = sorted(latency for p, latency, _ in records if p == phase)
        if not latencies:
            continue
        rows.append(
            {
                "phase": phase,
                "requests": len(latencies),
                "errors": sum(1 for p, _, ok in records if p == phase and not ok),
                "p50_ms": round(statistics.median(latencies), 2),
                "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="requests per second (default 100)")
    args = parser.parse_args()
    corpus = REUTERS if REUTERS.exists() else REPO / "corpus" / "wikinews.jsonl"
    if corpus != REUTERS:
        print("../shared is absent: using the bundled corpus")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        build = [str(RECOMMENDER), "build", "--corpus", str(corpus), "--index-root", str(root), "--force"]
        subprocess.run(build, check=True, capture_output=True)
        article_ids = [json.loads(line)["id"] for line in (root / "current" / "articles.jsonl").open()]
        random.Random(0).shuffle(article_ids)
        with gunicorn(root, Path(scratch), workers=2, RECOMMENDER_RELOAD_INTERVAL_SECONDS="1") as server:
            first = versions_served(server.base, 2)
            with Client(server.base, article_ids[:2000], args.rate) as client:
                time.sleep(10)
                client.phase = "rebuild"
                rebuild_started = time.monotonic()
                subprocess.run(build, check=True, capture_output=True)
                rebuild_seconds = time.monotonic() - rebuild_started
                client.phase = "reload"
                published = json.loads((root / "current" / "manifest.json").read_text())["version"]
                switch_seconds = wait_until_all_serve(server.base, 2, published)
                client.phase = "after"
                time.sleep(10)
                client.phase = "broken"
                publish_broken_copy(root)
                time.sleep(5)
                during_broken = versions_served(server.base, 2)
                client.phase = "rollback"
                subprocess.run(
                    [str(RECOMMENDER), "rollback", "--index-root", str(root)], check=True, capture_output=True
                )
                time.sleep(3)
    phases = summarise(client.records)
    result = {
        "corpus": str(corpus.name if corpus != REUTERS else "reuters21578"),
        "articles": len(article_ids),
        "rate_per_s": args.rate,
        "rebuild_seconds": round(rebuild_seconds, 1),
        "publish_to_all_workers_seconds": round(switch_seconds, 2),
        "versions_before": sorted(set(first.values())),
        "versions_while_broken_was_current": sorted(set(during_broken.values())),
        "broken_version_refused": set(during_broken.values()) == {published},
        "errors": sum(row["errors"] for row in phases),
        "phases": phases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reload.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['articles']} articles, {args.rate:.0f} requests/s, 2 gthread workers checking every second")
    print(
        f"rebuild {result['rebuild_seconds']}s; publish to every worker serving it: "
        f"{result['publish_to_all_workers_seconds']}s; broken version refused: {result['broken_version_refused']}\n"
    )
    print("| phase | requests | errors | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for row in phases:
        print(f"| {row['phase']} | {row['requests']} | {row['errors']} | {row['p50_ms']} | {row['p99_ms']} |")


if __name__ == "__main__":
    main()
