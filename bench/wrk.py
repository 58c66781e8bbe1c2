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


# wrk posting page views: each of its two threads walks its own half of a file of prepared events
# ("address<TAB>body" lines, one simulated reader each). The pace is open-loop: each thread starts a
# request every WRK_INTERVAL_MS on a schedule read from the monotonic clock (LuaJIT's ffi), whatever the
# answers take, as long as a connection is free; a thread more than 50 ms behind its schedule drops
# the missed slots instead of bursting to catch up.
VIEWS_SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
int clock_gettime(int clock, wrk_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("wrk_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end
local lines = {}
for line in io.lines(os.getenv("WRK_EVENTS")) do lines[#lines + 1] = line end
local interval_ms = tonumber(os.getenv("WRK_INTERVAL_MS"))
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
local slot = nil
function delay()
  local now = now_ms()
  if slot == nil or slot < now - 50 then slot = now end
  slot = slot + interval_ms
  return math.max(0, slot - now)
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
    no rate option: its two threads each start a request every 2 / `rate` seconds on a clock of their
    own (VIEWS_SCRIPT), so the rate does not fall when answers slow down, up to `connections` in flight.
    """
    rng = random.Random(0)
    script = workdir / "views.lua"
    script.write_text(VIEWS_SCRIPT)
    path = workdir / "views.tsv"
    with path.open("w") as file:
        for number, article_id in enumerate(rng.choices(article_ids, weights, k=int(rate * seconds * 1.5))):
            event = {"type": "view", "article_id": article_id, "visitor_id": f"views-{number}"}
            file.write(f"2001:db8:{number >> 16:x}::{number & 0xFFFF:x}\t{json.dumps(event)}\n")
    env = {**os.environ, "WRK_AGENT": BROWSER, "WRK_EVENTS": str(path), "WRK_INTERVAL_MS": f"{2000 / rate:.6f}"}
    command = wrk_command(base, script, seconds, connections)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    result = WrkViews()
    try:
        yield result
    finally:
        output, _ = process.communicate(timeout=seconds + 60)
        result.summary = wrk_summary(output)
