"""Page-view ingestion under concurrent load: every acknowledged view checked, and what the load
does to the page's one call.

Serves the bundled corpus with gunicorn (2 gthread workers, the production config, SQLite store) on
loopback. Article popularity follows the real, skewed click counts of MIND's ``popularity.tsv`` when
../shared is present, else a Zipf law. Three measurements, in one run:

1. **Counting** (graceful): 8 other processes offer views at ``--rate`` per second for
   ``--seconds``; after a graceful stop the counts in the database must equal the acknowledged
   views, article by article.
2. **SIGKILL** of the whole server mid-load: how many acknowledged views are lost, against the bound
   of one flush interval.
3. **Latency**: ``/recommendations`` of successive articles, 20 a second over one keep-alive
   connection (as a site's backend calls it), first on the idle server, then while wrk posts
   ``--rate`` views per second (``bench.wrk.wrk_views``: C, so the load itself takes little of
   the 2 cores; the Python senders of 1. take about a core and reach 1,100 to 1,800 a second). The
   same is measured against the floor (``bench/floor.py``: the very bytes of those answers, and an
   empty 202 for each view, under the same gunicorn config), alternating, ``--rounds`` times: the
   floor's figures are what gunicorn, loopback and the load cost on this machine by themselves.
   A third side sends the views to workers of their own, as deploy/recommender-events.service
   runs them (``bench.harness.beacons_server``: the same app under granian, at nice 10), and asks
   gunicorn's for /recommendations.

Rerun: ``.venv/bin/python -m bench.events [--rate 2000] [--seconds 20] [--rounds 3]``;
results also go to ``bench/results/events.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import tempfile
import time
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

from bench.harness import beacons_server, gunicorn, offered_views
from bench.views_db import integrity, stored_views
from bench.wrk import capture, wrk_views
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index

REPO = Path(__file__).resolve().parent.parent
POPULARITY = REPO.parent / "shared" / "corpora" / "mind-sample" / "popularity.tsv"
RESULTS = Path(__file__).resolve().parent / "results"
FLUSH_SECONDS = 0.25
FLOOR, SERVICE, SPLIT = "floor", "service", "service, views on workers of their own"


def view_weights(count: int) -> tuple[list[float], str]:
    """Real attention is heavily skewed: reuse MIND's click counts, largest first."""
    if POPULARITY.exists():
        clicks = []
        for line in POPULARITY.read_text().splitlines()[1:]:
            fields = line.split("\t")
            if len(fields) > 2 and fields[2].isdigit():  # news_id, in_subset, clicks, impressions, mentions
                clicks.append(int(fields[2]) + 1)
        clicks.sort(reverse=True)
        return [float(c) for c in clicks[:count]], "MIND click counts"
    return [1 / (rank + 1) for rank in range(count)], "Zipf (../shared absent)"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def probe(base: str, article_ids: list[str], seconds: float, per_second: float = 20) -> tuple[list[float], int]:
    """/recommendations of successive articles over one keep-alive connection at a light steady rate:
    latencies in milliseconds, and the answers that were not 200."""
    connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=5)
    measured: list[float] = []
    errors = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            article_id = urllib.parse.quote(article_ids[len(measured) % len(article_ids)], safe="")
            before = time.perf_counter()
            try:
                connection.request("GET", f"/api/v1/articles/{article_id}/recommendations")
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
            measured.append((time.perf_counter() - before) * 1000)
            errors += status != 200
            time.sleep(max(0.0, 1 / per_second - (time.perf_counter() - before)))
    finally:
        connection.close()
    return measured, errors


def counting(index: Path, workdir: Path, article_ids: list[str], weights: list[float], args, kill: bool) -> dict:
    """Views from Python processes, each acknowledged one accounted for after a graceful stop or a SIGKILL."""
    database = workdir / "views.sqlite3"
    with gunicorn(index, workdir, RECOMMENDER_POPULARITY_FLUSH_SECONDS=str(FLUSH_SECONDS)) as server:
        killed_after = None
        with offered_views(server.base, article_ids, weights, args.rate, args.seconds) as load:
            load_started = time.monotonic()
            if kill:
                time.sleep(args.seconds / 2)
                server.kill()
                killed_after = time.monotonic() - load_started  # views were acknowledged until then
        if not kill:
            time.sleep(2 * FLUSH_SECONDS)
    acknowledged = sum(load.acknowledged.values())
    seconds = killed_after or load.seconds
    stored = stored_views(database)
    result = {
        "scenario": "SIGKILL mid-load" if kill else "graceful",
        "offered_per_s": args.rate,
        "acknowledged_per_s": round(acknowledged / seconds, 1),
        "acknowledged": acknowledged,
        "stored": sum(stored.values()),
        "errors": load.errors,
        "integrity": integrity(database),
    }
    if kill:
        # At most the views of the last flush interval, plus the time one flush takes, may be lost.
        return result | {
            "lost": acknowledged - sum(stored.values()),
            "bound": round(acknowledged / seconds * (FLUSH_SECONDS + 0.5)),
            "over_counted": sum((stored - load.acknowledged).values()),
        }
    return result | {
        "per_article_mismatches": sum(
            1 for a in set(stored) | set(load.acknowledged) if stored[a] != load.acknowledged[a]
        ),
    }


