"""``recommender``: the command line of the editors' cron job and of developers.

A thin shell over the core: parse arguments, call, report. Domain errors become
one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from recommender.errors import IncompatibleIndex, RecommenderError, TooManyBadRows
from recommender.indexing.analysis import LANGUAGES
from recommender.indexing.corpus import DEFAULT_MAX_BAD_FRACTION, check_corpus, load_corpus
from recommender.indexing.evaluate import evaluate, floor_costs, score_buckets
from recommender.indexing.index import Index, build_index
from recommender.indexing.neighbours import SearchSettings
from recommender.indexing.relevance import RelevanceSettings, parse_min_score
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.storage import MANIFEST, exported_at, read_manifest, read_quality, save_index
from recommender.indexing.vectorize import VectorizerSettings
from recommender.popularity.access_log import SKIP_REASONS, article_paths, hour_label, import_views
from recommender.popularity.clicks import parse_group, report
from recommender.popularity.stores import default_store_url, open_store, redacted
from recommender.popularity.views import WINDOWS, hour_of
from recommender.serving.changes import ChangeLog, default_changes_path
from recommender.serving.curation import CurationStore, default_curation_path, parse_curation
from recommender.serving.holder import IndexHolder
from recommender.serving.publish import (
    DEFAULT_INDEX,
    PublishRefused,
    check_publishable,
    check_quality,
    current_dir,
    is_index_root,
    list_versions,
    publish,
    resolve_index_dir,
    rollback,
)

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


def _previous_directory(args: argparse.Namespace) -> Path | None:
    """The index directory this build would replace, if there is one."""
    directory = current_dir(args.index_root) if args.index_root else args.out
    return directory if directory is not None and directory.exists() else None


def _previous_manifest(args: argparse.Namespace) -> dict[str, Any] | None:
    directory = _previous_directory(args)
    try:
        return read_manifest(directory) if directory is not None else None
    except IncompatibleIndex:
        return None


def _previous_quality(args: argparse.Namespace) -> dict[str, Any] | None:
    directory = _previous_directory(args)
    try:
        return read_quality(directory) if directory is not None else None
    except IncompatibleIndex:
        return None


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


def _check_out(out: Path) -> None:
    """``--out`` replaces a single index directory; anything else there would be lost without a word."""
    if is_index_root(out):
        raise PublishRefused(
            f"{out} is an index root (versions, current, the day's changes): publish into it with "
            f"--index-root {out}; --out would replace all of it"
        )
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise PublishRefused(f"{out} is neither empty nor an index directory; nothing was written")


def _build(args: argparse.Namespace) -> int:
    """Build the index from a corpus and publish it, or refuse and leave the current one serving."""
    started = time.perf_counter()
    if args.out is not None:
        _check_out(args.out)
    corpus = load_corpus(args.corpus, max_bad_fraction=None)
    _report_problems(corpus.problems, sys.stderr)
    try:
        check_corpus(corpus, 1.0 if args.force else args.max_bad_fraction)
    except TooManyBadRows as error:
        raise TooManyBadRows(f"{error}; nothing was published; use --force to publish anyway") from error
    check_publishable(corpus, _previous_manifest(args), args.force)
    index = build_index(
        corpus,
        VectorizerSettings(language=args.language),
        SearchSettings(k=args.k),
        Progress(sys.stderr),
        RelevanceSettings(min_score=args.min_score),
        args.exported_at,
        _rerank_settings(args),
    )
    check_quality(index, _previous_quality(args), args.force)
    target = publish(index, args.index_root) if args.index_root else save_index(index, args.out)
    version = target.name if args.index_root else index.version
    changes = _changes_path(args.index_root or args.out)
    if changes.exists():
        _fold(ChangeLog(changes), index, version, args)
    print(
        f"published index {version}: {len(index)} articles, {len(corpus.problems)} bad rows, "
        f"{index.manifest['vocabulary_size']} terms, {time.perf_counter() - started:.1f}s -> {target}; "
        f"quality: {quality_summary(index.quality)}"
    )
    return 0


def _fold(log: ChangeLog, index: Index, version: str, args: argparse.Namespace) -> None:
    """Report which of the day's changes the new version contains; prune those every kept version has."""
    try:
        cutoff = exported_at(index.manifest)
        folded, replayed = log.count_before(cutoff)
        kept = [other.manifest for other in list_versions(args.index_root)] if args.index_root else []
        pruned = log.prune(min((exported_at(manifest) for manifest in kept), default=cutoff))
    finally:
        log.close()
    print(
        f"folded {folded} of the day's article changes into {version} (made before its export began, "
        f"{index.manifest['corpus']['exported_at']}); {replayed} made since are replayed on top of it; "
        f"{pruned} older than every kept version pruned from the log",
        file=sys.stderr,
    )


