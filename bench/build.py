"""Build benchmark: the whole `recommender build` against TfidfVectorizer + NearestNeighbors.

For each corpus, every measurement runs in a fresh child process, so that its
peak resident memory (ru_maxrss) is its own:

- ``build``: the whole ``recommender build`` (read and validate the corpus,
  vectorise, neighbours, save);
- ``baseline``: the same reading and vectorising, then scikit-learn's
  ``NearestNeighbors(metric="cosine", algorithm="brute")`` for the same k;
- ``ours-step`` / ``brute-step``: the neighbour step alone on the same matrix;
- ``recall``: recall@10 of our lists against exact cosine on 1,000 sampled rows.

Corpora: the largest shared corpus (Reuters-21578) and corpora of 20,000 and
100,000 articles made by recombining real paragraphs within sections
(bench/synth.py). Needs ../shared/corpora; says so and stops when it is absent.
Medians over ``--repeats`` runs; ratios are against the baseline of the same run.

Rerun: ``.venv/bin/python -m bench.build [--sizes reuters,20000,100000] [--repeats 3]``
(``make bench``); results also go to ``bench/results/build.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.synth import SHARED_CORPORA, synthesize

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"

# Each child prints one JSON line: {"seconds": ..., "peak_mib": ..., ...}.
CHILD = r"""
import json, resource, sys, time, tempfile
import numpy as np
mode, corpus_path = sys.argv[1], sys.argv[2]
from recommender.indexing.corpus import load_corpus
from recommender.indexing.neighbours import SearchSettings, exact_neighbours, recall_at, top_neighbours
from recommender.indexing.vectorize import VectorizerSettings, fit_vectorizer, make_vectorizer
from sklearn.neighbors import NearestNeighbors
settings = SearchSettings()
def brute(matrix, k):
    nearest = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute", n_jobs=2)
    return nearest.fit(matrix).kneighbors(matrix)
result = {}
started = time.perf_counter()
if mode == "build":
    from recommender.cli import main
    with tempfile.TemporaryDirectory() as out:
        code = main(["build", "--corpus", corpus_path, "--out", out + "/index", "--max-bad-fraction", "1"])
    assert code == 0
elif mode == "baseline":
    articles = load_corpus(corpus_path, max_bad_fraction=1.0).articles
    matrix = make_vectorizer(VectorizerSettings(), len(articles)).fit_transform(articles)
    brute(matrix, settings.k)
else:
    _, matrix = fit_vectorizer(load_corpus(corpus_path, max_bad_fraction=1.0).articles, VectorizerSettings())
    started = time.perf_counter()
    if mode == "ours-step":
        top_neighbours(matrix, settings)
    elif mode == "brute-step":
        brute(matrix, settings.k)
    elif mode == "recall":
        _, scores = top_neighbours(matrix, settings)
        rows = np.random.default_rng(0).choice(matrix.shape[0], min(1000, matrix.shape[0]), replace=False)
        _, exact_scores = exact_neighbours(matrix, rows, 10, settings.duplicate_threshold)
        result["recall_at_10"] = recall_at(scores[rows], exact_scores, 10)
        result["articles"] = matrix.shape[0]
result["seconds"] = time.perf_counter() - started
result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def run_child(mode: str, corpus: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(corpus)], capture_output=True, text=True, cwd=REPO, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} on {corpus} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def corpus_for(size: str) -> Path:
    if size == "reuters":
        return SHARED_CORPORA / "reuters21578" / "articles.jsonl"
    path = CACHE / f"synth-{size}.jsonl"
    if not path.exists():
        print(f"making a {size}-article corpus from real paragraphs -> {path}", file=sys.stderr)
        synthesize(int(size), path)
    return path


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def measure(size: str, repeats: int, with_baseline: bool) -> dict:
    corpus = corpus_for(size)
    modes = ["build", "ours-step"] + (["baseline", "brute-step"] if with_baseline else [])
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for repeat in range(repeats):
        for mode in modes:  # interleaved, so that noise on the shared machine hits both sides
            runs[mode].append(run_child(mode, corpus))
            print(f"{size} #{repeat + 1} {mode}: {runs[mode][-1]}", file=sys.stderr)
    recall = run_child("recall", corpus)
    row = {
        "corpus": size,
        "articles": recall["articles"],
        "build_s": median(runs["build"], "seconds"),
        "build_peak_mib": median(runs["build"], "peak_mib"),
        "step_s": median(runs["ours-step"], "seconds"),
        "recall_at_10": recall["recall_at_10"],
        "repeats": repeats,
    }
    if with_baseline:
        row |= {
            "baseline_s": median(runs["baseline"], "seconds"),
            "baseline_peak_mib": median(runs["baseline"], "peak_mib"),
            "brute_step_s": median(runs["brute-step"], "seconds"),
        }
        row["build_ratio"] = row["build_s"] / row["baseline_s"]
        row["step_ratio"] = row["step_s"] / row["brute_step_s"]
    return row


def table(rows: list[dict]) -> str:
    def cell(row: dict, key: str, form: str) -> str:
        return format(row[key], form) if key in row else "skipped"

    lines = [
        "| corpus | articles | build s | baseline s | ratio | build peak MiB | baseline peak MiB | "
        "neighbour step s | brute step s | ratio | recall@10 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['corpus']} | {row['articles']:,} | {row['build_s']:.1f} | {cell(row, 'baseline_s', '.1f')} | "
            f"{cell(row, 'build_ratio', '.2f')} | {row['build_peak_mib']:.0f} | "
            f"{cell(row, 'baseline_peak_mib', '.0f')} | {row['step_s']:.1f} | {cell(row, 'brute_step_s', '.1f')} | "
            f"{cell(row, 'step_ratio', '.3f')} | {row['recall_at_10']:.4f} |"
        )
    return "\n".join(lines)


def _merged(path: Path, measured: dict[str, dict]) -> list[dict]:
    """The last results with the corpora just measured replaced: a run of one size keeps the others."""
    earlier = json.loads(path.read_text()) if path.is_file() else []
    rows = [measured.pop(row["corpus"], row) for row in earlier]
    return rows + list(measured.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="reuters,20000,100000", help="comma-separated: reuters and/or counts")
    parser.add_argument("--repeats", type=int, help="runs per corpus (default 3, and 1 from 100,000 articles)")
    parser.add_argument("--baseline-100k", action="store_true", help="also run the ~8-minute brute force at 100k")
    args = parser.parse_args()
    if not SHARED_CORPORA.is_dir():
        print(f"{SHARED_CORPORA} is absent: the build benchmark needs the shared corpora; nothing measured")
        return
    run_child("build", REPO / "corpus" / "wikinews.jsonl")  # fills the numba cache: no repeat pays the compile
    measured = {}
    for size in args.sizes.split(","):
        big = size.isdigit() and int(size) >= 100_000
        repeats = args.repeats or (1 if big else 3)
        measured[size] = measure(size, repeats, with_baseline=args.baseline_100k or not big)
    RESULTS.mkdir(exist_ok=True)
    rows = _merged(RESULTS / "build.json", measured)
    (RESULTS / "build.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "build.md").write_text(table(rows) + "\n")
    print(table(rows))
    if any(size.isdigit() and int(size) >= 100_000 for size in args.sizes.split(",")) and not args.baseline_100k:
        print("\nbaseline skipped at 100,000 articles (about 8 minutes of brute force); --baseline-100k runs it")


if __name__ == "__main__":
    main()
