"""A worker's memory and start-up: 1 gunicorn worker against 4, and one worker's load and hot reload.

The index's arrays (neighbour lists, TF-IDF matrix, record tables) and its records file are memory-mapped,
so the workers share one copy in the page cache. Each process's RSS counts the shared pages in full,
which overstates the total; PSS (proportional set size, from /proc/PID/smaps_rollup) divides each shared
page among its sharers, so the sum of PSS over the master and its workers is the machine's real cost.
Each worker is warmed first with requests over many articles, so the pages in use are resident. The
baseline, in the same run, is 4 x one worker: what 4 private copies would cost.

Then bench/app_load.py, in a child process: ``create_app()``'s time, a worker's private memory, ``/related``
in process, and the private memory a hot reload adds at its peak. With ``--index``, the same child also
runs on the bundled corpus's index, for ``/related`` at both sizes in the same run.

Rerun: ``.venv/bin/python -m bench.memory``; results also go to ``bench/results/memory.json``.
``--index DIR`` measures an index built beforehand instead, into ``memory-index.json`` (a million
articles: ``python -m bench.synth 1000000 big.jsonl``, then ``recommender build --corpus big.jsonl --out DIR``).
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
from bench.procfs import children, smaps
from recommender.indexing.storage import load_index

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "corpus" / "wikinews.jsonl"
REUTERS = REPO.parent / "shared" / "corpora" / "reuters21578" / "articles.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"


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
        server.wait_for_prepared_lists(workers, 2 * boot_seconds)  # part of each worker's steady state
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
        "per_worker_anonymous_mib": round(sum(r["Anonymous"] for r in worker_readings) / len(worker_readings) / mib, 1),
        "per_worker_shared_mib": round(
            sum(r["Shared_Clean"] + r["Shared_Dirty"] for r in worker_readings) / len(worker_readings) / mib, 1
        ),
    }


def two_versions(index: Path, root: Path) -> Path:
    """An index root serving ``index`` as version a, with the same files as version b to reload into."""
    for name in ("a", "b"):
        version = root / "versions" / name
        version.mkdir(parents=True)
        for path in index.iterdir():
            (version / path.name).symlink_to(path.resolve())
    (root / "current").symlink_to(Path("versions") / "a")
    return root


def app_load(index: Path, scratch: Path, article_ids: list[str]) -> dict:
    """bench/app_load.py's figures for ``index``, in a fresh child process."""
    scratch.mkdir()
    root = two_versions(index, scratch / "root")
    ids_file = scratch / "ids.txt"
    ids_file.write_text("\n".join(article_ids) + "\n", encoding="utf-8")
    # The figures are for a warm page cache, as a worker finds it beside others serving the same files. This
    # machine's kernel pages out what nobody touched for a few seconds (DAMON reclaim), which made create_app()
    # read the index from disk in some runs (2.2 and 3.7 s against 0.3 s): read it all first, here, so that
    # the child's heap holds none of it.
    started = time.perf_counter()
    for path in index.iterdir():
        with path.open("rb") as file:
            while file.read(1 << 24):
                pass
    read_seconds = time.perf_counter() - started
    command = [sys.executable, "-m", "bench.app_load", str(root), str(scratch), str(ids_file)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.app_load failed: {done.stderr[-3000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return {"index_read_seconds": round(read_seconds, 2), **result}


def sampled_ids(index: Path, count: int) -> tuple[int, list[str]]:
    loaded = load_index(index, verify_checksums=False)
    rows = random.Random(0).sample(range(len(loaded)), min(count, len(loaded)))
    return len(loaded), [loaded.id_of(row) for row in rows]


def build(corpus: Path, out: Path) -> Path:
    recommender = Path(sys.executable).parent / "recommender"
    subprocess.run(
        [str(recommender), "build", "--corpus", str(corpus), "--out", str(out)], check=True, capture_output=True
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index already built (e.g. of a million articles) instead")
    parser.add_argument("--boot-seconds", type=float, default=60, help="time a worker may take to load the index")
    args = parser.parse_args()
    corpus = REUTERS if REUTERS.exists() else BUNDLED
    if args.index is None and corpus != REUTERS:
        print("../shared is absent: measuring on the bundled corpus")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        served = args.index.resolve() if args.index else build(corpus, scratch / "index")
        articles, sample = sampled_ids(served, 2000)
        worker = app_load(served, scratch / "app", sample)
        small = None
        if args.index is not None:
            small_index = build(BUNDLED, scratch / "bundled")
            small = app_load(small_index, scratch / "app-bundled", sampled_ids(small_index, 2000)[1])
        root = two_versions(served, scratch / "root")
        one, four = (measure(root, scratch, workers, sample, args.boot_seconds) for workers in (1, 4))
        arrays_mib = sum(path.stat().st_size for path in served.glob("*.npy")) / 2**20
        records_mib = (served / "articles.jsonl").stat().st_size / 2**20
    result = {
        "corpus": str(args.index) if args.index else corpus.parent.name,
        "articles": articles,
        "arrays_mib": round(arrays_mib, 1),
        "records_mib": round(records_mib, 1),
        "one": one,
        "four": four,
        "pss_ratio_4_to_1": round(four["total_pss_mib"] / one["total_pss_mib"], 2),
        "rss_ratio_4_to_1": round(four["total_rss_mib"] / one["total_rss_mib"], 2),
        "worker": worker,
        "worker_on_bundled_corpus": small,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("memory-index.json" if args.index else "memory.json")).write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(result: dict) -> None:
    print(
        f"{result['articles']} articles ({result['corpus']}), arrays (.npy) {result['arrays_mib']} MiB, "
        f"records {result['records_mib']} MiB\n"
    )
    print("| workers | total PSS MiB | total RSS MiB | per worker: RSS | private | anonymous (heap) | shared |")
    print("|---|---|---|---|---|---|---|")
    for row in (result["one"], result["four"]):
        print(
            f"| {row['workers']} | {row['total_pss_mib']} | {row['total_rss_mib']} | {row['per_worker_rss_mib']} | "
            f"{row['per_worker_private_mib']} | {row['per_worker_anonymous_mib']} | {row['per_worker_shared_mib']} |"
        )
    print(f"\n4 workers / 1 worker: PSS x{result['pss_ratio_4_to_1']} (4 private copies would be x4)\n")
    print("| one worker, in process | this index | bundled corpus |")
    print("|---|---|---|")
    small = result["worker_on_bundled_corpus"] or {}
    for name, value in result["worker"].items():
        print(f"| {name} | {value} | {small.get(name, '')} |")


if __name__ == "__main__":
    main()
