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

from recommender.config import Settings

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
BEACONS_NICE = 10  # about the share CPUWeight=10 gives the beacons' workers in deploy/recommender-events.service
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


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

    def wait_for_prepared_lists(self, workers: int, timeout: float) -> float:
        """Until each worker has prepared its likeliest lists in the background (RECOMMENDER_WARM_ARTICLES):
        its steady state, which a measurement of serving starts from. Returns the seconds waited."""
        started, warm = time.monotonic(), Settings().warm_articles  # as the environment the workers inherit says
        prepared: dict[int, bool] = {}
        while sum(prepared.values()) < workers:
            _, health = get_json(f"{self.base}/healthz")
            prepared[health["worker_pid"]] = health["lists_prepared"] >= min(health["article_count"], warm)
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the workers' lists were not prepared: {prepared}")
            time.sleep(0.05)
        return time.monotonic() - started


def service_environment(index: Path, workdir: Path, **environment: str) -> dict[str, str]:
    """The service's settings for a benchmark or load test: its stores in ``workdir``, as behind one proxy."""
    return {
        **os.environ,
        # As behind one reverse proxy: the load processes name their simulated readers in X-Forwarded-For.
        "RECOMMENDER_TRUSTED_PROXIES": "1",
        "RECOMMENDER_INDEX": str(index),
        "RECOMMENDER_POPULARITY_URL": f"sqlite:///{workdir / 'views.sqlite3'}",
        "RECOMMENDER_CHANGES": str(workdir / "changes.sqlite3"),
        **environment,
    }


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
    access = {} if access_log else {"GUNICORN_ACCESS_LOG": "off"}
    env = service_environment(index, workdir, **access, **environment)
    with _serving(command, env, port, workdir / "gunicorn.log", boot_seconds) as server:
        yield server


@contextmanager
def beacons_server(index: Path, workdir: Path, workers: int = 2, nice: int = BEACONS_NICE) -> Iterator[Server]:
    """The page-view beacons' own workers, as deploy/recommender-events.service runs them: the same app under
    granian (WSGI, one thread per worker), at a lower CPU weight, without an access log."""
    port = free_port()
    binary = Path(sys.executable).parent / "granian"
    command = [
        *(["nice", "-n", str(nice)] if nice else []),
        str(binary), "--interface", "wsgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--blocking-threads", "1", "--no-access-log", "service:create_app",
    ]  # fmt: skip
    # Each worker counts in its own files there and a scrape sums them, as under gunicorn's config.
    metrics = workdir / "beacons-metrics"
    metrics.mkdir(exist_ok=True)
    env = service_environment(index, workdir, PROMETHEUS_MULTIPROC_DIR=str(metrics), RECOMMENDER_WARM_ARTICLES="0")
    # Every worker must be up: granian stopped while one was still loading the app had not exited 30 s later
    # (2 of 4 trials).
    with _serving(command, env, port, workdir / "granian.log", boot_seconds=60, workers=workers) as server:
        lower_group_priority(server.process.pid, nice)
        yield server


def lower_group_priority(pid: int, nice: int) -> None:
    """What the unit's CPUWeight=10 does, here: a nice ranks a process only within its scheduling group, and a
    server in a session of its own has a group of its own, whose nice (110/1024 of a share at 10) counts."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    if nice and autogroup.exists():  # absent when the kernel has no autogroups, where the process's nice serves
        try:
            autogroup.write_text(str(nice))
        except OSError as error:  # EAGAIN: a user without CAP_SYS_ADMIN may set one every 100 ms
            print(f"the beacons' workers keep a full CPU share: {error}", file=sys.stderr)


@contextmanager
def _serving(
    command: list[str], env: dict[str, str], port: int, log: Path, boot_seconds: float, workers: int = 1
) -> Iterator[Server]:
    """Start a server, wait until it answers (from ``workers`` different workers), and stop it gracefully at the
    end (SIGKILL if it hangs)."""
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + boot_seconds
        answered: set[int] = set()
        while len(answered) < workers:
            try:
                with urllib.request.urlopen(f"{server.base}/healthz", timeout=5) as response:
                    answered.add(json.load(response)["worker_pid"] if workers > 1 else 0)
            except urllib.error.HTTPError:  # answering: a floor app has no /healthz
                break
            except OSError:
                pass
            if len(answered) < workers:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start: {log.read_text()[-2000:]}")
                time.sleep(0.05)
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
