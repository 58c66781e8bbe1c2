"""The soak: ten minutes of mixed traffic against the production setup, Redis paused in the middle.

Serves the largest shared corpus (Reuters-21578, or the bundled corpus when
../shared is absent, which it says) with gunicorn, the production config and 2
gthread workers, counting page views in a real redis-server that this script
starts on a free loopback port. For ``--minutes`` (default 10), ``--processes``
load processes (default 8, one keep-alive connection each) offer ``--rate``
requests per second in total (default 1,000): 40% ``GET /related`` and 30% ``GET /recommendations`` of
articles drawn uniformly from the whole index, and 30% ``POST /api/v1/events``
views weighted by MIND's real click counts (``bench.events.view_weights``).
Each view comes from one of 4,096 simulated readers per process (an address in
``X-Forwarded-For``, the service started with ``RECOMMENDER_TRUSTED_PROXIES=1``
as behind nginx) with a visitor id of its own, as ``bench.harness`` does, so
every acknowledged view must be counted exactly once. One more process floods:
one client (a single address, no visitor id, always the same article, one the
readers never view), back to back as fast as it can, reconnecting every 50
events so that both workers get their share; it should mostly get 429s, and
its accepted views count once (the 30-minute dedupe of an anonymous reader).

At 2:00 (a fifth of the run) Redis is paused with SIGSTOP for 30 s (scaled with
``--minutes``), then resumed with SIGCONT: reads must not fail, views must be
acknowledged and kept in the workers' buffers, then written.

Reported per minute: requests, read errors (a GET answered other than 200/304,
or a connection error or timeout of 5 s: the target is 0), p50/p99 of the reads
(measured by the load processes from sending to the whole response; the JSON
also has the slowest read of every 10 seconds), the RSS of each gunicorn worker
(``/proc/<pid>/status``, the workers found as the master's children; with its
heap part, RssAnon, and its mapped-file part, RssFile), queue lengths (each worker's view buffer, ``pending_views`` of
``GET /healthz``, sampled every second; and the listening socket's accept queue
from ``/proc/net/tcp``), and where the CPU went (workers, Redis, the load
processes, the flood, and the rest: other processes and the kernel), with how
much the load processes spent waiting for their next slot: when they kept to
the schedule, the generator was not the bottleneck. After a graceful stop, the views in Redis are compared with the
views acknowledged, article by article.

Rerun: ``.venv/bin/python -m bench.soak [--minutes 10] [--rate 1000]``;
results go to ``bench/results/soak.json`` and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.harness import gunicorn
from bench.procfs import (
    RedisServer,
    accept_queue,
    children,
    cpu_seconds,
    machine_busy,
    own_cpu_seconds,
    pending_views,
    rss_mib,
)
from bench.soak_load import Collector, flood_events, offer_mix
from bench.soak_report import summarise, table

REPO = Path(__file__).resolve().parent.parent
REUTERS = REPO.parent / "shared" / "corpora" / "reuters21578" / "articles.jsonl"
BUNDLED = REPO / "corpus" / "wikinews.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
RECOMMENDER = Path(sys.executable).parent / "recommender"


# --- the load processes ------------------------------------------------------------------------------


# --- what the main process watches -------------------------------------------------------------------


# --- the run -----------------------------------------------------------------------------------------


def build(corpus: Path, out: Path) -> None:
    command = [str(RECOMMENDER), "build", "--corpus", str(corpus), "--out", str(out), "--force"]
    subprocess.run(command, check=True, capture_output=True)


def run(args: argparse.Namespace, index: Path, workdir: Path) -> dict:
    seconds = args.minutes * 60
    interval = args.interval
    intervals = max(1, int(-(-seconds // interval)))
    pause_at, pause_for = seconds * 0.2, 30 * args.minutes / 10
    from bench.events import view_weights  # here: the load processes re-import this module and need none of it

    article_ids = [json.loads(line)["id"] for line in (index / "articles.jsonl").read_text().splitlines()]
    flood_article = article_ids[-1]
    weights, weights_source = view_weights(len(article_ids) - 1)
    view_ids = article_ids[: len(weights)]
    quoted = [urllib.parse.quote(article_id, safe="") for article_id in article_ids]
    paths = {kind: [f"/api/v1/articles/{q}/{kind}" for q in quoted] for kind in ("related", "recommendations")}

    redis_server = RedisServer(workdir)
    try:
        with gunicorn(index, workdir, workers=2, RECOMMENDER_POPULARITY_URL=redis_server.url) as server:
            port = int(server.base.rsplit(":", 1)[1])
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            start = context.Barrier(args.processes + 2)
            processes = [
                context.Process(
                    target=offer_mix,
                    args=(
                        port,
                        paths,
                        (view_ids, weights),
                        args.rate / args.processes,
                        seconds,
                        interval,
                        seed,
                        start,
                        results,
                    ),
                )  # fmt: skip
                for seed in range(args.processes)
            ]
            processes.append(
                context.Process(target=flood_events, args=(port, flood_article, seconds, interval, start, results))
            )
            for process in processes:
                process.start()
            start.wait(timeout=120)
            started = time.monotonic()
            print(
                f"load started: {args.rate:.0f} requests/s from {args.processes} processes plus the flood, "
                f"for {seconds:.0f} s; Redis paused at {pause_at:.0f} s for {pause_for:.0f} s",
                flush=True,
            )
            collector = Collector(results, args.processes, intervals)
            samples = watch(server, redis_server, collector, started, seconds, interval, pause_at, pause_for)
            deadline = time.monotonic() + 120
            while not collector.done:
                collector.drain(timeout=max(1.0, deadline - time.monotonic()))
            for process in processes:
                process.join(timeout=30)
            workers_at_end = children(server.process.pid)
        log = server.log.read_text(errors="replace")
        counted = redis_server.views()
    finally:
        redis_server.stop()
    return summarise(
        args, collector, samples, counted, log, article_ids, flood_article, weights_source, workers_at_end
    )  # fmt: skip


def watch(server, redis_server: RedisServer, collector: Collector, started: float, seconds: float, interval: float,
          pause_at: float, pause_for: float) -> dict:  # fmt: skip
    """Every second: each worker's buffer and the accept queue; every interval: RSS and CPU; the pause."""
    port = int(server.base.rsplit(":", 1)[1])
    master = server.process.pid
    redis_pid = redis_server.process.pid
    timeline: list[dict] = []  # one entry a second
    per_interval: list[dict] = []
    paused = resumed = None
    cpu_mark = {"master": cpu_seconds(master), "redis": cpu_seconds(redis_pid), "self": own_cpu_seconds()}
    worker_cpu = {pid: cpu_seconds(pid) for pid in children(master)}
    machine_mark = machine_busy()
    pids_seen: set[int] = set(worker_cpu)
    number = 0
    while True:
        now = time.monotonic() - started
        if paused is None and now >= pause_at:
            os.kill(redis_pid, signal.SIGSTOP)
            paused = now
            print(f"{now:6.1f} s: Redis paused (SIGSTOP)", flush=True)
        if paused is not None and resumed is None and now >= paused + pause_for:
            os.kill(redis_pid, signal.SIGCONT)
            resumed = now
            print(f"{now:6.1f} s: Redis resumed (SIGCONT)", flush=True)
        if now >= (number + 1) * interval or now >= seconds:
            workers = children(master)
            pids_seen.update(workers)
            busy, total = machine_busy()
            worker_total = sum(cpu_seconds(pid) - worker_cpu.get(pid, 0.0) for pid in workers)
            worker_cpu = {pid: cpu_seconds(pid) for pid in workers}
            per_interval.append(
                {
                    "interval": number,
                    "rss_mib": {str(pid): rss_mib(pid) for pid in workers},
                    # RSS grows as requests touch more of the memory-mapped index (file pages, shared and
                    # reclaimable) or as the heap grows (anonymous): the parts tell which.
                    "rss_anon_mib": {str(pid): rss_mib(pid, "RssAnon") for pid in workers},
                    "rss_file_mib": {str(pid): rss_mib(pid, "RssFile") for pid in workers},
                    "master_rss_mib": rss_mib(master),
                    "redis_rss_mib": rss_mib(redis_pid),
                    "cpu_workers_s": round(worker_total, 1),
                    "cpu_redis_s": round(cpu_seconds(redis_pid) - cpu_mark["redis"], 1),
                    "cpu_master_s": round(cpu_seconds(master) - cpu_mark["master"], 1),
                    "cpu_watcher_s": round(own_cpu_seconds() - cpu_mark["self"], 1),  # this process
                    "cpu_machine_busy_share": round((busy - machine_mark[0]) / (total - machine_mark[1]), 3),
                }
            )
            cpu_mark = {"master": cpu_seconds(master), "redis": cpu_seconds(redis_pid), "self": own_cpu_seconds()}
            machine_mark = (busy, total)
            recent = [e for e in timeline if number * interval <= e["t"]]
            print(
                f"{now:6.1f} s: {sum(b.sent for b in collector.buckets):,} requests reported so far; "
                f"read errors {sum(sum(b.read_errors.values()) for b in collector.buckets)}; "
                f"RSS {per_interval[-1]['rss_mib']} MiB; view buffers max "
                f"{max((sum(e['pending'].values()) for e in recent), default=0)}; "
                f"cores busy {per_interval[-1]['cpu_machine_busy_share'] * os.cpu_count():.2f}",
                flush=True,
            )
            number += 1
            if now >= seconds:
                break
        collector.drain()
        pending = pending_views(server.base, 2)
        timeline.append(
            {"t": round(now, 1), "pending": {str(pid): n for pid, n in pending.items()}, "accept": accept_queue(port)}
        )
        time.sleep(max(0.0, 1 - (time.monotonic() - started - now)))
    return {
        "timeline": timeline,
        "per_interval": per_interval,
        "paused_at": paused,
        "resumed_at": resumed,
        "worker_pids_seen": sorted(pids_seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="length of the run (default 10)")
    parser.add_argument("--rate", type=float, default=1000, help="requests per second offered in all (default 1000)")
    parser.add_argument("--processes", type=int, default=8, help="load processes besides the flood (default 8)")
    parser.add_argument("--interval", type=float, default=60, help="seconds per reported row (default 60)")
    args = parser.parse_args()
    args.corpus = REUTERS if REUTERS.exists() else BUNDLED
    if args.corpus != REUTERS:
        print(f"{REUTERS} is absent: serving the bundled corpus ({BUNDLED.name}) instead")
    with tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "index"
        build(args.corpus, index)
        result = run(args, index, Path(scratch))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"\n{result['articles']:,} articles ({result['corpus']}), 2 gthread workers, Redis; "
        f"{args.rate:.0f} requests/s offered for {args.minutes:g} min, plus one flooding client\n"
    )
    print(table(result))
    print(
        f"\nread errors: {result['read_errors']}; reader views acknowledged {result['reader_views_acknowledged']:,}, "
        f"counted in Redis {result['reader_views_counted_in_redis']:,} "
        f"({result['reader_views_per_article_mismatches']} articles differ); "
        f"flood: {result['flood_statuses']}, counted {result['flood_views_counted_in_redis']}; "
        f"buffers peaked at {result['pending_views_peak']} ({result['pending_views_peak_at_s']} s) and were back "
        f"to normal {result['buffers_back_to_normal_after_resume_s']} s after Redis resumed; log: {result['log']}"
    )


if __name__ == "__main__":
    main()
