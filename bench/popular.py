"""How long a worker's Popular refresh takes as a site's views pile up over a week.

Every worker recomputes the three rankings (1h, 24h, 7d) every 5 s from one read of the
store: all hourly buckets of the last 7 days. A large site has views on thousands of
articles every hour, so the read returns hundreds of thousands of buckets. The refresh
runs in a background thread, but whatever it does in Python holds the GIL against the
worker's requests, so its time is the time requests may wait.

For each size (articles viewed per hour x hours of history), a SQLite store is filled,
then timed, median of ``--repeat``: the store's read (``hourly_counts``) and the ranking
(``rank_windows``, on arrays); the baselines, measured in the same run, are what the
service did before: the rows alone read through the hour index, and the ranking computed
bucket by bucket in Python (kept below). Both rankings are checked equal. The same
counts are also read from the Redis store (a real redis-server on loopback, started here;
skipped, and said so, when redis-server is not installed), against the same read with redis-py's
reply parser in Python, as before hiredis. Synthetic counts; no corpus needed.

Rerun: ``.venv/bin/python -m bench.popular [--repeat 5]``; results also go to
``bench/results/popular.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import redis
from redis.connection import _RESP2Parser

from bench.procfs import RedisServer
from recommender.popularity.rankings import Ranked, rank_windows
from recommender.popularity.redis_store import RedisStore
from recommender.popularity.sqlite_store import SQLiteStore
from recommender.popularity.views import HOUR, LONGEST_WINDOW_HOURS, WINDOWS, hour_of

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = ((1_000, 1), (1_000, 24), (5_000, 24), (20_000, 24), (5_000, 168))


def loop_rank(counts: dict[str, dict[int, int]], now: float, window: str) -> list[Ranked]:
    """The baseline: the ranking bucket by bucket, as recommender/popularity/rankings.py did before arrays."""
    hours = WINDOWS[window]
    half_life, current = hours / 4, now / HOUR
    start = current - hours
    ranked = []
    for article_id, per_hour in counts.items():
        score, views = 0.0, 0
        for hour, count in per_hour.items():
            share = min(1.0, hour + 1 - start)
            if share <= 0 or hour > current:
                continue
            age = max(0.0, current - (hour + 0.5))
            score += count * share * 0.5 ** (age / half_life)
            views += round(count * share)
        if score > 0:
            ranked.append(Ranked(article_id, score, views, max(per_hour)))
    ranked.sort(key=lambda entry: (-entry.score, 0.0, -entry.last_hour, entry.article_id))
    return ranked


def python_parsed_read(client: redis.Redis, prefix: str, first_hour: int, last_hour: int) -> dict[str, dict[int, int]]:
    """The Redis baseline: RedisStore.hourly_counts as it read before hiredis, with redis-py's own parser."""
    hours = range(first_hour, last_hour + 1)
    pipeline = client.pipeline(transaction=False)
    for hour in hours:
        pipeline.hgetall(f"{prefix}views:{hour}")
    counts: dict[str, dict[int, int]] = {}
    for hour, bucket in zip(hours, pipeline.execute(), strict=True):
        for article_id, views in bucket.items():
            counts.setdefault(article_id.decode(), {})[hour] = int(views)
    return counts


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(
    articles: int, hours: int, now: float, repeat: int, scratch: Path, redis_url: str | None
) -> dict[str, float | int | None]:
    rng = random.Random(articles * hours)
    store = SQLiteStore(scratch / f"views-{articles}-{hours}.sqlite3")
    redis_store = RedisStore(redis_url, prefix=f"bench-{articles}-{hours}:") if redis_url else None
    try:
        current = hour_of(now)
        for hour in range(current - hours + 1, current + 1):  # a long tail: most articles get a few views
            counted = {(f"article-{n}", hour): 1 + int(rng.paretovariate(1.2)) for n in range(articles)}
            store.add_counts(counted)
            if redis_store is not None:
                redis_store.add_counts(counted)
        window = (current - LONGEST_WINDOW_HOURS, current)
        counts = store.hourly_counts(*window)
        read = median_seconds(lambda: store.hourly_counts(*window), repeat)
        redis_read = redis_baseline = None
        if redis_store is not None and redis_url is not None:
            if redis_store.hourly_counts(*window) != counts:
                raise AssertionError("the stores' counts differ")
            redis_read = round(median_seconds(lambda: redis_store.hourly_counts(*window), repeat) * 1000, 1)
            with closing(redis.Redis.from_url(redis_url, parser_class=_RESP2Parser)) as client:
                if python_parsed_read(client, redis_store.prefix, *window) != counts:
                    raise AssertionError("the baseline's counts differ")
                read_before = median_seconds(lambda: python_parsed_read(client, redis_store.prefix, *window), repeat)
                redis_baseline = round(read_before * 1000, 1)
    finally:
        store.close()
        if redis_store is not None:
            redis_store.close()
    with closing(sqlite3.connect(store.path)) as db:  # the baseline read: the rows alone, through the hour index
        query = "SELECT article_id, hour, views FROM view_counts WHERE hour BETWEEN ? AND ?"
        indexed = median_seconds(lambda: db.execute(query, window).fetchall(), repeat)
    arrays = median_seconds(lambda: rank_windows(counts, now), repeat)
    loop = median_seconds(lambda: [loop_rank(counts, now, window) for window in WINDOWS], repeat)
    if rank_windows(counts, now) != {window: loop_rank(counts, now, window) for window in WINDOWS}:
        raise AssertionError("the rankings differ")
    return {
        "articles_per_hour": articles,
        "hours": hours,
        "buckets": articles * hours,
        "store_read_ms": round(read * 1000, 1),
        "redis_read_ms": redis_read,
        "redis_baseline_read_ms": redis_baseline,
        "baseline_read_ms": round(indexed * 1000, 1),
        "ranking_ms": round(arrays * 1000, 1),
        "baseline_ranking_ms": round(loop * 1000, 1),
        "ranking_ratio": round(arrays / loop, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = time.time()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-popular-") as scratch:
        redis_server = RedisServer(Path(scratch)) if shutil.which("redis-server") else None
        if redis_server is None:
            print("redis-server is not installed: the Redis store's read is not measured")
        try:
            for articles, hours in SIZES:
                redis_url = redis_server.url if redis_server else None
                result = measure(articles, hours, now, args.repeat, Path(scratch), redis_url)
                results.append(result)
                print(
                    f"{articles:>6} articles x {hours:>3} h ({result['buckets']:>9,} buckets): SQLite read "
                    f"{result['store_read_ms']:.1f} ms (through the hour index {result['baseline_read_ms']:.1f}), "
                    f"Redis read {result['redis_read_ms']} ms (parsed in Python {result['redis_baseline_read_ms']}); "
                    f"ranking {result['ranking_ms']:.1f} ms (bucket by bucket {result['baseline_ranking_ms']:.1f})",
                    flush=True,
                )
        finally:
            if redis_server is not None:
                redis_server.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "popular.json").write_text(json.dumps({"repeat": args.repeat, "sizes": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
