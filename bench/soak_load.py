"""The soak's load processes: the reader mix at a steady rate, and one flooding client; what each interval saw."""

from __future__ import annotations

import http.client
import itertools
import json
import queue
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.harness import BROWSER
from bench.procfs import own_cpu_seconds

MIX = (("related", 0.4), ("recommendations", 0.3), ("event", 0.3))


READERS_PER_PROCESS = 4096


FLOOD_ADDRESS = "198.51.100.7"  # one client, as the proxy saw it


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


def offer_mix(port: int, paths: dict[str, list[str]], views: tuple[list[str], list[float]], rate: float,
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
    cpu_mark = own_cpu_seconds()
    acknowledged: Counter = Counter()
    sent = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"User-Agent": BROWSER}
    event_headers = headers | {"Content-Type": "text/plain;charset=UTF-8"}
    while (elapsed := time.monotonic() - started) < seconds:
        number = int(elapsed // interval)
        if number != current:  # the interval is over: hand it to the main process
            bucket.cpu, cpu_mark = own_cpu_seconds() - cpu_mark, own_cpu_seconds()
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
    bucket.cpu = own_cpu_seconds() - cpu_mark
    results.put(("interval", seed, current, vars(bucket)))
    results.put(("done", seed, acknowledged, sent))


def flood_events(port: int, article_id: str, seconds: float, interval: float, start: Any, results: Any) -> None:
    """One client sending the same view back to back, without a visitor id, from one address."""
    body = json.dumps({"type": "view", "article_id": article_id})
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER, "X-Forwarded-For": FLOOD_ADDRESS}
    start.wait()
    started = time.monotonic()
    current, statuses = 0, Counter[int | str]()
    cpu_mark = own_cpu_seconds()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        number = int(elapsed // interval)
        if number != current:
            cpu, cpu_mark = own_cpu_seconds() - cpu_mark, own_cpu_seconds()
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
    results.put(("flood", current, statuses, own_cpu_seconds() - cpu_mark))
    results.put(("flood-done",))


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


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
