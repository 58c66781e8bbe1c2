"""The index a process serves: the published index plus the day's changes.

``LiveIndex`` is an immutable snapshot; applying a change makes a new one
(``serving.holder`` swaps them in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from recommender.errors import UnknownArticle
from recommender.indexing.index import Index, Neighbour, article_record
from recommender.indexing.records import published_timestamp
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.storage import exported_at
from recommender.indexing.tags import TagIndex, tags_of
from recommender.indexing.vectorize import transform
from recommender.serving.changes import Change
from recommender.serving.curation import NONE as NO_CURATION
from recommender.serving.curation import Curation
from recommender.serving.overlay import overlaid, overlaid_tags

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
    def min_shared_words(self) -> float:
        return self.base.min_shared_words

    @property
    def neighbours_per_article(self) -> int:
        return self.base.neighbours_per_article

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
        return self.base.matrix[self._base_row(article_id)]

    def curation_of(self, article_id: str) -> Curation:
        return self.curation.get(article_id, NO_CURATION)

    def with_curation(self, curation: dict[str, Curation]) -> LiveIndex:
        """The same articles with other pins and blocks. It keeps the memo: a re-ranked list does not depend on
        them (they change which list a page asks for, by its key), so a correction recomputes none."""
        snapshot = self._copy()
        snapshot.curation = curation
        snapshot._memo = self._memo
        return snapshot

    def memoised(self, key: Any, compute: Callable[[], Any]) -> Any:
        """A value computed once per snapshot (a re-ranked list): a new snapshot starts afresh. Beyond
        ``MEMO_SIZE`` entries the oldest goes, one for each new one: emptying it all at once made every
        worker re-rank every list at the same moment, the ones prepared ahead of readers first."""
        memo = self._memo
        try:
            return memo[key]
        except KeyError:
            pass
        value = compute()
        memo[key] = value
        while len(memo) > MEMO_SIZE:
            try:
                del memo[next(iter(memo))]
            except (KeyError, RuntimeError, StopIteration):  # another request thread evicted it first
                break
        return value

    def dense_rows(self, article_ids: Sequence[str]) -> np.ndarray:
        """The rows of several served articles, in order, as one dense array over the union of their terms: a
        box's candidates share a few hundred terms (slicing the sparse matrix cost 0.5 ms of a request)."""
        parts = [self._row(article_id) for article_id in article_ids]
        if not parts:
            return np.zeros((0, 0), np.float32)
        terms = np.concatenate([terms for terms, _ in parts])
        columns, column_of = np.unique(terms, return_inverse=True)
        rows = np.zeros((len(parts), columns.size), np.float32)
        per_row = [terms.size for terms, _ in parts]
        rows[np.repeat(np.arange(len(parts)), per_row), column_of] = np.concatenate([w for _, w in parts])
        return rows

    def same_story(self, article_id: str, other_id: str) -> bool:
        """Whether two served articles are near-duplicates (cosine at or above the duplicate threshold).

        Computed on the rows' raw arrays: a request checks a dozen fallbacks this way, and slicing
        the sparse matrix for each cost 0.3 ms, most of a request's time.
        """
        terms, weights = self._row(article_id)
        other_terms, other_weights = self._row(other_id)
        _, mine, theirs = np.intersect1d(terms, other_terms, assume_unique=True, return_indices=True)
        return bool(np.dot(weights[mine], other_weights[theirs]) >= self.duplicate_threshold)

    def _row(self, article_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The term numbers and weights of an article's row, as views of the (memory-mapped) matrix."""
        if article_id in self._vectors:
            vector = self._vectors[article_id]
            return vector.indices, vector.data
        matrix = self.base.matrix
        row = self._base_row(article_id)
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        return matrix.indices[start:stop], matrix.data[start:stop]

    def _base_row(self, article_id: str) -> int:
        """The row of an article served from the published index (found without decoding its record)."""
        if article_id in self._hidden:
            raise UnknownArticle(article_id)
        return self.base.row_of(article_id)

    @property
    def words(self) -> list[str]:
        """Column number -> word, for explanations (computed once per published version)."""
        return self.base.words

    @property
    def newest_first(self) -> Iterator[dict[str, Any]]:
        """Articles newest first, decoded as they are read: a box reads a few of a million."""
        if self.seq == 0:
            return self.base.newest_first
        return overlaid(self.base.articles, self.base.articles.newest_rows, self._added_newest, self._hidden)

    def newest_in_section(self, section: str) -> Iterator[dict[str, Any]]:
        if self.seq == 0:
            return self.base.newest_in_section(section)
        added = [(published, a) for published, a in self._added_newest if a.get("section") == section]
        rows = self.base.articles.group("sections", section)
        return overlaid(self.base.articles, rows, added, self._hidden)

    @cached_property
    def tag_index(self) -> TagIndex:
        """Editors' tags -> their articles, newest first (for the "Related" box)."""
        if self.seq == 0:
            return self.base.tag_index
        added: dict[str, list[tuple[float, str]]] = {}
        for published, article in self._added_newest:
            for tag in tags_of(article):
                added.setdefault(tag, []).append((published, article["id"]))
        hidden = Counter(tag for article_id in self._hidden for tag in tags_of(self.base.article(article_id)))
        return overlaid_tags(self.base.tag_index, len(self), added, self._hidden, hidden)

    @cached_property
    def _added_newest(self) -> list[tuple[float, dict[str, Any]]]:
        """The added articles with their publication times, newest first (ties in the order added)."""
        dated = [(published_timestamp(article), article) for article in self._added.values()]
        return sorted(dated, key=itemgetter(0), reverse=True)

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
                (neighbour_id, float(s))
                for n, s in zip(base_ids[base_ids >= 0], self.base.neighbour_scores[row], strict=False)
                if (neighbour_id := self.base.id_of(n)) not in self._hidden
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
        cached = ("tag_index", "_added_newest")
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
            if change.article_id in self.base:
                snapshot._hidden |= {change.article_id}
            if change.article is not None:
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
            own = [(self.base.id_of(int(r)), float(scores[r])) for r in top if scores[r] > 0]
        # Existing articles whose list the new one now belongs to: it beats their K-th neighbour.
        kth = np.where(self.base.neighbour_ids[:, -1] >= 0, self.base.neighbour_scores[:, -1], 0.0)
        for row in np.nonzero(scores > kth)[0]:
            base_id = self.base.id_of(int(row))
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
