"""The related-articles index: build it once, look lists up (``storage`` saves and loads it).

A request only looks up precomputed rows, so answering costs microseconds no
matter how large the corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.pipeline import FeatureUnion

from recommender.errors import UnknownArticle
from recommender.indexing.corpus import Article, Corpus
from recommender.indexing.distributed import Executor
from recommender.indexing.neighbours import SearchSettings, search
from recommender.indexing.records import ArticleTable, encode_records
from recommender.indexing.relevance import RelevanceSettings, quality_report, resolve_floor
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.tags import TagIndex
from recommender.indexing.teaser import teaser
from recommender.indexing.vectorize import PARALLEL_CORPUS, VectorizerSettings, fit, vocabulary_size

EXCERPT_CHARS = 600

StageProgress = Callable[[str, int, int], None]


FORMAT_VERSION = 3


@dataclass(frozen=True, slots=True)
class Neighbour:
    article: dict[str, Any]
    score: float


class Index:
    """A built index, in memory after a build or memory-mapped after a load."""

    def __init__(
        self,
        manifest: dict[str, Any],
        articles: ArticleTable,
        neighbour_ids: np.ndarray,
        neighbour_scores: np.ndarray,
        matrix: sparse.csr_matrix,
        vectorizer: FeatureUnion | Callable[[], FeatureUnion],
        words: list[str] | Callable[[], list[str]],
        quality: dict[str, Any],
    ) -> None:
        self.manifest = manifest
        self.quality = quality
        self._words = words
        self.articles = articles
        self.neighbour_ids = neighbour_ids
        self.neighbour_scores = neighbour_scores
        self.matrix = matrix
        self._vectorizer = vectorizer

    @cached_property
    def vectorizer(self) -> FeatureUnion:
        """The fitted vectoriser. A loaded index rebuilds it on first use: that holds the GIL for tens of
        milliseconds, which a hot reload should not impose on the requests served meanwhile, and only
        adding articles needs it."""
        if isinstance(self._vectorizer, FeatureUnion):
            return self._vectorizer
        return self._vectorizer()

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    def __len__(self) -> int:
        return len(self.articles)

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.articles.row_of(article_id) is not None

    def row_of(self, article_id: str) -> int:
        row = self.articles.row_of(article_id)
        if row is None:
            raise UnknownArticle(article_id)
        return row

    def id_of(self, row: int) -> str:
        return self.articles.id_of(row)

    def article(self, article_id: str) -> dict[str, Any]:
        return self.articles[self.row_of(article_id)]

    def find(self, article_id: str) -> dict[str, Any] | None:
        row = self.articles.row_of(article_id)
        return None if row is None else self.articles[row]

    def published_timestamp(self, article_id: str) -> float:
        row = self.articles.row_of(article_id)
        return float("-inf") if row is None else float(self.articles.published[row])

    @property
    def rerank_settings(self) -> RerankSettings:
        """The build's defaults for recency, one item per story and diversity (requests may override them)."""
        return RerankSettings(**self.manifest["parameters"].get("rerank", {}))

    @property
    def floor(self) -> float:
        """The relevance floor this index was built with: a neighbour below it is not "similar"."""
        return float(self.manifest["relevance"]["floor"])

    @property
    def neighbours_per_article(self) -> int:
        """How many neighbours each article's stored list holds (``recommender build --k``)."""
        return int(self.neighbour_ids.shape[1])

    @property
    def min_shared_words(self) -> float:
        """How many words a similar item's cosine must rest on; 0 (off) for an index built before the test."""
        return float(self.manifest["relevance"].get("min_shared_words", 0.0))

    @cached_property
    def words(self) -> list[str]:
        """Column number -> readable word of the TF-IDF matrix (read on first use, like the vectoriser)."""
        return self._words() if callable(self._words) else self._words

    @property
    def newest_first(self) -> Iterator[dict[str, Any]]:
        """Articles by publication time, newest first, undated ones last: decoded as they are read."""
        return self._rows(self.articles.newest_rows)

    def newest_in_section(self, section: str) -> Iterator[dict[str, Any]]:
        return self._rows(self.articles.group("sections", section))

    def with_tag(self, tag: str) -> Iterator[dict[str, Any]]:
        """The articles carrying a casefolded tag, newest first."""
        return self._rows(self.articles.group("tags", tag))

    @cached_property
    def tag_index(self) -> TagIndex:
        """Editors' tags -> their articles, newest first (for the "Related" box)."""
        return table_tag_index(self.articles)

    def _rows(self, rows: np.ndarray) -> Iterator[dict[str, Any]]:
        return (self.articles[row] for _, row in self.articles.dated(rows))

    def related(self, article_id: str, limit: int, min_score: float = 0.0) -> list[Neighbour]:
        """The ``limit`` most similar articles scoring at least ``min_score``, best first, without the
        article and its duplicates."""
        row = self.row_of(article_id)
        found: list[Neighbour] = []
        for neighbour, score in zip(self.neighbour_ids[row], self.neighbour_scores[row], strict=True):
            if neighbour < 0 or len(found) == limit or score < min_score:
                break
            found.append(Neighbour(self.articles[neighbour], float(score)))
        return found


