"""wrk, the C load generator, driven from the benchmarks: page views at a set rate, and what the service
answers captured for the floor to replay (bench/floor.py).

wrk is C: the same load from Python processes takes about a core of this 2-core machine by itself.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import BROWSER

SKIPPED_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}  # not replayed by the floor
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
CALIBRATION_SECONDS = 2  # each of wrk_views' short runs that set its pace


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
