"""``recommender import-views`` (views from access logs) and ``recommender report clicks``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from recommender.cli.common import MAX_PROBLEMS_SHOWN, add_index_argument, changes_path, popularity_url
from recommender.errors import RecommenderError
from recommender.popularity.access_log import SKIP_REASONS, article_paths, hour_label, import_views
from recommender.popularity.clicks import parse_group, report
from recommender.popularity.stores import default_store_url, open_store, redacted
from recommender.popularity.views import WINDOWS, ViewStore, hour_of
from recommender.serving.changes import ChangeLog
from recommender.serving.holder import IndexHolder

Commands = Any  # argparse's sub-parsers action, which it does not export


def _article_urls(index: Path) -> list[tuple[str, str | None]]:
    """(id, url) of every article served: the index's, with the day's changes applied, as the service does."""
    log_path = changes_path(index)
    log = ChangeLog(log_path) if log_path.is_file() else None
    try:
        live = IndexHolder(index, log).live
    finally:
        if log is not None:
            log.close()
    return [(article["id"], article.get("url")) for article in live.newest_first]


def _store(args: argparse.Namespace) -> tuple[str, ViewStore]:
    url = args.popularity_url or default_store_url(str(args.index))
    try:
        return url, open_store(url)
    except ValueError as error:
        raise RecommenderError(str(error)) from error


def import_views_command(args: argparse.Namespace) -> int:
    """Count article views from web server access logs into the Popular list's store."""
    article_of, shadowed = article_paths(_article_urls(args.index))
    for article_id, kept in shadowed[:MAX_PROBLEMS_SHOWN]:
        print(f"warning: {article_id} has the URL of {kept}; views of that URL count for {kept}", file=sys.stderr)
    if len(shadowed) > MAX_PROBLEMS_SHOWN:
        print(f"... and {len(shadowed) - MAX_PROBLEMS_SHOWN} more articles sharing a URL", file=sys.stderr)
    url, store = _store(args)
    try:
        imported = import_views(args.access_log, article_of, store, MAX_PROBLEMS_SHOWN)
    finally:
        store.close()
    for problem in imported.problems:
        print(f"malformed line: {problem}", file=sys.stderr)
    if imported.skipped["malformed"] > len(imported.problems):
        more = imported.skipped["malformed"] - len(imported.problems)
        print(f"... and {more} more malformed lines", file=sys.stderr)
    hours = imported.hours
    span = f" in hours {hour_label(hours[0])} to {hour_label(hours[1])} UTC" if hours else ""
    print(
        f"read {imported.lines} lines from {imported.files} files, counted {imported.counted} views{span} "
        f"-> {redacted(url)}"
    )
    print(f"skipped {sum(imported.skipped.values())} lines:")
    for reason, meaning in SKIP_REASONS.items():
        print(f"  {reason:<15}{imported.skipped[reason]:>10}  {meaning}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    """Impressions, clicks and click-through rate of the boxes, from the store the service counts in."""
    try:
        group = parse_group(args.group)
    except ValueError as error:
        raise RecommenderError(str(error)) from error
    url, store = _store(args)
    try:
        last = hour_of(time.time())
        counts = store.click_counts(last - WINDOWS[args.window] + 1, last)
    finally:
        store.close()
    rows = report(counts, group)
    print(f"clicks in the last {args.window} ({redacted(url)})")
    print("  ".join(f"{name:<22}" for name in group) + f"{'impressions':>12}{'clicks':>8}{'ctr':>8}")
    for row in rows:
        cells = "  ".join(f"{str(row.group[name]):<22}" for name in group)
        print(f"{cells}{row.impressions:>12}{row.clicks:>8}{row.ctr:>8.2%}")
    if not rows:
        print("no impressions yet")
    return 0


def _add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--popularity-url",
        default=popularity_url(),
        help="sqlite:///PATH or redis://HOST:PORT/DB (default: $RECOMMENDER_POPULARITY_URL, else popularity.sqlite3 "
        "beside the index, like the service)",
    )


def add_commands(commands: Commands) -> None:
    views = commands.add_parser(
        "import-views",
        help="count article views from web server access logs (for sites without the beacon)",
        description=import_views_command.__doc__,
        epilog=(
            "Reads nginx/Apache combined-format logs, plain or .gz. Counts successful GETs (status 200 or 304) of "
            "article URLs, matched on the path of each article's url (scheme, host, query string and a trailing "
            "slash ignored), by non-bot User-Agents, once per visitor (IP and User-Agent) and article per 30 "
            "minutes, in the hour of each line's timestamp. Nothing is written unless every file reads to the "
            "end. Import each log once: importing it again counts its views again."
        ),
    )
    views.add_argument("access_log", type=Path, nargs="+", metavar="ACCESS_LOG", help="access log file(s), any order")
    add_index_argument(views)
    _add_store_argument(views)
    views.set_defaults(handler=import_views_command)

    reports = commands.add_parser("report", help="reports for editors: clicks", description=report_command.__doc__)
    reports.add_argument("what", choices=["clicks"], help="the report")
    reports.add_argument("--window", choices=["24h", "7d"], default="24h", help="the window (default 24h)")
    reports.add_argument("--group", default="box,position,reason,index_version", help="columns to group by")
    add_index_argument(reports, "the served index (its store is beside it by default)")
    _add_store_argument(reports)
    reports.set_defaults(handler=report_command)