def _rerank_settings(args: argparse.Namespace) -> RerankSettings:
    defaults = RerankSettings()
    chosen = {
        name: getattr(args, name)
        for name in ("half_life_days", "recency_floor", "max_age_days", "diversity")
        if getattr(args, name) is not None
    }
    try:
        return replace(defaults, **chosen)
    except ValueError as error:
        raise RecommenderError(str(error)) from error


def _exported_at(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {raw!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _add(args: argparse.Namespace) -> int:
    """Publish or update articles now, from a JSON Lines file; running workers pick them up within seconds."""
    read_manifest(resolve_index_dir(args.index))  # fail early, and clearly, when there is no index to add to
    corpus = load_corpus(args.file, max_bad_fraction=1.0)
    _report_problems(corpus.problems, sys.stderr)
    log = ChangeLog(_changes_path(args.index))
    try:
        for article in corpus.articles:
            log.put(article)
    finally:
        log.close()
    print(f"added {len(corpus.articles)} articles, {len(corpus.problems)} bad rows skipped -> {log.path}")
    return 0


def _changes_path(index: Path) -> Path:
    """The day's change log, where the service keeps it: $RECOMMENDER_CHANGES or beside the index."""
    return Path(os.environ.get("RECOMMENDER_CHANGES") or default_changes_path(index))


def _article_urls(index: Path) -> list[tuple[str, str | None]]:
    """(id, url) of every article served: the index's, with the day's changes applied, as the service does."""
    changes_path = _changes_path(index)
    log = ChangeLog(changes_path) if changes_path.is_file() else None
    try:
        live = IndexHolder(index, log).live
    finally:
        if log is not None:
            log.close()
    return [(article["id"], article.get("url")) for article in live.newest_first]


def _import_views(args: argparse.Namespace) -> int:
    """Count article views from web server access logs into the Popular list's store."""

    article_of, shadowed = article_paths(_article_urls(args.index))
    for article_id, kept in shadowed[:MAX_PROBLEMS_SHOWN]:
        print(f"warning: {article_id} has the URL of {kept}; views of that URL count for {kept}", file=sys.stderr)
    if len(shadowed) > MAX_PROBLEMS_SHOWN:
        print(f"... and {len(shadowed) - MAX_PROBLEMS_SHOWN} more articles sharing a URL", file=sys.stderr)
    url = args.popularity_url or default_store_url(str(args.index))
    try:
        store = open_store(url)
    except ValueError as error:
        raise RecommenderError(str(error)) from error
    try:
        report = import_views(args.access_log, article_of, store, MAX_PROBLEMS_SHOWN)
    finally:
        store.close()
    for problem in report.problems:
        print(f"malformed line: {problem}", file=sys.stderr)
    if report.skipped["malformed"] > len(report.problems):
        print(f"... and {report.skipped['malformed'] - len(report.problems)} more malformed lines", file=sys.stderr)
    hours = report.hours
    span = f" in hours {hour_label(hours[0])} to {hour_label(hours[1])} UTC" if hours else ""
    print(
        f"read {report.lines} lines from {report.files} files, counted {report.counted} views{span} -> {redacted(url)}"
    )
    print(f"skipped {sum(report.skipped.values())} lines:")
    for reason, meaning in SKIP_REASONS.items():
        print(f"  {reason:<15}{report.skipped[reason]:>10}  {meaning}")
    return 0


def _curate(args: argparse.Namespace) -> int:
    """Pin articles first and block others in an article's "More like this"; workers apply it within seconds."""
    changes_path = _changes_path(args.index)
    log = ChangeLog(changes_path) if changes_path.is_file() else None
    store = CurationStore(default_curation_path(changes_path))
    try:
        holder = IndexHolder(args.index, log, store)
        if args.clear:
            store.clear(args.article_id)
        else:
            current = holder.live.curation_of(args.article_id).to_dict()
            for article_id in (args.article_id, *args.pin, *args.block):
                if not holder.published(article_id):
                    raise RecommenderError(f"no article with id {article_id!r}")
            pinned = [*current["pinned"], *[p for p in args.pin if p not in current["pinned"]]]
            blocked = [*current["blocked"], *args.block]
            pinned = [p for p in pinned if p not in args.block]
            blocked = [b for b in dict.fromkeys(blocked) if b not in args.pin]
            try:
                curation = parse_curation(args.article_id, {"pinned": pinned, "blocked": blocked})
            except ValueError as error:
                raise RecommenderError(str(error)) from error
            store.put(args.article_id, curation)
        result = store.all().get(args.article_id)
    finally:
        store.close()
        if log is not None:
            log.close()
    shown = result.to_dict() if result is not None else {"pinned": [], "blocked": []}
    print(
        f"{args.article_id}: pinned: {', '.join(shown['pinned']) or '-'}; blocked: {', '.join(shown['blocked']) or '-'}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    """Impressions, clicks and click-through rate of the boxes, from the store the service counts in."""
    url = args.popularity_url or default_store_url(str(args.index))
    try:
        store = open_store(url)
        group = parse_group(args.group)
    except ValueError as error:
        raise RecommenderError(str(error)) from error
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


def _rollback(args: argparse.Namespace) -> int:
    """Point the index root's current version back at the previous one."""
    version = rollback(args.index_root)
    print(f"current version is now {version.name} ({version.manifest['article_count']} articles)")
    return 0


def _versions(args: argparse.Namespace) -> int:
    """List the kept versions of an index root, oldest first, with their manifests."""
    for version in list_versions(args.index_root):
        manifest = version.manifest
        marker = "*" if version.current else " "
        corpus = manifest.get("corpus", {})
        print(
            f"{marker} {version.name}  built {manifest.get('built_at')}  {manifest.get('article_count')} articles  "
            f"{corpus.get('bad_rows', 0)} bad rows  {manifest.get('vocabulary_size')} terms  "
            f"corpus sha256 {str(corpus.get('sha256', ''))[:12]}"
        )
        print(f"    quality: {quality_summary(read_quality(version.path))}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    corpus = load_corpus(args.corpus, max_bad_fraction=1.0)
    _report_problems(corpus.problems, sys.stderr)
    results = evaluate(corpus.articles, k=args.k)
    evaluated = results[0].articles
    print(f"precision@{args.k} on {args.corpus} ({len(corpus.articles)} articles, {evaluated} with a section)")
    for result in results:
        print(f"  {result.name:<28} {result.precision:.3f}")
    ours = results[0]
    if ours.neighbours is None:
        return 0
    sections = [article.section for article in corpus.articles]
    ids, scores = ours.neighbours
    print(f"same-section precision of the top {args.k} by score (items whose article has a section)")
    for bucket in score_buckets(ids, scores, sections, args.k):
        span = f"{bucket.low:.2f}-{bucket.high:.2f}"
        print(f"  {span}  {bucket.items:>7} items  {bucket.share:6.1%}  {bucket.precision:.3f}")
    print("what each floor costs: similar items kept, their precision, articles with a full box and with none")
    for cost in floor_costs(ids, scores, sections, args.k, ours.chance_level):
        print(
            f"  {cost.name:<22} {cost.floor:.3f}  kept {cost.kept:6.1%}  precision {cost.precision:.3f}  "
            f"other section {cost.other_section:6.1%}  full {cost.full:6.1%}  none {cost.none:6.1%}"
        )
    return 0


def _min_score(raw: str) -> float | str:
    try:
        return parse_min_score(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recommender", description="Related-articles index: build and evaluate.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build the index from a corpus", description=_build.__doc__)
    build.add_argument("--corpus", type=Path, required=True, help="JSON Lines corpus (.jsonl or .jsonl.gz)")
    target = build.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="a single index directory to write (replaced by rename)")
    target.add_argument(
        "--index-root", type=Path, help="publish a new version under this root and switch its current pointer"
    )
    build.add_argument(
        "--force", action="store_true", help="publish even with many bad rows or far fewer articles than before"
    )
    build.add_argument("--k", type=int, default=SearchSettings().k, help="neighbours kept per article (default 30)")
    build.add_argument(
        "--exported-at",
        type=_exported_at,
        help="when the CMS export began, ISO 8601 (default: the corpus file's modification time); the day's "
        "changes made from then on are replayed on top of the new index",
    )
    defaults = RerankSettings()
    build.add_argument(
        "--half-life-days",
        type=float,
        help=f"recency: the age, relative to the page article, at which similarity counts for half the way down "
        f"to the recency floor (default {defaults.half_life_days:g})",
    )
    build.add_argument(
        "--recency-floor",
        type=float,
        help=f"recency: the share of similarity an old item keeps, 0 to 1 (default {defaults.recency_floor:g})",
    )
    build.add_argument("--max-age-days", type=float, help="recency: leave out items older than this (default none)")
    build.add_argument(
        "--diversity",
        type=float,
        help=f"weight of maximal marginal relevance, 0 to 1 (default {defaults.diversity:g})",
    )
    build.add_argument(
        "--language",
        choices=list(LANGUAGES),
        default="en",
        help="language of the corpus: stemmer and stop words (default en)",
    )
    build.add_argument(
        "--min-score",
        type=_min_score,
        default=RelevanceSettings().min_score,
        help="relevance floor: a number from 0 to 1, or auto (the higher of 0.2 and the corpus's chance level; "
        "the default)",
    )
    build.add_argument(
        "--max-bad-fraction",
        type=float,
        default=DEFAULT_MAX_BAD_FRACTION,
        help="refuse the corpus when more than this share of rows is bad (default 0.01)",
    )
    build.set_defaults(handler=_build)

    add = commands.add_parser("add", help=_add.__doc__, description=_add.__doc__)
    add.add_argument("file", type=Path, help="JSON Lines file of articles, in the corpus format")
    add.add_argument(
        "--index",
        type=Path,
        default=Path(os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX)),
        help="the served index directory or index root (default: $RECOMMENDER_INDEX or var/index)",
    )
    add.set_defaults(handler=_add)

    views = commands.add_parser(
        "import-views",
        help="count article views from web server access logs (for sites without the beacon)",
        description=_import_views.__doc__,
        epilog=(
            "Reads nginx/Apache combined-format logs, plain or .gz. Counts successful GETs (status 200 or 304) of "
            "article URLs, matched on the path of each article's url (scheme, host, query string and a trailing "
            "slash ignored), by non-bot User-Agents, once per visitor (IP and User-Agent) and article per 30 "
            "minutes, in the hour of each line's timestamp. Nothing is written unless every file reads to the "
            "end. Import each log once: importing it again counts its views again."
        ),
    )
    views.add_argument("access_log", type=Path, nargs="+", metavar="ACCESS_LOG", help="access log file(s), any order")
    views.add_argument(
        "--index",
        type=Path,
        default=Path(os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX)),
        help="the served index directory or index root (default: $RECOMMENDER_INDEX or var/index)",
    )
    views.add_argument(
        "--popularity-url",
        default=os.environ.get("POPULARITY_URL"),
        help="sqlite:///PATH or redis://HOST:PORT/DB (default: $POPULARITY_URL, else popularity.sqlite3 beside the "
        "index, like the service)",
    )
    views.set_defaults(handler=_import_views)

    curate = commands.add_parser("curate", help=_curate.__doc__, description=_curate.__doc__)
    curate.add_argument("article_id", help="the article whose list editors correct")
    curate.add_argument("--pin", action="append", default=[], metavar="ID", help="show ID first (repeatable, in order)")
    curate.add_argument("--block", action="append", default=[], metavar="ID", help="never show ID (repeatable)")
    curate.add_argument("--clear", action="store_true", help="remove every pin and block of the article")
    curate.add_argument(
        "--index",
        type=Path,
        default=Path(os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX)),
        help="the served index directory or index root (default: $RECOMMENDER_INDEX or var/index)",
    )
    curate.set_defaults(handler=_curate)

    reports = commands.add_parser("report", help="reports for editors: clicks", description=_report.__doc__)
    reports.add_argument("what", choices=["clicks"], help="the report")
    reports.add_argument("--window", choices=["24h", "7d"], default="24h", help="the window (default 24h)")
    reports.add_argument("--group", default="box,position,reason,index_version", help="columns to group by")
    reports.add_argument(
        "--index",
        type=Path,
        default=Path(os.environ.get("RECOMMENDER_INDEX", DEFAULT_INDEX)),
        help="the served index (its store is beside it by default)",
    )
    reports.add_argument(
        "--popularity-url", default=os.environ.get("POPULARITY_URL"), help="the store (default as the service)"
    )
    reports.set_defaults(handler=_report)

    for name, handler in (("rollback", _rollback), ("versions", _versions)):
        command = commands.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        command.add_argument("--index-root", type=Path, required=True, help="the index root to act on")
        command.set_defaults(handler=handler)

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
