"""The index a process serves: the published index plus the day's changes.

``LiveIndex`` is an immutable snapshot; applying a change makes a new one, and
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from recommender.errors import RecommenderError, UnknownArticle
from recommender.indexing.index import (
    Index,
    Neighbour,
    article_record,
    by_section,
    exported_at,
    load_index,
    published_timestamp,
    read_manifest,
)
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.tags import TagIndex, build_tag_index
from recommender.indexing.vectorize import transform
from recommender.serving.changes import Change, ChangeLog
from recommender.serving.curation import NONE as NO_CURATION
from recommender.serving.curation import Curation, CurationStore
from recommender.serving.publish import resolve_index_dir

log = logging.getLogger(__name__)

Pairs = list[tuple[str, float]]
MEMO_SIZE = 20_000


class LiveIndex:
    """A published index with articles added, updated and deleted on top of it."""

    def __init__(self, base: Index, directory: Path | None = None) -> None:
        self.base = base
        self.directory = directory
        self.seq = 0  # the last change applied (it names the served version)
        self.seen = 0  # the last change read from the log, applied or older than the export
        self.cutoff = exported_at(base.manifest)
        self._memo: dict[Any, Any] = {}
        self.curation: dict[str, Curation] = {}  # editors' pins and blocks, by article
        self.k = base.neighbour_ids.shape[1]
        self.duplicate_threshold = float(base.manifest["parameters"]["search"]["duplicate_threshold"])
        self._added: dict[str, dict[str, Any]] = {}
        self._vectors: dict[str, Any] = {}
        self._own: dict[str, Pairs] = {}
        self._inbound: dict[str, Pairs] = {}
        self._hidden: frozenset[str] = frozenset()  # base rows deleted or superseded by an update
        self._deleted: frozenset[str] = frozenset()

    # -- reading -----------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.base.version if self.seq == 0 else f"{self.base.version}+{self.seq}"

    @property
    def manifest(self) -> dict[str, Any]:
        return self.base.manifest

    @property
    def floor(self) -> float:
        return self.base.floor

    @property
    def rerank_settings(self) -> RerankSettings:
        return self.base.rerank_settings

    def find(self, article_id: str) -> dict[str, Any] | None:
        if article_id in self._added:
            return self._added[article_id]
        if article_id in self._hidden:
            return None
        return self.base.find(article_id)

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.find(article_id) is not None

    def __len__(self) -> int:
        return len(self.base) - len(self._hidden) + len(self._added)

    def article(self, article_id: str) -> dict[str, Any]:
        article = self.find(article_id)
        if article is None:
            raise UnknownArticle(article_id)
        return article

    def published_timestamp(self, article_id: str) -> float:
        if article_id in self._added:
            return published_timestamp(self._added[article_id])
        return self.base.published_timestamp(article_id)

    def vector(self, article_id: str) -> Any:
        """The article's TF-IDF row (1 x terms, CSR), as served."""
        if article_id in self._vectors:
            return self._vectors[article_id]
        self.article(article_id)
        return self.base.matrix[self.base.row_of(article_id)]

    def curation_of(self, article_id: str) -> Curation:
        return self.curation.get(article_id, NO_CURATION)

    def with_curation(self, curation: dict[str, Curation]) -> LiveIndex:
        snapshot = self._copy()
        snapshot.curation = curation
        return snapshot

    def memoised(self, key: Any, compute: Callable[[], Any]) -> Any:
        """A value computed once per snapshot (a re-ranked list): a new snapshot starts afresh, and at
        ``MEMO_SIZE`` entries the memo is emptied, so memory stays bounded."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = compute()
        if len(self._memo) >= MEMO_SIZE:
            self._memo = {}
        self._memo[key] = value
        return value

    def vectors(self, article_ids: Sequence[str]) -> sparse.csr_matrix:
        """The rows of several served articles, in order: one slice of the matrix when none was added today."""
        if not any(article_id in self._vectors for article_id in article_ids):
            return self.base.matrix[[self.base.row_of(article_id) for article_id in article_ids]]
        return sparse.vstack([self.vector(article_id) for article_id in article_ids], format="csr")

    def same_story(self, article_id: str, other_id: str) -> bool:
        """Whether two served articles are near-duplicates (cosine at or above the duplicate threshold)."""
        cosine = self.vector(article_id).multiply(self.vector(other_id)).sum()
        return bool(cosine >= self.duplicate_threshold)

    @property
    def words(self) -> list[str]:
        """Column number -> word, for explanations (computed once per published version)."""
        return self.base.words

    @cached_property
    def newest_first(self) -> list[dict[str, Any]]:
        if self.seq == 0:
            return self.base.newest_first
        kept = [a for a in self.base.newest_first if a["id"] not in self._hidden] + list(self._added.values())
        return sorted(kept, key=published_timestamp, reverse=True)

    @cached_property
    def _by_section(self) -> dict[str, list[dict[str, Any]]]:
        return by_section(self.newest_first)

    @cached_property
    def tag_index(self) -> TagIndex:
        """Editors' tags -> their articles, newest first (for the "Related" box)."""
        return build_tag_index(self.newest_first)

    def newest_in_section(self, section: str) -> list[dict[str, Any]]:
        if self.seq == 0:
            return self.base.newest_in_section(section)
        return self._by_section.get(section, [])

    def related(self, article_id: str, limit: int, min_score: float = 0.0) -> list[Neighbour]:
        """Like Index.related, with added articles in and deleted or replaced ones out."""
        if self.seq == 0:
            return self.base.related(article_id, limit, min_score)
        self.article(article_id)  # unknown or deleted: UnknownArticle
        if article_id in self._added:
            candidates = list(self._own[article_id])
        else:
            row = self.base.row_of(article_id)
            base_ids = self.base.neighbour_ids[row]
            candidates = [
                (self.base.articles[n]["id"], float(s))
                for n, s in zip(base_ids[base_ids >= 0], self.base.neighbour_scores[row], strict=False)
                if self.base.articles[n]["id"] not in self._hidden
            ]
        candidates += self._inbound.get(article_id, [])
        best: dict[str, float] = {}
        for neighbour_id, score in candidates:
            if score < min_score or neighbour_id == article_id:
                continue
            if neighbour_id in self._added or neighbour_id not in self._hidden:
                best[neighbour_id] = max(score, best.get(neighbour_id, 0.0))
        ranked = sorted(best.items(), key=lambda pair: -pair[1])[:limit]
        return [Neighbour(self.article(neighbour_id), score) for neighbour_id, score in ranked]

    # -- changing (each returns a new snapshot) -------------------------------------

    def _copy(self) -> LiveIndex:
        clone = LiveIndex.__new__(LiveIndex)
        cached = ("newest_first", "_by_section", "tag_index")
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k not in cached})
        clone._added, clone._vectors = dict(self._added), dict(self._vectors)
        clone._own, clone._inbound = dict(self._own), dict(self._inbound)
        clone._memo = {}
        return clone

    def _forget(self, article_id: str) -> None:
        """Drop an added article and every list entry that points at its old text."""
        self._added.pop(article_id, None)
        self._vectors.pop(article_id, None)
        self._own.pop(article_id, None)
        self._own = {k: [p for p in v if p[0] != article_id] for k, v in self._own.items()}
        self._inbound = {k: [p for p in v if p[0] != article_id] for k, v in self._inbound.items()}

    def with_changes(self, changes: Iterable[Change]) -> LiveIndex:
        """A new snapshot with the changes made since the export's cut-off applied; older ones are in the
        published index already (a rollback to an older version replays more of them)."""
        snapshot = self._copy()
        for change in changes:
            snapshot.seen = max(snapshot.seen, change.seq)
            if change.changed_at < self.cutoff:
                continue
            snapshot._forget(change.article_id)
            if change.article is None:
                snapshot._deleted |= {change.article_id}
                if change.article_id in self.base:
                    snapshot._hidden |= {change.article_id}
            else:
                snapshot._deleted -= {change.article_id}
                if change.article_id in self.base:
                    snapshot._hidden |= {change.article_id}
                snapshot._add(change.article)
            snapshot.seq = max(snapshot.seq, change.seq)
        return snapshot

    def _add(self, article: Any) -> None:
        vector = transform(self.base.vectorizer, [article])
        scores = np.asarray((self.base.matrix @ vector.T).todense()).ravel()
        for hidden_id in self._hidden:
            scores[self.base.row_of(hidden_id)] = -1.0
        scores[scores >= self.duplicate_threshold] = -1.0
        own: Pairs = []
        count = min(self.k, scores.size)
        if count:
            top = np.argpartition(-scores, count - 1)[:count]
            own = [(self.base.articles[r]["id"], float(scores[r])) for r in top if scores[r] > 0]
        # Existing articles whose list the new one now belongs to: it beats their K-th neighbour.
        kth = np.where(self.base.neighbour_ids[:, -1] >= 0, self.base.neighbour_scores[:, -1], 0.0)
        for row in np.nonzero(scores > kth)[0]:
            base_id = self.base.articles[row]["id"]
            self._inbound[base_id] = [*self._inbound.get(base_id, []), (article.id, float(scores[row]))]
        for other_id, other_vector in self._vectors.items():
            score = float((vector @ other_vector.T).toarray()[0, 0])
            if 0 < score < self.duplicate_threshold:
                own.append((other_id, score))
                self._inbound[other_id] = [*self._inbound.get(other_id, []), (article.id, score)]
        own.sort(key=lambda pair: -pair[1])
        self._own[article.id] = own[: self.k]
        self._vectors[article.id] = vector
        self._added[article.id] = article_record(article)


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
    """What a process serves: swapped whole, never changed in place."""

    def __init__(
        self, source: str | Path, changes: ChangeLog | None = None, curation: CurationStore | None = None
    ) -> None:
        self.source = Path(source)
        self.changes = changes
        self.curation = curation
        self._lock = threading.Lock()
        self._refused: tuple[Path, str] | None = None
        directory = resolve_index_dir(self.source)
        self.live = self._replay(LiveIndex(load_index(directory), directory))

    def _replay(self, live: LiveIndex) -> LiveIndex:
        changes = self.changes.since(live.seen) if self.changes is not None else []
        if changes:
            live = live.with_changes(changes)
        if self.curation is not None:
            curation = self.curation.all()
            if curation != live.curation:
                live = live.with_curation(curation)
        live.newest_first  # noqa: B018 - computed here, off the request path, not by the first request
        live.newest_in_section("")
        live.tag_index  # noqa: B018 - likewise
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
            try:
                directory = resolve_index_dir(self.source)
                version = str(read_manifest(directory)["version"])
            except RecommenderError as error:
                log.error("index at %s unreadable, still serving %s: %s", self.source, live.version, error)
                directory, version = live.directory, live.base.version
            candidate = (directory, version)
            if (directory != live.directory or version != live.base.version) and candidate != self._refused:
                try:
                    with collector_paused():
                        fresh = LiveIndex(load_index(directory), directory)
                except RecommenderError as error:
                    self._refused = candidate
                    log.error("refused index version %s, still serving %s: %s", version, live.version, error)
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

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
