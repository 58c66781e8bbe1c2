"""Dask build benchmark: the same build on this machine and on a Dask cluster (``local:2`` by default).

Each run builds the whole index in memory (``build_index``) from one corpus,
once with the local executors (joblib processes for the analysis, threads for
the neighbour search) and once on the cluster, and reports each stage's time:

- ``start``: starting the LocalCluster and connecting to it (zero locally);
- ``vectorising``: analysis in chunks on the workers, then merging and weighting on the client;
- ``neighbours``: postings pruned on the client, the matrix and postings
  scattered to every worker (``scatter``, timed on its own), row blocks on the workers;
- ``rest``: relevance floor, records and the manifest, on the client either way.

Where the cluster loses time (the ratio above 1 on one machine):

- serialisation: every chunk of texts is pickled to a worker and its term
  counts pickled back; joblib does the same, but dask adds the scheduler's
  round trips and, on ``local:N``, TCP instead of pipes;
- scatter: the matrix and the pruned postings are copied to every worker
  (``scatter_mib``), where threads share them for free;
- memory: every worker holds its own copy (``worker_peak_mib``; ``worker_idle_mib``
  is a worker before the build), where the local search holds one.

On one machine the cluster can at best tie; it pays off only with more cores
across machines than one machine has. Rerun:
``.venv/bin/python -m bench.dask_build [--size 100000] [--scheduler local:2] [--repeats 1]``;
results go to ``bench/results/dask_build.json`` (one entry per corpus and scheduler). Corpora of 20,000 articles or
more are made by bench/synth.py from ../shared/corpora; when that is absent the
benchmark says so and uses the bundled corpus, 500 copies at most of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.build import RESULTS, corpus_for
from bench.synth import SHARED_CORPORA
from recommender.indexing.corpus import Corpus, load_corpus
from recommender.indexing.distributed import DaskExecutor, Executor, dask_executor
from recommender.indexing.index import build_index

BUNDLED = Path(__file__).resolve().parent.parent / "corpus" / "wikinews.jsonl"


class Timed:
    """Delegates to an executor and adds up the seconds spent scattering, and the bytes scattered."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.scatter_s = 0.0
        self.scatter_bytes = 0

    @property
    def workers(self) -> int:
        return self.inner.workers

    def map_chunks(self, function: Callable[..., Any], chunks: Sequence[Any], *shared: Any, done: Any = None) -> Any:
        return self.inner.map_chunks(function, chunks, *shared, done=done)

    def scatter(self, value: Any) -> Any:
        started = time.perf_counter()
        handle = self.inner.scatter(value)
        self.scatter_s += time.perf_counter() - started
        self.scatter_bytes += int(getattr(value, "nbytes", 0))
        return handle


def peak_mib() -> float:
    """This process's peak resident memory; run on each worker by ``client.run``."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mib() -> float:
    """This process's resident memory now (Linux); on each worker before the build, for its baseline."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def timed_build(corpus: Corpus, executor: Executor | None) -> dict[str, float]:
    """One build's stage times, from its progress reports."""
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(f"{stage}-start", time.perf_counter())
        if done >= total:
            marks[f"{stage}-end"] = time.perf_counter()

    timed = Timed(executor) if executor is not None else None
    started = time.perf_counter()
    build_index(corpus, progress=progress, executor=timed)
    ended = time.perf_counter()
    vectorised = marks["vectorising-end"]
    return {
        "vectorising_s": vectorised - marks["vectorising-start"],
        "neighbours_s": marks["neighbours-end"] - vectorised,
        "scatter_s": timed.scatter_s if timed else 0.0,
        "scatter_mib": timed.scatter_bytes / 2**20 if timed else 0.0,
        "rest_s": ended - marks["neighbours-end"],
        "total_s": ended - started,
    }


def dask_build(corpus: Corpus, scheduler: str) -> dict[str, float]:
    started = time.perf_counter()
    with dask_executor(scheduler, timeout=60) as executor:
        start_s = time.perf_counter() - started
        idle = max(executor.client.run(resident_mib).values())
        run = timed_build(corpus, executor)
        run["worker_idle_mib"] = idle
        run["worker_peak_mib"] = max(_worker_peaks(executor))
    return {"start_s": start_s, **run, "total_s": run["total_s"] + start_s}


def _worker_peaks(executor: DaskExecutor) -> list[float]:
    return list(executor.client.run(peak_mib).values())


def load(size: int) -> tuple[Corpus, str]:
    if SHARED_CORPORA.is_dir():
        return load_corpus(corpus_for(str(size)), max_bad_fraction=1.0), f"synth-{size}"
    print(f"{SHARED_CORPORA} is absent: using copies of the bundled corpus, not {size:,} articles", file=sys.stderr)
    corpus = load_corpus(BUNDLED)
    copies = max(1, min(500, size // len(corpus.articles)))
    articles = [replace(article, id=f"{article.id}-{copy}") for copy in range(copies) for article in corpus.articles]
    return replace(corpus, articles=articles), f"bundled x{copies}"


def save(result: dict[str, Any]) -> None:
    """Keep one result per corpus and scheduler in bench/results/dask_build.json, the others as they were."""
    path = RESULTS / "dask_build.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    same = (result["corpus"], result["scheduler"])
    rows = [row for row in rows if (row["corpus"], row["scheduler"]) != same] + [result]
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--scheduler", default="local:2", help="a scheduler address, or local:N (default local:2)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; medians are reported")
    args = parser.parse_args()
    corpus, name = load(args.size)
    build_index(load_corpus(BUNDLED))  # fills the numba cache: no run pays the compile
    local_runs, dask_runs = [], []
    for repeat in range(args.repeats):  # interleaved, so that noise on the shared machine hits both sides
        local_runs.append(timed_build(corpus, None))
        print(f"#{repeat + 1} local: {local_runs[-1]}", file=sys.stderr)
        dask_runs.append(dask_build(corpus, args.scheduler))
        print(f"#{repeat + 1} {args.scheduler}: {dask_runs[-1]}", file=sys.stderr)
    local, dask = median_run(local_runs), median_run(dask_runs)
    result = {
        "corpus": name,
        "articles": len(corpus.articles),
        "scheduler": args.scheduler,
        "repeats": args.repeats,
        "local": local,
        "dask": dask,
        "ratio": {key: dask[key] / local[key] for key in local if local[key] > 0},
        "client_peak_mib": peak_mib(),
    }
    save(result)
    print(f"| stage | local s | {args.scheduler} s | ratio |\n|---|---|---|---|")
    for key in ("start_s", "vectorising_s", "neighbours_s", "scatter_s", "rest_s", "total_s"):
        ratio = f"{dask[key] / local[key]:.2f}" if local.get(key) else "-"
        print(f"| {key[:-2]} | {local.get(key, 0.0):.1f} | {dask[key]:.1f} | {ratio} |")
    print(
        f"scattered {dask['scatter_mib']:.0f} MiB to each worker; worker peak {dask['worker_peak_mib']:.0f} MiB "
        f"(idle {dask['worker_idle_mib']:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
