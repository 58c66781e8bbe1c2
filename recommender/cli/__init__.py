"""``recommender``: the command line of the editors' cron job and of developers.

A thin shell over the core: parse arguments, call, report. Domain errors become
one line on stderr and a non-zero exit status. The commands live beside the
package they drive: ``indexing`` (build, evaluate), ``popularity`` (import-views,
report), ``serving`` (add, curate, versions, rollback, activate).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from recommender.cli import indexing, popularity, serving
from recommender.errors import ConfigError, RecommenderError


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recommender", description="Related-articles index: build, serve, count.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    indexing.add_commands(commands)
    serving.add_commands(commands)
    popularity.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = make_parser()  # its defaults come from the environment
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except RecommenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        return 130
