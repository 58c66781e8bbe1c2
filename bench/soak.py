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
import http.client
import itertools
import json
import multiprocessing
import os
import queue
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.harness import BROWSER, free_port, get_json, gunicorn

REPO = Path(__file__).resolve().parent.parent
REUTERS = REPO.parent / "shared" / "corpora" / "reuters21578" / "articles.jsonl"
BUNDLED = REPO / "corpus" / "wikinews.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
RECOMMENDER = Path(sys.executable).parent / "recommender"

MIX = (("related", 0.4), ("recommendations", 0.3), ("event", 0.3))
READERS_PER_PROCESS = 4096
FLOOD_ADDRESS = "198.51.100.7"  # one client, as the proxy saw it
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- the load processes ------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Interval:
    """What one load process saw during one reporting interval."""

    reads: int = 0
    read_errors: Counter = field(default_factory=Counter)  # kind -> count
    latencies: list[float] = field(default_factory=list)  # reads, ms
    events: Counter = field(default_factory=Counter)  # status -> count
    sent: int = 0
    cpu: float = 0.0  # seconds of CPU of the load process
    idle: float = 0.0  # seconds spent waiting for the next slot (ahead of schedule)
    slowest: dict[int, float] = field(default_factory=dict)  # 10-second slot of the run -> slowest read, ms


