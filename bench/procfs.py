"""What the soak reads about processes and the machine from /proc, and a redis-server it can pause."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import redis

from bench.harness import free_port, get_json

TICKS = os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss, Private_* and Shared_* of one process from /proc/<pid>/smaps_rollup, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


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
