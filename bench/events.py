"""Page-view ingestion under concurrent load, with every acknowledged view checked afterwards.

Serves the bundled corpus with gunicorn (2 gthread workers, SQLite store) on
loopback and offers page views from 8 other processes at ``--rate`` per second
for ``--seconds`` (article popularity follows the real, skewed click counts of
MIND's ``popularity.tsv`` when ../shared is present, else a Zipf law). It
reports the events per second acknowledged, errors, and whether the counts in
the database equal the acknowledged views after a graceful stop; the latency of
``/recommendations`` during that load against the same requests on the idle
server (the baseline of the same run); and, in a second run, how many
acknowledged views a SIGKILL of the whole server loses, against the bound of one
flush interval.

Rerun: ``.venv/bin/python -m bench.events [--rate 2000] [--seconds 20]``;
results also go to ``bench/results/events.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.harness import get_json, gunicorn, integrity, offered_views, stored_views
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index

REPO = Path(__file__).resolve().parent.parent
POPULARITY = REPO.parent / "shared" / "corpora" / "mind-sample" / "popularity.tsv"
RESULTS = Path(__file__).resolve().parent / "results"
FLUSH_SECONDS = 0.25


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


def latencies(base: str, article_ids: list[str], stop: threading.Event, limit: float, per_second: float = 20):
    """/recommendations of successive articles at a light steady rate, in milliseconds."""
    measured: list[float] = []
    errors = 0
    started = time.monotonic()
    while not stop.is_set() and time.monotonic() - started < limit:
        article_id = urllib.parse.quote(article_ids[len(measured) % len(article_ids)], safe="")
        before = time.perf_counter()
        try:
            status, _ = get_json(f"{base}/api/v1/articles/{article_id}/recommendations")
        except OSError:
            status = 0
        measured.append((time.perf_counter() - before) * 1000)
        errors += status != 200
        time.sleep(max(0.0, 1 / per_second - (time.perf_counter() - before)))
    return measured, errors


def run(index: Path, workdir: Path, article_ids: list[str], weights: list[float], args, kill: bool) -> dict:
    database = workdir / "views.sqlite3"
    with gunicorn(index, workdir, RECOMMENDER_POPULARITY_FLUSH_SECONDS=str(FLUSH_SECONDS)) as server:
        idle, _ = latencies(server.base, article_ids, threading.Event(), limit=5)
        loaded: list = []
        stop = threading.Event()
        probe = threading.Thread(
            target=lambda: loaded.extend([latencies(server.base, article_ids, stop, args.seconds)])
        )
        killed_after = None
        with offered_views(server.base, article_ids, weights, args.rate, args.seconds) as load:
            load_started = time.monotonic()
            probe.start()
            if kill:
                time.sleep(args.seconds / 2)
                server.kill()
                killed_after = time.monotonic() - load_started  # views were acknowledged until then
            probe.join()
            stop.set()
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
        result |= {
            "lost": acknowledged - sum(stored.values()),
            "bound": round(acknowledged / seconds * (FLUSH_SECONDS + 0.5)),
            "over_counted": sum((stored - load.acknowledged).values()),
        }
    else:
        measured, probe_errors = loaded[0]
        result |= {
            "per_article_mismatches": sum(
                1 for a in set(stored) | set(load.acknowledged) if stored[a] != load.acknowledged[a]
            ),
            "recommendations_idle_p50_ms": round(statistics.median(idle), 2),
            "recommendations_idle_p99_ms": round(percentile(idle, 0.99), 2),
            "recommendations_loaded_p50_ms": round(statistics.median(measured), 2),
            "recommendations_loaded_p99_ms": round(percentile(measured, 0.99), 2),
            "recommendations_errors": probe_errors,
        }
        result["p50_ratio_loaded_to_idle"] = round(
            result["recommendations_loaded_p50_ms"] / result["recommendations_idle_p50_ms"], 2
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000, help="views offered per second (default 2000)")
    parser.add_argument("--seconds", type=float, default=20, help="length of the load (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = save_index(build_index(load_corpus(REPO / "corpus" / "wikinews.jsonl")), Path(scratch) / "index")
        article_ids = [json.loads(line)["id"] for line in (index / "articles.jsonl").read_text().splitlines()]
        weights, source = view_weights(len(article_ids))
        article_ids = article_ids[: len(weights)]
        results = []
        for kill in (False, True):
            workdir = Path(scratch) / ("killed" if kill else "graceful")
            workdir.mkdir()
            results.append(run(index, workdir, article_ids, weights, args, kill))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "events.json").write_text(json.dumps({"weights": source, "runs": results}, indent=2) + "\n")
    print(f"views weighted by {source}; 2 gunicorn gthread workers, SQLite, flush every {FLUSH_SECONDS}s\n")
    for result in results:
        print(f"### {result['scenario']}\n\n| measure | value |\n|---|---|")
        for key, value in result.items():
            print(f"| {key} | {value} |")
        print()


if __name__ == "__main__":
    main()
