"""Run the real service under gunicorn and offer it load: shared by the benchmarks and the load tests.

Everything stays on 127.0.0.1, on free ports, bounded in time, and is stopped
by the context managers that start it.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
SKIPPED_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}  # not replayed by the floor
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
CALIBRATION_SECONDS = 2  # each of wrk_views' short runs that set its pace


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL the master and every worker: what a crash or an OOM kill does."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def gunicorn(
    index: Path,
    workdir: Path,
    workers: int = 2,
    worker_class: str = "gthread",
    app: str = "service:create_app()",
    access_log: bool = True,
    boot_seconds: float = 60,
    **environment: str,
) -> Iterator[Server]:
    """The real app (or ``app``) under gunicorn with the production config, on a free loopback port.

    ``boot_seconds``: how long a worker may take to load the index (a million articles take more than the
    config's 30-second worker timeout) and the server to answer."""
    port = free_port()
    binary = Path(sys.executable).parent / "gunicorn"
    command = [
        str(binary), "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", worker_class, "--threads", "4", *(["--access-logfile", "-"] if access_log else []),
        *(["--timeout", str(round(boot_seconds))] if boot_seconds > 30 else []), app,
    ]  # fmt: skip
    env = {
        **os.environ,
        # As behind one reverse proxy: the load processes name their simulated readers in X-Forwarded-For.
        "RECOMMENDER_TRUSTED_PROXIES": "1",
        "RECOMMENDER_INDEX": str(index),
        "RECOMMENDER_POPULARITY_URL": f"sqlite:///{workdir / 'views.sqlite3'}",
        "RECOMMENDER_CHANGES": str(workdir / "changes.sqlite3"),
        **({} if access_log else {"GUNICORN_ACCESS_LOG": "off"}),
        **environment,
    }
    log = workdir / "gunicorn.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + boot_seconds
        while True:
            try:
                urllib.request.urlopen(f"{server.base}/healthz", timeout=5).close()
                break
            except urllib.error.HTTPError:  # answering: a floor app has no /healthz
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: workers flush their buffered views
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


@dataclass
class LoadResult:
    acknowledged: Counter = field(default_factory=Counter)
    errors: int = 0
    sent: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return sum(self.acknowledged.values()) / self.seconds if self.seconds else 0.0


def _offer_views(port: int, article_ids: Sequence[str], weights: Sequence[float], rate: float, seconds: float,
                 seed: int, start: Any, results: multiprocessing.Queue) -> None:  # fmt: skip
    """One load process: page views at `rate` per second over one keep-alive connection.

    Each view comes from one of 4,096 simulated readers of this process (an address from the
    IPv6 documentation prefix in X-Forwarded-For, so the per-client rate limit sees readers, not
    one flooding client) with a visitor id of its own, so every acknowledged view counts once.
    """
    rng = random.Random(seed)
    start.wait()  # every process is up: the clock starts for all of them at once
    acknowledged: Counter = Counter()
    errors = sent = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER}
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if sent > elapsed * rate:  # ahead of schedule: wait for the next slot
            time.sleep(min(0.01, sent / rate - elapsed))
            continue
        article_id = rng.choices(article_ids, weights)[0]
        sent += 1
        event = {"type": "view", "article_id": article_id, "visitor_id": f"load-{seed}-{sent}"}
        reader = {"X-Forwarded-For": f"2001:db8::{seed:x}:{sent % 4096:x}"}
        try:
            connection.request("POST", "/api/v1/events", json.dumps(event), headers | reader)
            response = connection.getresponse()
            response.read()
            if response.status == 202:
                acknowledged[article_id] += 1
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.close()
    results.put((acknowledged, errors, sent, time.monotonic() - started))


@contextmanager
def offered_views(
    base: str, article_ids: Sequence[str], weights: Sequence[float], rate: float, seconds: float, processes: int = 8
) -> Iterator[LoadResult]:
    """Offer `rate` views per second for `seconds` from other processes; the result fills in on exit."""
    port = int(base.rsplit(":", 1)[1])
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    start = context.Barrier(processes + 1)
    workers = [
        context.Process(
            target=_offer_views,
            args=(port, list(article_ids), list(weights), rate / processes, seconds, seed, start, queue),
        )
        for seed in range(processes)
    ]
    for worker in workers:
        worker.start()
    start.wait(timeout=120)  # the load begins with the caller's block, not while the processes import
    result = LoadResult()
    try:
        yield result
    finally:
        for _ in workers:
            acknowledged, errors, sent, elapsed = queue.get(timeout=seconds + 120)
            result.acknowledged.update(acknowledged)
            result.errors += errors
            result.sent += sent
            result.seconds = max(result.seconds, elapsed)
        for worker in workers:
            worker.join(timeout=30)
        queue.close()
        queue.join_thread()


