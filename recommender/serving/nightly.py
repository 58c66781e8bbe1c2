"""The nightly rebuild: read the CMS export, guard, build, publish, fold the day's changes.

One function, so that the CLI, a scheduler or a test run the same steps in the
same order. Every guard runs before anything is written: a refused build
leaves the current index serving and the index root as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from recommender.errors import IncompatibleIndex, TooManyBadRows
from recommender.indexing.corpus import DEFAULT_MAX_BAD_FRACTION, Corpus, check_corpus, load_corpus
from recommender.indexing.distributed import Executor
from recommender.indexing.index import Index, build_index
from recommender.indexing.neighbours import SearchSettings
from recommender.indexing.relevance import RelevanceSettings
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.storage import MANIFEST, exported_at, read_manifest, read_quality, save_index
from recommender.indexing.vectorize import VectorizerSettings
from recommender.serving.changes import ChangeLog, default_changes_path
from recommender.serving.publish import (
    PublishRefused,
    check_publishable,
    check_quality,
    current_dir,
    is_index_root,
    list_versions,
    publish,
)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class RebuildSettings:
    """What a build is asked for; the defaults are the nightly job's."""

    vectorizer: VectorizerSettings = field(default_factory=VectorizerSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    relevance: RelevanceSettings = field(default_factory=RelevanceSettings)
    rerank: RerankSettings = field(default_factory=RerankSettings)
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION
    force: bool = False
    exported_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Folded:
    """What became of the day's changes: in the new version, replayed on top of it, pruned from the log."""

    folded: int
    replayed: int
    pruned: int


@dataclass(frozen=True, slots=True)
class Rebuilt:
    index: Index
    corpus: Corpus
    version: str
    path: Path
    folded: Folded | None


def _reading(progress: Progress | None) -> Callable[[int, int], None] | None:
    """The corpus's reading as a stage of the build's progress, in megabytes."""
    if progress is None:
        return None
    stage = progress

    def megabytes(count: int) -> int:
        return -(-count // 2**20)  # rounded up, so that a whole small file reads as done

    return lambda done, total: stage("reading (MB)", megabytes(done), megabytes(total))


def rebuild(
    corpus_path: str | Path,
    *,
    index_root: Path | None = None,
    out: Path | None = None,
    changes_path: Path | None = None,
    settings: RebuildSettings = RebuildSettings(),
    progress: Progress | None = None,
    on_corpus_read: Callable[[Corpus], None] | None = None,
    executor: Executor | None = None,
) -> Rebuilt:
    """Build an index from the corpus and publish it under ``index_root`` (a new version) or to ``out``.

    Raises TooManyBadRows or PublishRefused, having written nothing, when the
    corpus or the index looks wrong and ``settings.force`` is off.
    ``on_corpus_read`` sees the corpus (and its bad rows) before the long build starts. ``executor``: where the
    build's chunks run (a Dask cluster, see distributed.py); a cluster failure raises ClusterFailed, unpublished.
    """
    if (index_root is None) == (out is None):
        raise ValueError("give exactly one of index_root and out")
    target = index_root if index_root is not None else out
    assert target is not None
    if out is not None:
        _check_out(out)
    corpus = load_corpus(corpus_path, max_bad_fraction=None, progress=_reading(progress))
    if on_corpus_read is not None:
        on_corpus_read(corpus)
    try:
        check_corpus(corpus, 1.0 if settings.force else settings.max_bad_fraction)
    except TooManyBadRows as error:
        raise TooManyBadRows(f"{error}; nothing was published; use --force to publish anyway") from error
    previous = _previous_directory(index_root, out)
    check_publishable(corpus, _readable(read_manifest, previous), settings.force)
    index = build_index(
        corpus,
        settings.vectorizer,
        settings.search,
        progress,
        settings.relevance,
        settings.exported_at,
        settings.rerank,
        executor=executor,
    )
    check_quality(index, _readable(read_quality, previous), settings.force)
    if index_root is not None:
        path = publish(index, index_root)
        version = index.version
    else:
        path = save_index(index, target)
        version = index.version
    changes = changes_path or default_changes_path(target)
    folded = _fold(changes, index, index_root) if changes.exists() else None
    return Rebuilt(index, corpus, version, path, folded)


def _check_out(out: Path) -> None:
    """``out`` replaces a single index directory; anything else there would be lost without a word."""
    if is_index_root(out):
        raise PublishRefused(
            f"{out} is an index root (versions, current, the day's changes): publish into it with "
            f"--index-root {out}; --out would replace all of it"
        )
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise PublishRefused(f"{out} is neither empty nor an index directory; nothing was written")


def _previous_directory(index_root: Path | None, out: Path | None) -> Path | None:
    """The index directory this build would replace, if there is one."""
    directory = current_dir(index_root) if index_root is not None else out
    return directory if directory is not None and directory.exists() else None


def _readable(read: Callable[[Path], Any], directory: Path | None) -> Any:
    """What ``read`` gives for the previous index, or None when there is none or it cannot be read."""
    try:
        return read(directory) if directory is not None else None
    except IncompatibleIndex:
        return None


def _fold(changes: Path, index: Index, index_root: Path | None) -> Folded:
    """Count which of the day's changes the new version contains; prune those every kept version has."""
    log = ChangeLog(changes)
    try:
        cutoff = exported_at(index.manifest)
        folded, replayed = log.count_before(cutoff)
        kept = [other.manifest for other in list_versions(index_root)] if index_root is not None else []
        pruned = log.prune(min((exported_at(manifest) for manifest in kept), default=cutoff))
    finally:
        log.close()
    return Folded(folded, replayed, pruned)
