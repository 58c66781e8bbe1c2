"""``recommender build`` (the nightly rebuild) and ``recommender evaluate``."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.cli.common import Progress, changes_path, quality_summary, report_problems
from recommender.errors import RecommenderError
from recommender.indexing.analysis import LANGUAGES
from recommender.indexing.corpus import DEFAULT_MAX_BAD_FRACTION, load_corpus
from recommender.indexing.distributed import DEFAULT_TIMEOUT_SECONDS, dask_executor
from recommender.indexing.evaluate import evaluate, floor_costs, score_buckets
from recommender.indexing.neighbours import SearchSettings
from recommender.indexing.relevance import RelevanceSettings, parse_min_score
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.vectorize import VectorizerSettings
from recommender.serving.nightly import RebuildSettings, rebuild

Commands = Any  # argparse's sub-parsers action, which it does not export


def build(args: argparse.Namespace) -> int:
    """Build the index from a corpus and publish it, or refuse and leave the current one serving."""
    started = time.perf_counter()
    settings = RebuildSettings(
        vectorizer=VectorizerSettings(language=args.language),
        search=SearchSettings(k=args.k),
        relevance=RelevanceSettings(min_score=args.min_score, min_shared_words=args.min_shared_words),
        rerank=_rerank_settings(args),
        max_bad_fraction=args.max_bad_fraction,
        force=args.force,
        exported_at=args.exported_at,
    )
    # The cluster is reached before the corpus is read: an unreachable scheduler fails in seconds, not after.
    cluster = dask_executor(args.dask_scheduler, args.dask_timeout) if args.dask_scheduler else nullcontext()
    with cluster as executor:
        rebuilt = rebuild(
            args.corpus,
            index_root=args.index_root,
            out=args.out,
            changes_path=changes_path(args.index_root or args.out),
            settings=settings,
            progress=Progress(sys.stderr),
            on_corpus_read=lambda corpus: report_problems(corpus.problems, sys.stderr),
            executor=executor,
        )
    index = rebuilt.index
    if rebuilt.folded is not None:
        print(
            f"folded {rebuilt.folded.folded} of the day's article changes into {rebuilt.version} (made before its "
            f"export began, {index.manifest['corpus']['exported_at']}); {rebuilt.folded.replayed} made since are "
            f"replayed on top of it; {rebuilt.folded.pruned} older than every kept version pruned from the log",
            file=sys.stderr,
        )
    print(
        f"published index {rebuilt.version}: {len(index)} articles, {len(rebuilt.corpus.problems)} bad rows, "
        f"{index.manifest['vocabulary_size']} terms, {time.perf_counter() - started:.1f}s -> {rebuilt.path}; "
        f"quality: {quality_summary(index.quality)}"
    )
    return 0


def _rerank_settings(args: argparse.Namespace) -> RerankSettings:
    chosen = {
        name: getattr(args, name)
        for name in ("half_life_days", "recency_floor", "max_age_days", "diversity")
        if getattr(args, name) is not None
    }
    try:
        return replace(RerankSettings(), **chosen)
    except ValueError as error:
        raise RecommenderError(str(error)) from error


def evaluate_command(args: argparse.Namespace) -> int:
    """Precision@k of the lists against the articles' sections, beside baselines, and what each floor costs."""
    corpus = load_corpus(args.corpus, max_bad_fraction=1.0)
    report_problems(corpus.problems, sys.stderr)
    results = evaluate(corpus.articles, k=args.k)
    evaluated = results[0].articles
    print(f"precision@{args.k} on {args.corpus} ({len(corpus.articles)} articles, {evaluated} with a section)")
    for result in results:
        print(f"  {result.name:<28} {result.precision:.3f}")
    ours = results[0]
    if ours.neighbours is None:
        return 0
    sections = [article.section for article in corpus.articles]
    ids, scores, words = ours.neighbours
    print(f"same-section precision of the top {args.k} by score (items whose article has a section)")
    for bucket in score_buckets(ids, scores, sections, args.k):
        span = f"{bucket.low:.2f}-{bucket.high:.2f}"
        print(f"  {span}  {bucket.items:>7} items  {bucket.share:6.1%}  {bucket.precision:.3f}")
    print("what each floor costs: similar items kept, their precision, articles with a full box and with none")
    for cost in floor_costs(ids, scores, words, sections, args.k, ours.chance_level):
        print(
            f"  {cost.name:<28} {cost.floor:.3f}  kept {cost.kept:6.1%}  precision {cost.precision:.3f}  "
            f"other section {cost.other_section:6.1%}  full {cost.full:6.1%}  none {cost.none:6.1%}"
        )
    return 0


