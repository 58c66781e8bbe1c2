"""Page views from web server access logs, for sites that prefer logs to beacons.

Reads nginx/Apache "combined" lines, keeps the successful GETs of article URLs by
browsers, counts a visitor (IP and User-Agent) once per article per 30 minutes
like the beacon path does, and adds the counts to the hour of each line's
timestamp.

Everything is counted in memory first and written with one ``add_counts`` at
the end: a missing, truncated or unreadable file fails the import before
anything is written, so it can be rerun once fixed. A log that was imported
successfully must not be imported again: its views would be counted twice
(the stores keep counts, not the lines they came from).

Several files (rotated logs, one per server) are merged by timestamp, so their
order on the command line does not matter and a visitor whose requests went to
two servers is still counted once per 30 minutes.
"""

from __future__ import annotations

import functools
import gzip
import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlsplit

from recommender.errors import AccessLogError
from recommender.indexing.corpus import RowProblem
from recommender.popularity.views import DEDUPE_SECONDS, HOUR, ViewStore, hour_of, is_bot

COUNTED_STATUSES = frozenset({200, 304})
MAX_PROBLEMS_KEPT = 20
# Lines may be out of order by a request's duration (Apache logs the start time);
# a visitor's last counted view is kept this long past the 30 minutes.
REORDER_SLACK_SECONDS = 3600

