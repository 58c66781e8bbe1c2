"""Replicas on other machines: copy the versions an index root lacks from another root, then follow its current.

The source is any directory this machine can read: the build machine's root on a
shared mount, or a local mirror that ``rsync -a build:/srv/recommender/index/ mirror/``
keeps (rsync writes files in place, so a replica never serves from the mirror
itself). The version the source serves, when missing here, is copied into a hidden directory, checked against
its manifest's sizes and XXH3 digests, renamed into ``versions/``, and only then
does ``current`` switch, so the replica's workers reload it as after a local build.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from recommender.errors import IncompatibleIndex
from recommender.indexing.storage import staged, verify_index
from recommender.serving.publish import (
    CURRENT,
    KEEP_VERSIONS,
    VERSIONS,
    PublishRefused,
    Version,
    current_dir,
    list_versions,
    prune,
    switch_current,
)


@dataclass(frozen=True, slots=True)
class Pulled:
    current: Version
    copied: bool  # the version was not on this machine yet
    switched: bool  # current pointed elsewhere before


def pull(source: str | Path, root: str | Path, keep: int = KEEP_VERSIONS) -> Pulled:
    """Make ``root`` serve the version ``source`` serves, copying it when ``root`` lacks it.

    Raises PublishRefused, with ``root`` unchanged, when the source has no current
    version or its copy is incomplete or damaged (an rsync still running, say).
    """
    source, root = Path(source), Path(root)
    try:
        wanted = current_dir(source)
    except IncompatibleIndex as error:
        raise PublishRefused(f"{source}: {error}; nothing was pulled") from error
    if wanted is None:
        raise PublishRefused(f"{source}: not an index root with a current version ({CURRENT}); nothing was pulled")
    target = root / VERSIONS / wanted.name
    copied = not target.is_dir()
    if copied:
        with staged(target) as staging:
            shutil.copytree(wanted, staging, dirs_exist_ok=True)
            try:
                verify_index(staging)
            except IncompatibleIndex as error:
                raise PublishRefused(f"{wanted}: {error}; nothing was switched") from error
    before = current_dir(root)
    switch_current(root, wanted.name)
    prune(root, keep)
    now = next(version for version in list_versions(root) if version.current)
    return Pulled(now, copied, before is None or before.name != wanted.name)
