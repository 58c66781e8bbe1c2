"""Turning what the soak collected into its JSON result and the README's table."""

from __future__ import annotations

import os
import statistics
from collections import Counter

from bench.soak_load import MIX, Collector, percentile


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
        "corpus": "reuters21578" if args.corpus.parent.name == "reuters21578" else args.corpus.name,
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