# Why a line was not counted, in the order the checks are made.
SKIP_REASONS = {
    "malformed": "not in the combined log format",
    "method": "not a GET request",
    "status": "status other than 200 or 304",
    "not an article": "URL of no article in the index",
    "bot": "crawler, previewer or script User-Agent",
    "duplicate": "same visitor and article within 30 minutes",
}

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # backslash escapes allowed (Apache writes \")
_COMBINED = re.compile(
    rf'(\S+) \S+ (?:"[^"]*"|\S+) \[([^\]]+)\] {_QUOTED} (\d{{3}}) (?:\d+|-) {_QUOTED} {_QUOTED}(?:\s|$)'
)
_TIME = re.compile(r"(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
_MONTHS = {name: number for number, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_REQUEST = re.compile(r"([A-Z]+) (\S+)(?: HTTP/\d(?:\.\d)?)?")


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    ip: str
    method: str  # "" when the request line is not "METHOD TARGET PROTOCOL" (junk, TLS on port 80)
    path: str | None  # normalised with request_path
    status: int
    user_agent: str | None  # None for "-"


def _normalise(path: str) -> str:
    return unquote(path).rstrip("/") or "/"


def url_path(url: str) -> str:
    """What an article URL and a request share: the path, percent-decoded, without a trailing slash.

    Scheme, host and query are dropped, so ``https://en.wikinews.org/wiki/X`` and
    ``GET /wiki/X?utm_source=feed`` meet at ``/wiki/X``; decoding both sides makes
    ``%27`` and ``'`` equal, whichever one the CMS or the browser used.
    """
    return _normalise(urlsplit(url.strip()).path)


def request_path(target: str) -> str:
    """url_path of a request target: a path (which may start with ``//``) or, through a proxy, a full URL."""
    if target.startswith(("http://", "https://")):
        return url_path(target)
    return _normalise(target.split("?", 1)[0].split("#", 1)[0])


def article_paths(articles: Iterable[tuple[str, str | None]]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Map url_path -> article id from (id, url) pairs; articles without a URL are left out.

    Returns the map and the (id, kept id) pairs of articles whose URL an earlier
    one already has (a republished copy): their views go to the earlier one.
    """
    paths: dict[str, str] = {}
    shadowed: list[tuple[str, str]] = []
    for article_id, url in articles:
        if not url:
            continue
        kept = paths.setdefault(url_path(url), article_id)
        if kept != article_id:
            shadowed.append((article_id, kept))
    return paths, shadowed


@functools.lru_cache(maxsize=64)  # a log has a few days, and one time zone
def _day_start(day: str, month_name: str, year: str, sign: str, hours: str, minutes: str) -> float:
    month = _MONTHS.get(month_name.lower())
    if month is None:
        raise ValueError(f"unknown month {month_name!r}")
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    zone = timezone(offset if sign == "+" else -offset)
    return datetime(int(year), month, int(day), tzinfo=zone).timestamp()


def _timestamp(text: str) -> float:
    """``25/Nov/2026:09:15:02 +0000`` as a Unix time; parsed by hand, as strptime's %b depends on the locale."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"bad timestamp [{text}]")
    hour, minute, second = int(match.group(4)), int(match.group(5)), int(match.group(6))
    try:
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError("time of day out of range")
        start = _day_start(*match.group(1, 2, 3, 7, 8, 9))
    except ValueError as error:
        raise ValueError(f"bad timestamp [{text}]: {error}") from None
    return start + hour * 3600 + minute * 60 + second


def parse_line(line: str) -> LogEntry:
    """One combined-format line; raises ValueError with the reason it is malformed."""
    match = _COMBINED.match(line)
    if match is None:
        raise ValueError("not in the combined log format")
    ip, time_text, request, status, _referer, agent = match.groups()
    request_match = _REQUEST.fullmatch(request)
    method, path = (request_match[1], request_path(request_match[2])) if request_match else ("", None)
    return LogEntry(_timestamp(time_text), ip, method, path, int(status), None if agent in ("", "-") else agent)


def parse_log(lines: Iterable[str]) -> Iterator[tuple[int, LogEntry | str]]:
    """(line number, entry), or (line number, reason) for a malformed line; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, parse_line(line)
        except ValueError as error:
            yield number, str(error)


def open_log(path: Path) -> TextIO:
    """Plain or gzip (``.gz``); bytes that are not UTF-8 are replaced, not fatal: they only occur in ignored fields."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


@dataclass(slots=True)
class ImportReport:
    """What an import read, counted and skipped; ``lines == counted + sum(skipped.values())``."""

    files: int = 0
    lines: int = 0
    counted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)  # the first malformed lines, as file:line: reason
    counts: dict[tuple[str, int], int] = field(default_factory=dict)  # (article id, hour) -> views

    @property
    def hours(self) -> tuple[int, int] | None:
        """First and last hour with a counted view."""
        if not self.counts:
            return None
        hours = [hour for _, hour in self.counts]
        return min(hours), max(hours)


def _entries(stream: TextIO, path: Path, report: ImportReport, max_problems: int) -> Iterator[LogEntry]:
    try:
        for number, parsed in parse_log(stream):
            report.lines += 1
            if isinstance(parsed, str):
                report.skipped["malformed"] += 1
                if len(report.problems) < max_problems:
                    report.problems.append(RowProblem(str(path), number, parsed))
                continue
            yield parsed
    except (OSError, EOFError) as error:  # a truncated or corrupt .gz, an I/O error
        raise AccessLogError(f"{path}: cannot read access log: {error}") from error


def count_views(
    paths: Sequence[str | Path], article_of: Mapping[str, str], max_problems: int = MAX_PROBLEMS_KEPT
) -> ImportReport:
    """Read the logs and count views per (article id, hour); writes nothing.

    ``article_of`` maps a url_path to an article id (see article_paths).
    """
    if not article_of:
        raise AccessLogError("no article in the index has a url, so no log line can be matched to an article")
    files_to_read = [Path(path) for path in paths]
    for path in files_to_read:
        if not path.is_file():
            raise AccessLogError(f"{path}: no such access log")
    report = ImportReport(files=len(files_to_read))
    counts: Counter[tuple[str, int]] = Counter()
    last_counted: dict[tuple[str, str, str], float] = {}  # (ip, user agent, article id) -> time counted
    newest = float("-inf")
    evicted_hour = None
    with ExitStack() as files:
        streams = [(files.enter_context(open_log(path)), path) for path in files_to_read]
        merged = heapq.merge(*(_entries(s, p, report, max_problems) for s, p in streams), key=lambda e: e.at)
        for entry in merged:
            reason = None
            if entry.method != "GET":
                reason = "method"
            elif entry.status not in COUNTED_STATUSES:
                reason = "status"
            elif entry.path is None or (article_id := article_of.get(entry.path)) is None:
                reason = "not an article"
            elif is_bot(entry.user_agent):
                reason = "bot"
            else:
                # The stores' rule: counted when 30 minutes have passed since the visitor's last counted view.
                visit = (entry.ip, entry.user_agent or "", article_id)
                previous = last_counted.get(visit)
                if previous is not None and entry.at < previous + DEDUPE_SECONDS:
                    reason = "duplicate"
                else:
                    last_counted[visit] = entry.at
                    counts[(article_id, hour_of(entry.at))] += 1
                    report.counted += 1
            if reason is not None:
                report.skipped[reason] += 1
            # Memory follows the visitors of the last hour or so, not of the whole log.
            newest = max(newest, entry.at)
            if hour_of(newest) != evicted_hour:
                evicted_hour = hour_of(newest)
                horizon = newest - DEDUPE_SECONDS - REORDER_SLACK_SECONDS
                last_counted = {visit: at for visit, at in last_counted.items() if at >= horizon}
    report.counts = dict(counts)
    return report


def import_views(
    paths: Sequence[str | Path],
    article_of: Mapping[str, str],
    store: ViewStore,
    max_problems: int = MAX_PROBLEMS_KEPT,
) -> ImportReport:
    """count_views, then add the counts to the store in one call (one transaction on SQLite)."""
    report = count_views(paths, article_of, max_problems)
    if report.counts:
        store.add_counts(report.counts)
    return report


def hour_label(hour: int) -> str:
    return datetime.fromtimestamp(hour * HOUR, UTC).strftime("%Y-%m-%d %H:00")