def _offer_mix(port: int, paths: dict[str, list[str]], views: tuple[list[str], list[float]], rate: float,
               seconds: float, interval: float, seed: int, start: Any, results: Any) -> None:  # fmt: skip
    """One load process: the mix at `rate` per second over one keep-alive connection, renewed every 100 requests."""
    rng = random.Random(seed)
    view_ids, view_weights_ = views
    view_cumulative = list(itertools.accumulate(view_weights_))
    kinds = [kind for kind, _ in MIX]
    kind_cumulative = list(itertools.accumulate(share for _, share in MIX))
    start.wait()
    started = time.monotonic()
    current, bucket = 0, Interval()
    cpu_mark = _cpu_seconds()
    acknowledged: Counter = Counter()
    sent = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"User-Agent": BROWSER}
    event_headers = headers | {"Content-Type": "text/plain;charset=UTF-8"}
    while (elapsed := time.monotonic() - started) < seconds:
        number = int(elapsed // interval)
        if number != current:  # the interval is over: hand it to the main process
            bucket.cpu, cpu_mark = _cpu_seconds() - cpu_mark, _cpu_seconds()
            results.put(("interval", seed, current, vars(bucket)))  # plain data: the class is __main__'s
            current, bucket = number, Interval()
        if sent > elapsed * rate:  # ahead of schedule: wait for the next slot
            pause = min(0.01, sent / rate - elapsed)
            time.sleep(pause)
            bucket.idle += pause
            continue
        sent += 1
        bucket.sent += 1
        if sent % 100 == 0:  # a new connection now and then, so that both workers get a share
            connection.close()
        kind = rng.choices(kinds, cum_weights=kind_cumulative)[0]
        if kind == "event":
            article_id = rng.choices(view_ids, cum_weights=view_cumulative)[0]
            body = json.dumps({"type": "view", "article_id": article_id, "visitor_id": f"soak-{seed}-{sent}"})
            reader = {"X-Forwarded-For": f"2001:db8::{seed:x}:{sent % READERS_PER_PROCESS:x}"}
            try:
                connection.request("POST", "/api/v1/events", body, event_headers | reader)
                response = connection.getresponse()
                response.read()
                bucket.events[response.status] += 1
                if response.status == 202:
                    acknowledged[article_id] += 1
            except (OSError, http.client.HTTPException) as error:
                bucket.events[type(error).__name__] += 1
                connection.close()
            continue
        path = rng.choice(paths[kind])
        before = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status not in (200, 304):
                bucket.read_errors[str(response.status)] += 1
        except (OSError, http.client.HTTPException) as error:
            bucket.read_errors[type(error).__name__] += 1
            connection.close()
        latency = (time.perf_counter() - before) * 1000
        bucket.latencies.append(latency)
        bucket.reads += 1
        slot = int(elapsed // 10)
        bucket.slowest[slot] = max(bucket.slowest.get(slot, 0.0), latency)
    connection.close()
    bucket.cpu = _cpu_seconds() - cpu_mark
    results.put(("interval", seed, current, vars(bucket)))
    results.put(("done", seed, acknowledged, sent))


def _flood(port: int, article_id: str, seconds: float, interval: float, start: Any, results: Any) -> None:
    """One client sending the same view back to back, without a visitor id, from one address."""
    body = json.dumps({"type": "view", "article_id": article_id})
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER, "X-Forwarded-For": FLOOD_ADDRESS}
    start.wait()
    started = time.monotonic()
    current, statuses = 0, Counter[int | str]()
    cpu_mark = _cpu_seconds()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        number = int(elapsed // interval)
        if number != current:
            cpu, cpu_mark = _cpu_seconds() - cpu_mark, _cpu_seconds()
            results.put(("flood", current, statuses, cpu))
            current, statuses = number, Counter()
        sent += 1
        if sent % 50 == 0:
            connection.close()
        try:
            connection.request("POST", "/api/v1/events", body, headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException) as error:
            statuses[type(error).__name__] += 1
            connection.close()
    connection.close()
    results.put(("flood", current, statuses, _cpu_seconds() - cpu_mark))
    results.put(("flood-done",))


# --- what the main process watches -------------------------------------------------------------------


class RedisServer:
    """A real redis-server on a free loopback port, without persistence (as tests/conftest.py starts it)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server is not installed: apt-get install redis-server (make bench does)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def views(self) -> Counter:
        """Views per article over every hourly hash the service wrote."""
        client = redis.Redis.from_url(self.url)
        try:
            counted: Counter = Counter()
            for key in client.scan_iter(match="recommender:views:*", count=1000):
                for article_id, views in client.hgetall(key).items():
                    counted[article_id.decode() if isinstance(article_id, bytes) else article_id] += int(views)
            return counted
        finally:
            client.close()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGCONT)  # in case it is paused
        self.process.terminate()
        self.process.wait(timeout=10)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`: gunicorn's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_mib(pid: int, field: str = "VmRSS") -> float | None:
    """A memory figure of /proc/<pid>/status in MiB: VmRSS, or its parts RssAnon (heap) and RssFile (mapped files)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


def accept_queue(port: int) -> int:
    """Connections waiting in the listening socket's accept queue (rx_queue of a LISTEN socket)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[4].split(":")[1], 16)
    return 0


def pending_views(base: str, workers: int, tries: int = 40) -> dict[int, int]:
    """Each worker's view buffer: /healthz over new connections until every worker has answered."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        try:
            status, health = get_json(f"{base}/healthz", timeout=2)
        except OSError:
            continue
        if status == 200:
            seen[health["worker_pid"]] = health["pending_views"]
        if len(seen) >= workers:
            break
    return seen


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


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
                    target=_offer_mix,
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
                context.Process(target=_flood, args=(port, flood_article, seconds, interval, start, results))
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
    cpu_mark = {"master": cpu_seconds(master), "redis": cpu_seconds(redis_pid), "self": _cpu_seconds()}
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
                    "cpu_watcher_s": round(_cpu_seconds() - cpu_mark["self"], 1),  # this process
                    "cpu_machine_busy_share": round((busy - machine_mark[0]) / (total - machine_mark[1]), 3),
                }
            )
            cpu_mark = {"master": cpu_seconds(master), "redis": cpu_seconds(redis_pid), "self": _cpu_seconds()}
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


class Collector:
    """What the load processes report, interval by interval, drained while the run goes on."""

    def __init__(self, results: Any, processes: int, intervals: int) -> None:
        self.results = results
        self.processes = processes
        self.intervals = intervals
        self.buckets = [Interval() for _ in range(intervals)]
        self.flood: list[Counter] = [Counter() for _ in range(intervals)]
        self.flood_cpu = [0.0] * intervals
        self.acknowledged: Counter = Counter()
        self.sent = 0
        self.finished = 0
        self.flood_finished = False
        self.slowest: dict[int, float] = {}  # 10-second slot -> slowest read of any load process, ms

    @property
    def done(self) -> bool:
        return self.finished == self.processes and self.flood_finished

    def drain(self, timeout: float | None = None) -> None:
        """Take every message waiting (or the next one within `timeout`, when given)."""
        while True:
            try:
                message = self.results.get(timeout=timeout) if timeout else self.results.get_nowait()
            except queue.Empty:
                if timeout:
                    raise RuntimeError("the load processes did not report back") from None
                return
            self._take(message)
            if timeout:
                return

    def _take(self, message: tuple) -> None:
        if message[0] == "interval":
            _, _, number, fields = message
            part = Interval(**fields)
            bucket = self.buckets[min(number, self.intervals - 1)]
            bucket.reads += part.reads
            bucket.read_errors.update(part.read_errors)
            bucket.latencies.extend(part.latencies)
            bucket.events.update(part.events)
            bucket.sent += part.sent
            bucket.cpu += part.cpu
            bucket.idle += part.idle
            for slot, latency in part.slowest.items():
                self.slowest[slot] = max(self.slowest.get(slot, 0.0), latency)
        elif message[0] == "done":
            self.acknowledged.update(message[2])
            self.sent += message[3]
            self.finished += 1
        elif message[0] == "flood":
            _, number, statuses, cpu = message
            self.flood[min(number, self.intervals - 1)].update(statuses)
            self.flood_cpu[min(number, self.intervals - 1)] += cpu
        elif message[0] == "flood-done":
            self.flood_finished = True


