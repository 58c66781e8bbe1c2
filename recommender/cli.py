"""``recommender``: the command line of the editors' cron job and of developers.

A thin shell over the core: parse arguments, call, report. Domain errors become
one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from recommender.corpus import DEFAULT_MAX_BAD_FRACTION, load_corpus
from recommender.errors import RecommenderError
from recommender.evaluate import evaluate
from recommender.index import build_index, save_index
from recommender.neighbours import SearchSettings

MAX_PROBLEMS_SHOWN = 20


class Progress:
    """A progress bar on a terminal; a plain log line every 10% otherwise (cron, CI, files)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.started = time.perf_counter()
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        elapsed = time.perf_counter() - self.started
        if self.interactive:
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{stage:<12} [{bar:<25}] {percent:3d}% {done}/{total} {elapsed:6.1f}s")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        step = percent // 10
        if (stage, step) != self._last:
            self._last = (stage, step)
            self.stream.write(f"{stage}: {done}/{total} ({percent}%) {elapsed:.1f}s\n")
            self.stream.flush()


def _report_problems(problems: Sequence[object], stream: TextIO) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        stream.write(f"bad row: {problem}\n")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        stream.write(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more bad rows\n")


def _build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    corpus = load_corpus(args.corpus, max_bad_fraction=args.max_bad_fraction)
    _report_problems(corpus.problems, sys.stderr)
    index = build_index(corpus, search_settings=SearchSettings(k=args.k), progress=Progress(sys.stderr))
    save_index(index, args.out)
    print(
        f"built index {index.version}: {len(index)} articles, {len(corpus.problems)} bad rows, "
        f"{index.manifest['vocabulary_size']} terms, {time.perf_counter() - started:.1f}s -> {args.out}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus, max_bad_fraction=1.0)
    _report_problems(corpus.problems, sys.stderr)
    results = evaluate(corpus.articles, k=args.k)
    evaluated = results[0].articles
    print(f"precision@{args.k} on {args.corpus} ({len(corpus.articles)} articles, {evaluated} with a section)")
    for result in results:
        print(f"  {result.name:<28} {result.precision:.3f}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recommender", description="Related-articles index: build and evaluate.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build the index from a corpus", description=_build.__doc__)
    build.add_argument("--corpus", type=Path, required=True, help="JSON Lines corpus (.jsonl or .jsonl.gz)")
    build.add_argument("--out", type=Path, required=True, help="index directory to write (replaced atomically)")
    build.add_argument("--k", type=int, default=SearchSettings().k, help="neighbours kept per article (default 30)")
    build.add_argument(
        "--max-bad-fraction",
        type=float,
        default=DEFAULT_MAX_BAD_FRACTION,
        help="refuse the corpus when more than this share of rows is bad (default 0.01)",
    )
    build.set_defaults(handler=_build)

    evaluation = commands.add_parser("evaluate", help="precision@k against sections, with baselines")
    evaluation.add_argument("--corpus", type=Path, required=True, help="corpus whose articles have a section")
    evaluation.add_argument("--k", type=int, default=5, help="list length scored (default 5)")
    evaluation.set_defaults(handler=_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except RecommenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
