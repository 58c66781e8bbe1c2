"""Versioned publishing of indexes under an index root, for the nightly rebuild.

Layout of an index root::

    ROOT/versions/<number>-<version>/   one complete index per build (the last 3 are kept)
    ROOT/current -> versions/<number>-<version>   a symlink, switched atomically by rename

The number counts publications, so names sort in the order they were published.

A build writes a new version beside the others and only then renames a fresh
symlink over ``current``: a reader sees the old version or the new one, never a
mix, and a build killed at any moment leaves ``current`` as it was.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.errors import IncompatibleIndex, RecommenderError
from recommender.indexing.corpus import Corpus
from recommender.indexing.index import Index
from recommender.indexing.relevance import coverage_collapsed
from recommender.indexing.storage import MANIFEST, fsync, read_manifest, staged, write_index_files

DEFAULT_INDEX = "var/index"  # where `make run` publishes, relative to the working directory
CURRENT = "current"
VERSIONS = "versions"
KEEP_VERSIONS = 3
MAX_SHRINK = 0.20
STALE_STAGING_SECONDS = 3600


class PublishRefused(RecommenderError):
    """The new index looks wrong (a truncated export, say); nothing was published."""


@dataclass(frozen=True, slots=True)
class Version:
    """A kept version. ``name`` is the directory (publication number first, so names sort in order);
    ``version`` is the index's own name, the one the CLI, ``/healthz`` and ETags show."""

    name: str
    path: Path
    manifest: dict[str, Any]
    current: bool

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.name))


def is_index_root(path: str | Path) -> bool:
    return (Path(path) / VERSIONS).is_dir() or (Path(path) / CURRENT).is_symlink()


def current_dir(root: str | Path) -> Path | None:
    """The version directory ``current`` points to, or None before the first publish.

    Raises IncompatibleIndex when ``current`` points anywhere but a version of this root.
    """
    pointer = Path(root) / CURRENT
    if not pointer.is_symlink():
        return None
    target = (Path(root) / os.readlink(pointer)).resolve()
    if target.parent != (Path(root) / VERSIONS).resolve():
        raise IncompatibleIndex(f"{pointer} points to {target}, outside {Path(root) / VERSIONS}; refusing to serve it")
    return target


def resolve_index_dir(path: str | Path) -> Path:
    """The concrete index directory for RECOMMENDER_INDEX: an index root's current version, or the path itself."""
    path = Path(path)
    if is_index_root(path):
        target = current_dir(path)
        if target is None:
            raise IncompatibleIndex(f"{path}: index root without a current version; run `recommender build`")
        return target
    return path


def check_publishable(corpus: Corpus, previous: dict[str, Any] | None, force: bool) -> None:
    """Refuse an export with far fewer articles than the index it would replace, unless forced."""
    if previous is None or force:
        return
    before = int(previous.get("article_count", 0))
    after = len(corpus.articles)
    if after < (1 - MAX_SHRINK) * before:
        raise PublishRefused(
            f"refusing to publish: the corpus has {after} articles, {1 - after / before:.0%} fewer than the "
            f"{before} of the current index (more than {MAX_SHRINK:.0%}: a truncated export?); "
            "the current index keeps serving; use --force to publish anyway"
        )


def check_quality(index: Index, previous_quality: dict[str, Any] | None, force: bool) -> None:
    """Refuse a build whose coverage above the relevance floor collapsed against the current index's."""
    if force or index.quality is None:
        return
    reason = coverage_collapsed(index.quality, previous_quality)
    if reason is not None:
        raise PublishRefused(
            f"refusing to publish: {reason}; the current index keeps serving; use --force to publish anyway"
        )


def switch_current(root: Path, name: str) -> None:
    temporary = root / f".{CURRENT}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(VERSIONS) / name)
    os.replace(temporary, root / CURRENT)
    fsync(root)


def publish(index: Index, root: str | Path, keep: int = KEEP_VERSIONS) -> Path:
    """Write the index as a new version under ``root`` and make it current; returns its directory."""
    root = Path(root)
    versions = root / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    numbers = [int(path.name.split("-", 1)[0]) for path in versions.glob("[0-9]*-*") if path.name[:6].isdigit()]
    name = f"{max(numbers, default=0) + 1:06d}-{index.version}"
    with staged(versions / name) as staging:  # the version's name is on disk before current may point at it
        write_index_files(index, staging)
    switch_current(root, name)
    prune(root, keep)
    return versions / name


def list_versions(root: str | Path) -> list[Version]:
    """Published versions, oldest first; half-written directories are not versions."""
    root = Path(root)
    current = current_dir(root)
    found = []
    for path in sorted((root / VERSIONS).glob("[!.]*")):
        if not (path / MANIFEST).is_file():
            continue
        try:
            manifest = read_manifest(path)
        except IncompatibleIndex:
            continue
        found.append(Version(path.name, path, manifest, path.resolve() == current))
    return found


def prune(root: Path, keep: int) -> None:
    versions = list_versions(root)
    for version in versions[:-keep]:
        if not version.current:
            shutil.rmtree(version.path, ignore_errors=True)
    # Staging directories of builds that were killed before their rename.
    for staging in (root / VERSIONS).glob(".*.tmp-*"):
        if time.time() - staging.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(staging, ignore_errors=True)


def rollback(root: str | Path) -> Version:
    """Point ``current`` at the version published before it."""
    versions = list_versions(root)
    position = next((n for n, version in enumerate(versions) if version.current), None)
    if position is None:
        raise PublishRefused(f"{root}: no current version to roll back from")
    if position == 0:
        raise PublishRefused(f"{root}: {versions[0].name} is the oldest version kept; nothing to roll back to")
    return _make_current(Path(root), versions[position - 1])


def activate(root: str | Path, version: str) -> Version:
    """Point ``current`` at any kept version, named as ``versions`` lists it: forward after a rollback, say."""
    versions = list_versions(root)
    chosen = next((kept for kept in versions if version in (kept.version, kept.name)), None)
    if chosen is None:
        names = ", ".join(kept.version for kept in versions) or "none"
        raise PublishRefused(f"{root}: no kept version {version!r}; kept: {names}")
    return _make_current(Path(root), chosen)


def _make_current(root: Path, version: Version) -> Version:
    switch_current(root, version.name)
    return Version(version.name, version.path, version.manifest, True)