def _exported_at(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {raw!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _min_shared_words(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"--min-shared-words must be a number from 0, got {raw!r}")
    return value


def _min_score(raw: str) -> float | str:
    try:
        return parse_min_score(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_commands(commands: Commands) -> None:
    parser = commands.add_parser("build", help="build the index from a corpus", description=build.__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="JSON Lines corpus (.jsonl or .jsonl.gz)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="a single index directory to write (replaced by rename)")
    target.add_argument(
        "--index-root", type=Path, help="publish a new version under this root and switch its current pointer"
    )
    parser.add_argument(
        "--force", action="store_true", help="publish even with many bad rows or far fewer articles than before"
    )
    parser.add_argument("--k", type=int, default=SearchSettings().k, help="neighbours kept per article (default 30)")
    parser.add_argument(
        "--exported-at",
        type=_exported_at,
        help="when the CMS export began, ISO 8601 (default: the corpus file's modification time); the day's "
        "changes made from then on are replayed on top of the new index",
    )
    defaults = RerankSettings()
    parser.add_argument(
        "--half-life-days",
        type=float,
        help=f"recency: the age, relative to the page article, at which similarity counts for half the way down "
        f"to the recency floor (default {defaults.half_life_days:g})",
    )
    parser.add_argument(
        "--recency-floor",
        type=float,
        help=f"recency: the share of similarity an old item keeps, 0 to 1 (default {defaults.recency_floor:g})",
    )
    parser.add_argument("--max-age-days", type=float, help="recency: leave out items older than this (default none)")
    parser.add_argument(
        "--diversity",
        type=float,
        help=f"weight of maximal marginal relevance, 0 to 1 (default {defaults.diversity:g})",
    )
    parser.add_argument(
        "--language",
        choices=list(LANGUAGES),
        default="en",
        help="language of the corpus: stemmer and stop words (default en)",
    )
    parser.add_argument(
        "--min-score",
        type=_min_score,
        default=RelevanceSettings().min_score,
        help="relevance floor: a number from 0 to 1, or auto (the higher of 0.2 and the corpus's chance level; "
        "the default)",
    )
    parser.add_argument(
        "--min-shared-words",
        type=_min_shared_words,
        default=RelevanceSettings().min_shared_words,
        help="a similar item's score must rest on at least this many shared words; 0 turns the test off "
        f"(default {RelevanceSettings().min_shared_words:g})",
    )
    parser.add_argument(
        "--max-bad-fraction",
        type=float,
        default=DEFAULT_MAX_BAD_FRACTION,
        help="refuse the corpus when more than this share of rows is bad (default 0.01)",
    )
    parser.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="vectorise and search on a dask.distributed cluster: its scheduler (tcp://host:8786), or local:N "
        "for a cluster of N processes on this machine started and stopped with the build; needs the dask extra",
    )
    parser.add_argument(
        "--dask-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up when the scheduler does not answer within this time (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.set_defaults(handler=build)

    evaluation = commands.add_parser(
        "evaluate", help="precision@k against sections, with baselines", description=evaluate_command.__doc__
    )
    evaluation.add_argument("--corpus", type=Path, required=True, help="corpus whose articles have a section")
    evaluation.add_argument("--k", type=int, default=5, help="list length scored (default 5)")
    evaluation.set_defaults(handler=evaluate_command)