def flood(
    base: str, body: dict, count: int, headers: dict[str, str] | None = None, reconnect_every: int = 50
) -> Counter:
    """One client sending `count` events back to back; statuses counted.

    It opens a new connection every `reconnect_every` events, so that every worker gets its share.
    """
    port = int(base.rsplit(":", 1)[1])
    statuses: Counter = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER, **(headers or {})}
    try:
        for number in range(count):
            if number and number % reconnect_every == 0:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("POST", "/api/v1/events", json.dumps(body), headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
            if response.status == 429 and not response.getheader("Retry-After", "").isdigit():
                statuses["429 without Retry-After"] += 1
    finally:
        connection.close()
    return statuses


def stored_views(database: Path) -> Counter:
    """Views per article as the SQLite store holds them, read directly."""
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        rows = connection.execute("SELECT article_id, SUM(views) FROM view_counts GROUP BY article_id").fetchall()
        return Counter(dict(rows))
    finally:
        connection.close()


def integrity(database: Path) -> str:
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


# wrk posting page views: each of its two threads walks its own half of a file of prepared events
# ("address<TAB>body" lines, one simulated reader each), pausing WRK_DELAY_MS after each response.
VIEWS_SCRIPT = """
local lines = {}
for line in io.lines(os.getenv("WRK_EVENTS")) do lines[#lines + 1] = line end
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS"))
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
function init(args)
  position = first
end
function request()
  local address, body = lines[position % #lines + 1]:match("^(%S+)\\t(.*)$")
  position = position + 2
  return wrk.format("POST", "/api/v1/events", {
    ["Content-Type"] = "text/plain;charset=UTF-8", ["X-Forwarded-For"] = address,
    ["User-Agent"] = os.getenv("WRK_AGENT"),
  }, body)
end
function delay()
  return delay_ms
end
"""


def capture(base: str, paths: list[str]) -> dict[str, Any]:
    """What the service answers for each path: status, headers, body, for the floor to replay."""
    captured = {}
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in SKIPPED_HEADERS]
            captured[path] = [f"{response.status} {response.reason}", headers, response.read().decode()]
    return captured


def wrk_command(base: str, script: Path, seconds: float, connections: int) -> list[str]:
    return ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), base]


def wrk_summary(output: str) -> dict[str, float]:
    """Throughput, latency and errors from what wrk printed."""
    throughput = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    if throughput is None or requests is None:
        raise RuntimeError(f"wrk printed no throughput: {output}")
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": int(requests.group(1)),
        "requests_per_second": float(throughput.group(1)),
        "p50_ms": _milliseconds(latency["50"]),
        "p99_ms": _milliseconds(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": 0 if socket_errors is None else 1,
    }


def wrk(base: str, script: Path, seconds: float, connections: int, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        wrk_command(base, script, seconds, connections),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
        env=env,
    )
    return wrk_summary(done.stdout)


def _milliseconds(value: str) -> float:
    parsed = re.fullmatch(r"([\d.]+)([a-z]+)", value)
    if parsed is None:
        raise RuntimeError(f"not a wrk latency: {value!r}")
    number, unit = parsed.groups()
    return float(number) * WRK_UNITS[unit]


@dataclass
class WrkViews:
    """What wrk reported once the load ended: requests sent and answered, their rate, non-2xx answers."""

    summary: dict[str, float] = field(default_factory=dict)


@contextmanager
def wrk_views(
    base: str, article_ids: Sequence[str], weights: Sequence[float], rate: float, seconds: float, workdir: Path,
    connections: int = 64,
) -> Iterator[WrkViews]:  # fmt: skip
    """Page views at about `rate` per second from wrk, in the background, for the caller's block.

    wrk is C: the same load from Python processes takes about a core of this 2-core machine by itself
    and never reaches 2,000 views a second. Each view comes from a simulated reader of its own (an
    address in X-Forwarded-For, a visitor id), so the rate limit and the dedupe see readers. wrk has
    no rate option: each connection waits a delay after each answer, and the delay is set from short
    runs that measure the answer time, so that connections / (answer time + delay) = rate.
    """
    rng = random.Random(0)
    script = workdir / "views.lua"
    script.write_text(VIEWS_SCRIPT)
    env = {**os.environ, "WRK_AGENT": BROWSER}

    def events_file(name: str, count: int) -> str:
        path = workdir / name
        with path.open("w") as file:
            for number, article_id in enumerate(rng.choices(article_ids, weights, k=count)):
                event = {"type": "view", "article_id": article_id, "visitor_id": f"{name}-{number}"}
                file.write(f"2001:db8:{number >> 16:x}::{number & 0xFFFF:x}\t{json.dumps(event)}\n")
        return str(path)

    env |= {"WRK_EVENTS": events_file("calibration.tsv", int(rate * 2 * CALIBRATION_SECONDS))}
    delay = connections * 1000 / rate
    for _ in range(3):  # the answer time grows with the load: settle on the delay that gives the rate
        trial = wrk(base, script, CALIBRATION_SECONDS, connections, env | {"WRK_DELAY_MS": f"{delay:.3f}"})
        answer_ms = max(0.0, connections * 1000 / max(trial["requests_per_second"], 1.0) - delay)
        delay = max(0.0, connections * 1000 / rate - answer_ms)
        if abs(trial["requests_per_second"] - rate) < 0.05 * rate:
            break
    env |= {"WRK_EVENTS": events_file("views.tsv", int(rate * seconds * 1.5)), "WRK_DELAY_MS": f"{delay:.3f}"}
    command = wrk_command(base, script, seconds, connections)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    result = WrkViews()
    try:
        yield result
    finally:
        output, _ = process.communicate(timeout=seconds + 60)
        result.summary = wrk_summary(output)
