"""What the commands share: where things are, progress on stderr, bad rows, one-line quality reports."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from recommender.config import locations, read

MAX_PROBLEMS_SHOWN = 20


class Progress:
    """A progress bar on a terminal; a plain log line every 10% otherwise (cron, CI, files).

    Each stage shows its own elapsed time and, once under way, an estimate of the time it has left
    (from its rate so far), so an editor watching a long build knows when it will end.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.perf_counter) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self.clock = clock
        self._stage = ""
        self._stage_started = clock()
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage != self._stage:
            self._stage, self._stage_started = stage, now
        percent = 100 * done // total if total else 100
        elapsed = now - self._stage_started
        left = f" ETA {_duration(elapsed / done * (total - done))}" if 0 < done < total else ""
        if self.interactive:
            bar = "#" * (percent // 4)
            line = f"\r{stage:<12} [{bar:<25}] {percent:3d}% {done}/{total} {_duration(elapsed)}{left}"
            self.stream.write(f"{line:<80}")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        step = percent // 10
        if (stage, step) != self._last:
            self._last = (stage, step)
            self.stream.write(f"{stage}: {done}/{total} ({percent}%) {_duration(elapsed)}{left}\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def report_problems(problems: Sequence[object], stream: TextIO) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        stream.write(f"bad row: {problem}\n")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        stream.write(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more bad rows\n")


def quality_summary(quality: dict[str, Any] | None) -> str:
    """One line of a quality report, for the build's summary and `versions`."""
    if not quality:
        return "no quality report (built before reports)"
    box = quality["box_size"]
    return (
        f"floor {quality['floor']:.3f}, {quality['with_full_box']:.0%} with {box} similar, "
        f"{quality['with_none']:.0%} with none, {quality['never_listed']:.0%} never listed, "
        f"{quality['near_duplicate_pairs']} near-duplicate pairs dropped"
    )


def served_index(environ: Mapping[str, str] | None = None) -> Path:
    """The index the service serves: $RECOMMENDER_INDEX, else var/index (as ``make run``)."""
    index: Path = read(os.environ if environ is None else environ, "index")["index"]
    return index


def popularity_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The store the service counts in, when the environment names one ($RECOMMENDER_POPULARITY_URL)."""
    url: str | None = read(os.environ if environ is None else environ, "popularity_url")["popularity_url"]
    return url


def changes_path(index: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The day's change log, where the service keeps it: $RECOMMENDER_CHANGES or beside the index."""
    return locations(os.environ if environ is None else environ, index).changes


def add_index_argument(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument(
        "--index",
        type=Path,
        default=served_index(),
        help=help or "the served index directory or index root (default: $RECOMMENDER_INDEX or var/index)",
    )


def add_index_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-root",
        type=Path,
        default=served_index(),
        help="the index root to act on (default: $RECOMMENDER_INDEX or var/index)",
    )