def table_tag_index(table: ArticleTable) -> TagIndex:
    """The tag index of a table, by id and publication time: only the articles a box shows are decoded.

    Its functions hold the table, not the Index, so that a replaced index is freed as soon as nothing
    serves it (a cycle through the Index would wait for a full collection, or forever after gc.freeze).
    """

    def newest(tag: str) -> Iterator[tuple[str, float]]:
        return ((table.id_of(row), published) for published, row in table.dated(table.group("tags", tag)))

    return TagIndex(len(table), lambda tag: len(table.group("tags", tag)), newest)


def _version(built_at: datetime, checksum: str) -> str:
    return f"{built_at:%Y%m%dT%H%M%SZ}-{checksum[:8]}"


def article_record(article: Article) -> dict[str, Any]:
    """What the index keeps of an article: everything but the body, plus its start and the boxes' teaser."""
    record = article.to_dict()
    record["excerpt"] = record.pop("body")[:EXCERPT_CHARS]
    record["teaser"] = teaser(article.body)
    return record


def build_index(
    corpus: Corpus,
    vectorizer_settings: VectorizerSettings = VectorizerSettings(),
    search_settings: SearchSettings = SearchSettings(),
    progress: StageProgress | None = None,
    relevance_settings: RelevanceSettings = RelevanceSettings(),
    exported_at: datetime | None = None,
    rerank_settings: RerankSettings = RerankSettings(),
    *,
    executor: Executor | None = None,
    parallel_from: int = PARALLEL_CORPUS,
) -> Index:
    """Vectorise the corpus, find every article's neighbours and its relevance floor, all in memory.

    ``exported_at``: when the CMS export began (default: the corpus file's modification time). The day's
    changes made from then on are replayed on top of this index; older ones are in it already.
    ``executor``: where the chunked work runs (e.g. a Dask cluster; default this machine's cores); corpora
    of ``parallel_from`` articles or more are analysed in chunks. The index does not depend on either.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    article_count = len(corpus.articles)
    report("vectorising", 0, article_count)
    fitted = fit(
        corpus.articles,
        vectorizer_settings,
        parallel_from=parallel_from,
        executor=executor,
        # The merge and the weighting follow the last chunk: the stage is at 100% when they are done.
        progress=lambda analysed, _: report("vectorising", min(analysed, article_count - 1), article_count),
    )
    vectorizer, matrix = fitted.vectorizer, fitted.matrix
    report("vectorising", article_count, article_count)
    lists = search(matrix, search_settings, lambda done, total: report("neighbours", done, total), executor=executor)
    relevance = {**relevance_settings.to_dict(), **resolve_floor(matrix, relevance_settings)}
    records = encode_records(article_record(article) for article in corpus.articles)
    quality = quality_report(
        lists.ids,
        lists.scores,
        lists.shared_words,
        lists.duplicates,
        [article.id for article in corpus.articles],
        relevance["floor"],
        relevance_settings.min_shared_words,
    )
    built_at = datetime.now(UTC).replace(microsecond=0)
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": _version(built_at, corpus.checksum),
        "built_at": built_at.isoformat(),
        "build_seconds": round(time.perf_counter() - started, 3),
        "corpus": {
            "path": corpus.path,
            "sha256": corpus.checksum,
            "rows": corpus.rows,
            "bad_rows": len(corpus.problems),
            "exported_at": (exported_at or _modified_at(corpus.path)).isoformat(),
        },
        "article_count": len(corpus.articles),
        "vocabulary_size": vocabulary_size(vectorizer),
        "parameters": {
            "vectorizer": vectorizer_settings.to_dict(),
            "search": search_settings.to_dict(),
            "rerank": rerank_settings.to_dict(),
        },
        "relevance": relevance,
        "libraries": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    return Index(manifest, records, lists.ids, lists.scores, matrix, vectorizer, fitted.words, quality)


def _modified_at(path: str) -> datetime:
    try:
        return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)
    except OSError:  # not a file (built in memory): its changes are those from now on
        return datetime.now(UTC)