def log_lines(log: str) -> dict[str, int]:
    """What the service logged besides its access log."""
    return {
        "tracebacks": log.count("Traceback (most recent call last)"),
        "worker_timeouts": log.count("WORKER TIMEOUT"),
        "store_unavailable_warnings": log.count("page-view store unavailable"),
        "popular_not_refreshed_warnings": log.count("popular lists not refreshed"),
        "dropped_views_errors": log.count("dropped the") + log.count("dropped a page view"),
        "not_written_at_exit": log.count("page views not written"),
    }


def cpu_cores(resources: dict, load: float, flood: float, length: float) -> dict[str, float]:
    """Where the machine's cores went during an interval (2 cores busy all the time = 2.0)."""
    busy = resources.get("cpu_machine_busy_share", 0) * os.cpu_count() * length
    ours = {
        "workers": resources.get("cpu_workers_s", 0),
        "gunicorn_master": resources.get("cpu_master_s", 0),
        "redis": resources.get("cpu_redis_s", 0),
        "load_processes": load,
        "flood": flood,
        "watcher": resources.get("cpu_watcher_s", 0),
    }
    # Everything else: other processes on the machine and kernel time charged to no process (softirq).
    ours["rest"] = max(0.0, busy - sum(ours.values()))
    return {"machine": round(busy / length, 2)} | {name: round(value / length, 2) for name, value in ours.items()}


