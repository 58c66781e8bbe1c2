"""Which snapshot a process serves, and the thread that keeps it current.

``IndexHolder`` swaps snapshots by a single assignment, so a request reads one
consistent snapshot without locks. A background ``Watcher`` thread notices a
newly published version and new changes in the log, loads them outside the
request path, and swaps them in; a version that fails to load is refused with
a logged error while the old one keeps serving.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recommender.errors import RecommenderError
from recommender.indexing.storage import load_index, read_manifest
from recommender.observe import Observer, ignore
from recommender.serving.changes import ChangeLog
from recommender.serving.curation import CurationStore
from recommender.serving.live import LiveIndex
from recommender.serving.publish import resolve_index_dir

log = logging.getLogger(__name__)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a version loads: the tens of thousands of objects it creates
    would trigger full collections, each holding the GIL (and so every request thread) for ~100 ms."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class IndexHolder:
    """What a process serves: swapped whole, never changed in place.

    Every version loaded, switched to or refused is logged at INFO or above, naming it, so that an operator
    can tell from the log what each worker serves; ``observe`` hears of each failed reload (``reload_failure``).
    """

    def __init__(
        self,
        source: str | Path,
        changes: ChangeLog | None = None,
        curation: CurationStore | None = None,
        observe: Observer = ignore,
    ) -> None:
        self.source = Path(source)
        self.changes = changes
        self.curation = curation
        self.observe = observe
        self._lock = threading.Lock()
        self._refused: tuple[Path | None, str] | None = None
        directory = resolve_index_dir(self.source)
        self.live = self._replay(LiveIndex(load_index(directory), directory))
        log.info("loaded index version %s from %s at start", self.live.base.version, directory)

    def _replay(self, live: LiveIndex) -> LiveIndex:
        changes = self.changes.since(live.seen) if self.changes is not None else []
        if changes:
            live = live.with_changes(changes)
        if self.curation is not None:
            curation = self.curation.all()
            if curation != live.curation:
                live = live.with_curation(curation)
        live.tag_index  # noqa: B018 - computed here, off the request path, not by the first request
        return live

    def published(self, article_id: str) -> bool:
        """Whether the article is published now, decided by the shared change log, then by the newest
        published version: never by this process's snapshot, which may be behind another worker's writes."""
        if self.changes is not None:
            last = self.changes.last_operation(article_id)
            if last is not None:
                return last == "put"
        self.refresh()  # the newest version may not be loaded here yet
        return article_id in self.live

    def refresh(self) -> None:
        """Load a newly published version and apply new changes; never raises for a bad version."""
        with self._lock:
            live = self.live
            directory: Path | None
            try:
                directory = resolve_index_dir(self.source)
                version = str(read_manifest(directory)["version"])
            except RecommenderError as error:
                log.error("index at %s unreadable, still serving %s: %s", self.source, live.version, error)
                self.observe("reload_failure", 1)
                directory, version = live.directory, live.base.version
            candidate = (directory, version)
            changed = directory != live.directory or version != live.base.version
            if directory is not None and changed and candidate != self._refused:
                try:
                    with collector_paused():
                        fresh = LiveIndex(load_index(directory), directory)
                except RecommenderError as error:
                    self._refused = candidate
                    log.error("refused index version %s, still serving %s: %s", version, live.version, error)
                    self.observe("reload_failure", 1)
                else:
                    log.info("now serving index version %s (was %s)", version, live.base.version)
                    live = fresh
            with collector_paused():
                self.live = self._replay(live)


class Watcher(threading.Thread):
    """Checks for a new version and new changes every ``interval`` seconds."""

    def __init__(self, holder: IndexHolder, interval: float) -> None:
        super().__init__(name="index-watcher", daemon=True)
        self.holder = holder
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.holder.refresh()
            except Exception:  # the watcher must outlive any one bad check; the old index keeps serving
                log.exception("index refresh failed")
                self.holder.observe("reload_failure", 1)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
