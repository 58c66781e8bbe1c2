"""Resident memory of 1 gunicorn worker against 4, serving the largest shared corpus.

The index's arrays (neighbour lists, TF-IDF matrix) are memory-mapped, so the
workers share one copy in the page cache. Each process's RSS counts the shared
pages in full, which overstates the total; PSS (proportional set size, from
/proc/PID/smaps_rollup) divides each shared page among its sharers, so the sum
of PSS over the master and its workers is the machine's real cost. Each worker
is warmed first with requests over many articles, so the pages in use are
resident. The baseline, in the same run, is 4 x one worker: what 4 private
copies would cost.

Rerun: ``.venv/bin/python -m bench.memory``; results also go to ``bench/results/memory.json``.
``--index DIR`` measures an index built beforehand instead (a million articles: ``python -m bench.synth
1000000 big.jsonl``, ``recommender build --corpus big.jsonl --out DIR``, then ``--boot-seconds 300``,
as each worker then takes longer than gunicorn's 30-second timeout to load it).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench.harness import get_json, gunicorn

REPO = Path(__file__).resolve().parent.parent
REUTERS = REPO.parent / "shared" / "corpora" / "reuters21578" / "articles.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss and Private_* of one process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def measure(root: Path, scratch: Path, workers: int, article_ids: list[str], boot_seconds: float = 60) -> dict:
    workdir = scratch / f"w{workers}"
    workdir.mkdir()
    started = time.monotonic()
    with gunicorn(
        root, workdir, workers=workers, boot_seconds=boot_seconds, RECOMMENDER_RELOAD_INTERVAL_SECONDS="0"
    ) as server:
        while server.log.read_text().count("at start") < workers:  # each worker logs the version it loaded
            if time.monotonic() - started > boot_seconds:
                raise RuntimeError(f"not every worker loaded the index: {server.log.read_text()[-2000:]}")
            time.sleep(0.2)
        boot = round(time.monotonic() - started, 1)
        for article_id in article_ids:  # spread over the workers by the kernel's accept queue
            quoted = urllib.parse.quote(article_id, safe="")
            get_json(f"{server.base}/api/v1/articles/{quoted}/recommendations")
        processes = [server.process.pid, *children(server.process.pid)]
        readings = [smaps(pid) for pid in processes]
    worker_readings = readings[1:]
    mib = 1024
    return {
        "workers": workers,
        "seconds_until_every_worker_loaded": boot,  # from gunicorn's start
        "total_rss_mib": round(sum(r["Rss"] for r in readings) / mib, 1),
        "total_pss_mib": round(sum(r["Pss"] for r in readings) / mib, 1),
        "per_worker_rss_mib": round(sum(r["Rss"] for r in worker_readings) / len(worker_readings) / mib, 1),
        "per_worker_private_mib": round(
            sum(r["Private_Clean"] + r["Private_Dirty"] for r in worker_readings) / len(worker_readings) / mib, 1
        ),
        "per_worker_shared_mib": round(
            sum(r["Shared_Clean"] + r["Shared_Dirty"] for r in worker_readings) / len(worker_readings) / mib, 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index already built (e.g. of a million articles) instead")
    parser.add_argument("--boot-seconds", type=float, default=60, help="time a worker may take to load the index")
    args = parser.parse_args()
    corpus = REUTERS if REUTERS.exists() else REPO / "corpus" / "wikinews.jsonl"
    if args.index is None and corpus != REUTERS:
        print("../shared is absent: measuring on the bundled corpus")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        root = args.index or scratch / "root"
        if args.index is None:
            recommender = Path(sys.executable).parent / "recommender"
            command = [str(recommender), "build", "--corpus", str(corpus), "--index-root", str(root)]
            subprocess.run(command, check=True, capture_output=True)
        served = root / "current" if (root / "current").is_dir() else root
        arrays_mib = sum(path.stat().st_size for path in served.glob("*.npy")) / 2**20
        article_ids = [json.loads(line)["id"] for line in (served / "articles.jsonl").open(encoding="utf-8")]
        sample = random.Random(0).sample(article_ids, min(2000, len(article_ids)))
        one, four = (measure(root, scratch, workers, sample, args.boot_seconds) for workers in (1, 4))
    result = {
        "corpus": str(args.index) if args.index else corpus.parent.name,
        "articles": len(article_ids),
        "arrays_mib": round(arrays_mib, 1),
        "one": one,
        "four": four,
        "pss_ratio_4_to_1": round(four["total_pss_mib"] / one["total_pss_mib"], 2),
        "rss_ratio_4_to_1": round(four["total_rss_mib"] / one["total_rss_mib"], 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("memory-index.json" if args.index else "memory.json")).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['articles']} articles ({result['corpus']}), arrays (.npy) {result['arrays_mib']} MiB\n")
    print("| workers | total PSS MiB | total RSS MiB | per worker RSS | per worker private | per worker shared |")
    print("|---|---|---|---|---|---|")
    for row in (one, four):
        print(
            f"| {row['workers']} | {row['total_pss_mib']} | {row['total_rss_mib']} | {row['per_worker_rss_mib']} | "
            f"{row['per_worker_private_mib']} | {row['per_worker_shared_mib']} |"
        )
    print(f"\n4 workers / 1 worker: PSS x{result['pss_ratio_4_to_1']} (4 private copies would be x4)")


if __name__ == "__main__":
    main()