def latency(index: Path, workdir: Path, article_ids: list[str], weights: list[float], args, side: str, floor: Path):
    """/recommendations idle, then under wrk's views: the service, its bytes replayed (the floor), or the service
    with the views sent to workers of their own (deploy/recommender-events.service)."""
    app = "bench.floor:make_app()" if side == FLOOR else "service:create_app()"
    with ExitStack() as stack:
        server = stack.enter_context(gunicorn(index, workdir, app=app, FLOOR_RESPONSES=str(floor)))
        views_base = server.base
        if side == SPLIT:
            views_base = stack.enter_context(beacons_server(index, workdir)).base
        idle, _ = probe(server.base, article_ids, 5)
        with wrk_views(views_base, article_ids, weights, args.rate, args.seconds + 2, workdir) as views:
            time.sleep(1)  # the load is under way
            loaded, errors = probe(server.base, article_ids, args.seconds)
    return {
        "idle_p50_ms": round(statistics.median(idle), 2),
        "idle_p99_ms": round(percentile(idle, 0.99), 2),
        "loaded_p50_ms": round(statistics.median(loaded), 2),
        "loaded_p99_ms": round(percentile(loaded, 0.99), 2),
        "requests": len(loaded),
        "errors": errors,
        "views_per_s": views.summary["requests_per_second"],
        "views_not_2xx": views.summary["non_2xx"],
    }


def latency_rounds(index: Path, scratch: Path, article_ids: list[str], weights: list[float], args) -> dict:
    """Floor and service alternately, ``args.rounds`` times; the median of each figure."""
    quoted = [urllib.parse.quote(article_id, safe="") for article_id in article_ids]
    paths = [f"/api/v1/articles/{article_id}/recommendations" for article_id in quoted]
    capture_dir = scratch / "capture"
    capture_dir.mkdir()
    with gunicorn(index, capture_dir) as server:
        floor = scratch / "floor.json"
        floor.write_text(json.dumps(capture(server.base, paths)))
    runs: dict[str, list[dict]] = {side: [] for side in (FLOOR, SERVICE, SPLIT)}
    for number in range(args.rounds):
        for side_number, side in enumerate(runs):
            workdir = scratch / f"latency-{side_number}-{number}"
            workdir.mkdir()
            runs[side].append(latency(index, workdir, article_ids, weights, args, side, floor))
            print(side, json.dumps(runs[side][-1]), flush=True)
    medians = {
        side: {key: statistics.median(run[key] for run in measured) for key in measured[0]}
        for side, measured in runs.items()
    }
    return {"scenario": "latency", "rounds": runs, "median": medians}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000, help="views offered per second (default 2000)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each load (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds of floor and service (default 3)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory() as temporary:
        scratch = Path(temporary)
        index = save_index(build_index(load_corpus(REPO / "corpus" / "wikinews.jsonl")), scratch / "index")
        article_ids = [json.loads(line)["id"] for line in (index / "articles.jsonl").read_text().splitlines()]
        weights, source = view_weights(len(article_ids))
        article_ids = article_ids[: len(weights)]
        results = []
        for kill in (False, True):
            workdir = scratch / ("killed" if kill else "graceful")
            workdir.mkdir()
            results.append(counting(index, workdir, article_ids, weights, args, kill))
        latencies = latency_rounds(index, scratch, article_ids, weights, args)
    RESULTS.mkdir(exist_ok=True)
    report = {"weights": source, "runs": results, "latency": latencies}
    (RESULTS / "events.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"views weighted by {source}; 2 gunicorn gthread workers, SQLite, flush every {FLUSH_SECONDS}s\n")
    for result in results:
        print(f"### {result['scenario']}\n\n| measure | value |\n|---|---|")
        for key, value in result.items():
            print(f"| {key} | {value} |")
        print()
    print(f"### /recommendations, idle and under {args.rate:g} views/s (median of {args.rounds} rounds)\n")
    medians = latencies["median"]
    print(f"| measure | {' | '.join(medians)} |\n|---|{'---|' * len(medians)}")
    for key in medians[SERVICE]:
        print(f"| {key} | {' | '.join(str(side[key]) for side in medians.values())} |")


if __name__ == "__main__":
    main()
