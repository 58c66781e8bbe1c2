"""Commands on what is served: ``add`` and ``curate`` during the day; ``versions``, ``rollback``, ``activate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from recommender.cli.common import add_index_argument, add_index_root_argument, changes_path, quality_summary
from recommender.cli.common import report_problems as report_bad_rows
from recommender.errors import RecommenderError
from recommender.indexing.corpus import load_corpus
from recommender.indexing.storage import read_manifest, read_quality
from recommender.serving.changes import ChangeLog
from recommender.serving.curation import CurationStore, default_curation_path, parse_curation
from recommender.serving.holder import IndexHolder
from recommender.serving.publish import Version, activate, list_versions, resolve_index_dir, rollback
from recommender.serving.replicate import pull

Commands = Any  # argparse's sub-parsers action, which it does not export


def add(args: argparse.Namespace) -> int:
    """Publish or update articles now, from a JSON Lines file; running workers pick them up within seconds."""
    read_manifest(resolve_index_dir(args.index))  # fail early, and clearly, when there is no index to add to
    corpus = load_corpus(args.file, max_bad_fraction=1.0)
    report_bad_rows(corpus.problems, sys.stderr)
    log = ChangeLog(changes_path(args.index))
    try:
        for article in corpus.articles:
            log.put(article)
    finally:
        log.close()
    print(f"added {len(corpus.articles)} articles, {len(corpus.problems)} bad rows skipped -> {log.path}")
    return 0


def curate(args: argparse.Namespace) -> int:
    """Pin articles first and block others in an article's "More like this"; workers apply it within seconds."""
    log_path = changes_path(args.index)
    log = ChangeLog(log_path) if log_path.is_file() else None
    store = CurationStore(default_curation_path(log_path))
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


def versions(args: argparse.Namespace) -> int:
    """List the kept versions of an index root, oldest first; * marks the current one."""
    for version in list_versions(args.index_root):
        manifest = version.manifest
        marker = "*" if version.current else " "
        corpus = manifest.get("corpus", {})
        print(
            f"{marker} {version.version}  built {manifest.get('built_at')}  {manifest.get('article_count')} articles  "
            f"{corpus.get('bad_rows', 0)} bad rows  {manifest.get('vocabulary_size')} terms  "
            f"corpus sha256 {str(corpus.get('sha256', ''))[:12]}"
        )
        print(f"    quality: {quality_summary(read_quality(version.path))}")
    return 0


def _now_current(version: Version) -> int:
    print(f"current version is now {version.version} ({version.manifest['article_count']} articles)")
    return 0


def rollback_command(args: argparse.Namespace) -> int:
    """Point the index root's current version back at the one published before it."""
    return _now_current(rollback(args.index_root))


def activate_command(args: argparse.Namespace) -> int:
    """Make any kept version current (as `versions` names it): forward again after a rollback, say."""
    return _now_current(activate(args.index_root, args.version))


def pull_command(args: argparse.Namespace) -> int:
    """Serve the version another index root serves (a mount, or an rsync mirror), copying it if missing."""
    pulled = pull(args.source_root, args.index_root)
    copied = "copied and checked" if pulled.copied else "already here"
    if not pulled.switched:
        print(f"current version is still {pulled.current.version} ({copied})")
        return 0
    articles = pulled.current.manifest["article_count"]
    print(f"current version is now {pulled.current.version} ({copied}, {articles} articles)")
    return 0


def add_commands(commands: Commands) -> None:
    parser = commands.add_parser("add", help=add.__doc__, description=add.__doc__)
    parser.add_argument("file", type=Path, help="JSON Lines file of articles, in the corpus format")
    add_index_argument(parser)
    parser.set_defaults(handler=add)

    parser = commands.add_parser("curate", help=curate.__doc__, description=curate.__doc__)
    parser.add_argument("article_id", help="the article whose list editors correct")
    parser.add_argument("--pin", action="append", default=[], metavar="ID", help="show ID first (repeatable, in order)")
    parser.add_argument("--block", action="append", default=[], metavar="ID", help="never show ID (repeatable)")
    parser.add_argument("--clear", action="store_true", help="remove every pin and block of the article")
    add_index_argument(parser)
    parser.set_defaults(handler=curate)

    for name, handler in (("versions", versions), ("rollback", rollback_command), ("activate", activate_command)):
        parser = commands.add_parser(name, help=handler.__doc__, description=handler.__doc__)
        if handler is activate_command:
            parser.add_argument("version", help="a kept version, as `recommender versions` lists it")
        add_index_root_argument(parser)
        parser.set_defaults(handler=handler)

    parser = commands.add_parser("pull", help=pull_command.__doc__, description=pull_command.__doc__)
    parser.add_argument("source_root", type=Path, metavar="SOURCE_ROOT", help="the index root to follow")
    add_index_root_argument(parser)
    parser.set_defaults(handler=pull_command)
