"""How long adding one article to a served index takes, and what it does to the lists.

Builds an index of the largest shared corpus (Reuters-21578) without its last
100 articles, then adds those one at a time the way ``PUT /api/v1/articles/<id>``
and ``recommender add`` do (``LiveIndex.with_changes``), timing each. Baseline,
measured in the same run: rebuilding the whole index, which is what the
nightly build does. Effect on other lists: how many existing lists each added
article enters, and whether its own list matches an exact cosine search.

Rerun: ``.venv/bin/python -m bench.add [--added 100]``; results also go to
``bench/results/add.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from recommender.indexing.corpus import Corpus, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.vectorize import transform
from recommender.serving.changes import Change
from recommender.serving.live import LiveIndex

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=SHARED / "reuters21578" / "articles.jsonl")
    parser.add_argument("--added", type=int, default=100, help="articles held out of the build, then added")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"{args.corpus} is absent (../shared is not here): nothing to measure")
        return

    corpus = load_corpus(args.corpus, max_bad_fraction=1.0)
    held_out = corpus.articles[-args.added :]
    base_corpus = Corpus(corpus.articles[: -args.added], [], corpus.checksum, corpus.rows, corpus.path)
    started = time.perf_counter()
    base = build_index(base_corpus)
    rebuild_seconds = time.perf_counter() - started
    print(f"built the base index of {len(base)} articles in {rebuild_seconds:.1f}s", file=sys.stderr)

    live = LiveIndex(base)
    live.with_changes([Change(1, held_out[0].id, held_out[0], 0.0)])  # warm-up: first transform, imports
    add_ms, entered, exact_agreement = [], [], []
    added_ids: list[str] = []
    added_vectors: list[Any] = []
    for seq, article in enumerate(held_out, start=1):
        started = time.perf_counter()
        after = live.with_changes([Change(seq, article.id, article, 0.0)])
        add_ms.append((time.perf_counter() - started) * 1000)
        entered.append(sum(1 for pairs in after._inbound.values() for other, _ in pairs if other == article.id))  # noqa: SLF001
        # Its own list against brute-force cosine over the base and the articles added before it.
        vector = transform(base.vectorizer, [article])
        candidates = sparse.vstack([base.matrix, *added_vectors]) if added_vectors else base.matrix
        ids = [base.id_of(row) for row in range(len(base))] + added_ids
        scores = np.asarray((candidates @ vector.T).todense()).ravel()
        scores[scores >= live.duplicate_threshold] = -1.0
        exact = {ids[row] for row in np.argsort(-scores)[:10] if scores[row] > 0}
        added_ids.append(article.id)
        added_vectors.append(vector)
        got = {neighbour.article["id"] for neighbour in after.related(article.id, 10)}
        exact_agreement.append(len(exact & got) / len(exact) if exact else 1.0)
        live = after

    one_at_a_time = {
        "base_articles": len(base),
        "added": len(held_out),
        "add_ms_median": round(statistics.median(add_ms), 2),
        "add_ms_p90": round(float(np.percentile(add_ms, 90)), 2),
        "add_ms_max": round(max(add_ms), 2),
        "rebuild_s": round(rebuild_seconds, 2),
        "ratio_add_to_rebuild": round(statistics.median(add_ms) / 1000 / rebuild_seconds, 6),
        "lists_entered_median": statistics.median(entered),
        "lists_entered_max": max(entered),
        "own_list_recall_at_10": round(statistics.mean(exact_agreement), 4),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "add.json").write_text(json.dumps(one_at_a_time, indent=2) + "\n")
    print("| measure | value |\n|---|---|")
    for key, value in one_at_a_time.items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