def summarise(args, collected: Collector, samples: dict, counted: Counter, log: str, article_ids: list[str],
              flood_article: str, weights_source: str, workers_at_end: list[int]) -> dict:  # fmt: skip
    interval = args.interval
    timeline = samples["timeline"]
    rows = []
    for number, bucket in enumerate(collected.buckets):
        lo, hi = number * interval, (number + 1) * interval
        in_interval = [entry for entry in timeline if lo <= entry["t"] < hi]
        pending: dict[str, list[int]] = {}
        for entry in in_interval:
            for pid, n in entry["pending"].items():
                pending.setdefault(pid, []).append(n)
        latencies = sorted(bucket.latencies)
        flood = collected.flood[number]
        resources = samples["per_interval"][number] if number < len(samples["per_interval"]) else {}
        length = min(interval, args.minutes * 60 - lo)
        rows.append(
            {
                "minute": number + 1 if interval == 60 else f"{lo:.0f}-{lo + length:.0f}s",
                "requests": bucket.sent,
                "requests_per_s": round(bucket.sent / length, 1),
                "reads": bucket.reads,
                "read_errors": sum(bucket.read_errors.values()),
                "read_error_kinds": dict(bucket.read_errors),
                "read_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
                "read_p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
                "read_max_ms": round(latencies[-1], 1) if latencies else None,
                "events": {str(k): v for k, v in bucket.events.items()},
                "rss_mib": resources.get("rss_mib"),
                "rss_anon_mib": resources.get("rss_anon_mib"),
                "rss_file_mib": resources.get("rss_file_mib"),
                "pending_views_max": {pid: max(values) for pid, values in pending.items()},
                "pending_views_end": in_interval[-1]["pending"] if in_interval else None,
                "accept_queue_max": max((entry["accept"] for entry in in_interval), default=0),
                "redis_paused_s": round(
                    max(0.0, min(hi, (samples["resumed_at"] or hi)) - max(lo, samples["paused_at"] or hi)), 1
                ),
                "flood": {str(k): v for k, v in flood.items()},
                "flood_per_s": round(sum(flood.values()) / length, 1),
                "cpu_cores": cpu_cores(resources, bucket.cpu, collected.flood_cpu[number], length),
                "load_idle_share": round(bucket.idle / (length * args.processes), 3),
            }
        )
    acknowledged: Counter = collected.acknowledged
    flood_total: Counter = sum(collected.flood, Counter())
    readers_counted = Counter({a: n for a, n in counted.items() if a != flood_article})
    paused_at, resumed_at = samples["paused_at"], samples["resumed_at"]
    recovery = None
    if resumed_at is not None:
        before = [sum(e["pending"].values()) for e in timeline if paused_at - 60 <= e["t"] < paused_at]
        normal = max(200, max(before, default=0))
        after = [e for e in timeline if e["t"] >= resumed_at and sum(e["pending"].values()) <= normal]
        recovery = round(after[0]["t"] - resumed_at, 1) if after else None
    during = [e for e in timeline if paused_at is not None and paused_at <= e["t"] <= (resumed_at or paused_at) + 60]
    peak: dict[str, int] = {}
    for entry in during:
        for pid, n in entry["pending"].items():
            peak[pid] = max(peak.get(pid, 0), n)
    peak_at = max(during, key=lambda e: sum(e["pending"].values()), default=None)
    return {
        "corpus": "reuters21578" if args.corpus == REUTERS else args.corpus.name,
        "articles": len(article_ids),
        "minutes": args.minutes,
        "offered_per_s": args.rate,
        "mix": dict(MIX),
        "load_processes": args.processes,
        "view_weights": weights_source,
        "redis_paused_at_s": round(paused_at, 1) if paused_at is not None else None,
        "redis_resumed_at_s": round(resumed_at, 1) if resumed_at is not None else None,
        "pending_views_peak": peak,  # per worker, from the pause to a minute after it
        "pending_views_peak_at_s": peak_at["t"] if peak_at else None,
        "buffers_back_to_normal_after_resume_s": recovery,
        "requests": collected.sent,
        "read_errors": sum(row["read_errors"] for row in rows),
        "reader_views_acknowledged": sum(acknowledged.values()),
        "reader_views_counted_in_redis": sum(readers_counted.values()),
        "reader_views_per_article_mismatches": sum(
            1 for a in set(acknowledged) | set(readers_counted) if acknowledged[a] != readers_counted[a]
        ),
        "reader_events_not_202": sum(n for row in rows for status, n in row["events"].items() if status != "202"),
        "flood_statuses": {str(k): v for k, v in flood_total.items()},
        "flood_views_counted_in_redis": counted.get(flood_article, 0),
        "worker_pids": samples["worker_pids_seen"],
        "worker_pids_at_end": workers_at_end,
        "log": log_lines(log),
        "rows": rows,
        "slowest_read_ms_by_10s": {
            f"{slot * 10}-{slot * 10 + 10}s": round(ms, 1) for slot, ms in sorted(collected.slowest.items())
        },  # fmt: skip
        "pending_timeline": timeline,
    }


def table(result: dict) -> str:
    """The per-minute markdown table."""
    pids = result["worker_pids"]
    lines = [
        "| minute | requests (/s) | read errors | read p50 / p99 ms | RSS per worker MiB (of which heap) "
        "| view buffer max per worker | accept queue max | flood 202 / 429 (/s) "
        "| cores busy: workers / load / rest | load idle |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        anon = row.get("rss_anon_mib") or {}
        rss = (
            " / ".join(
                f"{row['rss_mib'].get(str(pid), '–')}" + (f" ({anon[str(pid)]})" if anon.get(str(pid)) else "")
                for pid in pids
            )
            if row["rss_mib"]
            else "–"
        )
        pending = " / ".join(str(row["pending_views_max"].get(str(pid), "–")) for pid in pids)
        minute = f"{row['minute']}" + (
            f" (Redis paused {row['redis_paused_s']:.0f} s)" if row["redis_paused_s"] else ""
        )
        cpu = row["cpu_cores"]
        lines.append(
            f"| {minute} | {row['requests']:,} ({row['requests_per_s']:.0f}) | {row['read_errors']} "
            f"| {row['read_p50_ms']} / {row['read_p99_ms']} | {rss} | {pending} | {row['accept_queue_max']} "
            f"| {row['flood'].get('202', 0)} / {row['flood'].get('429', 0):,} ({row['flood_per_s']:.0f}) "
            f"| {cpu['machine']}: {cpu['workers']} / {cpu['load_processes'] + cpu['flood']:.2f} / {cpu['rest']} "
            f"| {row['load_idle_share']:.0%} |"
        )
    return "\n".join(lines)


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
