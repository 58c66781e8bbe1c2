"""The related-articles index: build it once, save it, load it, look lists up.

A request only looks up precomputed rows, so answering costs microseconds no
matter how large the corpus. On disk an index is one directory:

- ``manifest.json``: format version, library versions, counts, parameters,
  corpus checksum and the size and SHA-256 of every other file;
- ``arrays.joblib``: neighbour ids and scores and the TF-IDF matrix, as plain
  arrays that load memory-mapped, so that several workers share one copy;
- ``vectorizer.joblib``: the fitted vectoriser (a pickle: load only
  indexes you built, from configured paths);
- ``articles.jsonl``: what the API shows of each article, in row order;
- ``words.json``: the readable word behind each matrix column, for explanations;
- ``quality.json``: what readers will see (coverage above the relevance floor,
  score spread, hubs, near-duplicates), checked before publishing.

Indexes written before ``words.json`` and ``quality.json`` existed still load:
their floor is the default minimum and their words come from the vectoriser.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.pipeline import FeatureUnion

from recommender.corpus import Article, Corpus
from recommender.errors import IncompatibleIndex, UnknownArticle
from recommender.neighbours import SearchSettings, search
from recommender.relevance import RelevanceSettings, quality_report, resolve_floor
from recommender.vectorize import VectorizerSettings, feature_words, fit, vocabulary_size

FORMAT_VERSION = 1
EXCERPT_CHARS = 600
MANIFEST = "manifest.json"
_ARRAYS = "arrays.joblib"
_VECTORIZER = "vectorizer.joblib"
_ARTICLES = "articles.jsonl"
_WORDS = "words.json"
QUALITY = "quality.json"

StageProgress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Neighbour:
    article: dict[str, Any]
    score: float


class Index:
    """A built index, in memory after a build or memory-mapped after a load."""

    def __init__(
        self,
        manifest: dict[str, Any],
        articles: list[dict[str, Any]],
        neighbour_ids: np.ndarray,
        neighbour_scores: np.ndarray,
        matrix: sparse.csr_matrix,
        vectorizer: FeatureUnion | Callable[[], FeatureUnion],
        words: list[str] | Callable[[], list[str] | None] | None = None,
        quality: dict[str, Any] | None = None,
    ) -> None:
        self.manifest = manifest
        self.quality = quality
        self._words = words
        self.articles = articles
        self.neighbour_ids = neighbour_ids
        self.neighbour_scores = neighbour_scores
        self.matrix = matrix
        self._vectorizer = vectorizer
        self._row_of = {article["id"]: row for row, article in enumerate(articles)}

    @cached_property
    def vectorizer(self) -> FeatureUnion:
        """The fitted vectoriser. A loaded index unpickles it on first use: unpickling holds the GIL for
        tens of milliseconds, which a hot reload should not impose on the requests served meanwhile,
        and only adding articles and explaining scores need it."""
        if isinstance(self._vectorizer, FeatureUnion):
            return self._vectorizer
        return self._vectorizer()

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    def __len__(self) -> int:
        return len(self.articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._row_of

    def row_of(self, article_id: str) -> int:
        try:
            return self._row_of[article_id]
        except KeyError:
            raise UnknownArticle(article_id) from None

    def article(self, article_id: str) -> dict[str, Any]:
        return self.articles[self.row_of(article_id)]

    def find(self, article_id: str) -> dict[str, Any] | None:
        row = self._row_of.get(article_id)
        return None if row is None else self.articles[row]

    def published_timestamp(self, article_id: str) -> float:
        article = self.find(article_id)
        return float("-inf") if article is None else published_timestamp(article)

    @property
    def floor(self) -> float:
        """The relevance floor this index was built with: a neighbour below it is not "similar"."""
        relevance = self.manifest.get("relevance")
        return float(relevance["floor"]) if relevance else RelevanceSettings().absolute_floor

    @cached_property
    def words(self) -> list[str]:
        """Column number -> readable word of the TF-IDF matrix (read on first use, like the vectoriser)."""
        words = self._words() if callable(self._words) else self._words
        return words if words is not None else feature_words(self.vectorizer)

    @cached_property
    def newest_first(self) -> list[dict[str, Any]]:
        """Articles by publication time, newest first; undated ones last."""
        return sorted(self.articles, key=published_timestamp, reverse=True)

    @cached_property
    def _by_section(self) -> dict[str, list[dict[str, Any]]]:
        return by_section(self.newest_first)

    def newest_in_section(self, section: str) -> list[dict[str, Any]]:
        return self._by_section.get(section, [])

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


def by_section(articles: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Articles grouped by section, each group in the given order; articles without a section left out."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for article in articles:
        if article.get("section"):
            groups.setdefault(article["section"], []).append(article)
    return groups


def published_timestamp(article: dict[str, Any]) -> float:
    """Seconds since the epoch, for ordering; undated articles sort as oldest, naive times as UTC."""
    if not article.get("published_at"):
        return float("-inf")
    moment = datetime.fromisoformat(article["published_at"])
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def _version(built_at: datetime, checksum: str) -> str:
    return f"{built_at:%Y%m%dT%H%M%SZ}-{checksum[:8]}"


def article_record(article: Article) -> dict[str, Any]:
    """What the index keeps of an article: everything but the body, plus its start."""
    record = article.to_dict()
    record["excerpt"] = record.pop("body")[:EXCERPT_CHARS]
    return record


def build_index(
    corpus: Corpus,
    vectorizer_settings: VectorizerSettings = VectorizerSettings(),
    search_settings: SearchSettings = SearchSettings(),
    progress: StageProgress | None = None,
    relevance_settings: RelevanceSettings = RelevanceSettings(),
) -> Index:
    """Vectorise the corpus, find every article's neighbours and its relevance floor, all in memory."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    report("vectorising", 0, len(corpus.articles))
    fitted = fit(corpus.articles, vectorizer_settings)
    vectorizer, matrix = fitted.vectorizer, fitted.matrix
    report("vectorising", len(corpus.articles), len(corpus.articles))
    lists = search(matrix, search_settings, lambda done, total: report("neighbours", done, total))
    relevance = {**relevance_settings.to_dict(), **resolve_floor(matrix, relevance_settings)}
    records = [article_record(article) for article in corpus.articles]
    quality = quality_report(
        lists.ids, lists.scores, lists.duplicates, [record["id"] for record in records], relevance["floor"]
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
        },
        "article_count": len(corpus.articles),
        "vocabulary_size": vocabulary_size(vectorizer),
        "parameters": {"vectorizer": vectorizer_settings.to_dict(), "search": search_settings.to_dict()},
        "relevance": relevance,
        "libraries": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    return Index(manifest, records, lists.ids, lists.scores, matrix, vectorizer, fitted.words, quality)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_index_files(index: Index, directory: Path) -> None:
    """Write every file of the index into an existing, empty directory; manifest last."""
    matrix = index.matrix
    arrays = {
        "neighbour_ids": np.ascontiguousarray(index.neighbour_ids),
        "neighbour_scores": np.ascontiguousarray(index.neighbour_scores),
        "matrix_data": matrix.data,
        "matrix_indices": matrix.indices,
        "matrix_indptr": matrix.indptr,
        "matrix_shape": np.asarray(matrix.shape, np.int64),
    }
    joblib.dump(arrays, directory / _ARRAYS)
    joblib.dump(index.vectorizer, directory / _VECTORIZER)
    with (directory / _ARTICLES).open("w", encoding="utf-8") as stream:
        for record in index.articles:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    (directory / _WORDS).write_text(json.dumps(index.words, ensure_ascii=False), encoding="utf-8")
    names = [_ARRAYS, _VECTORIZER, _ARTICLES, _WORDS]
    if index.quality is not None:
        (directory / QUALITY).write_text(json.dumps(index.quality, indent=2) + "\n", encoding="utf-8")
        names.append(QUALITY)
    files = {}
    for name in names:
        _fsync(directory / name)
        files[name] = {"bytes": (directory / name).stat().st_size, "sha256": _sha256(directory / name)}
    index.manifest["files"] = files
    (directory / MANIFEST).write_text(json.dumps(index.manifest, indent=2) + "\n", encoding="utf-8")
    _fsync(directory / MANIFEST)


def save_index(index: Index, out: str | Path) -> Path:
    """Write the index to ``out`` through a temporary sibling directory and a rename.

    An interrupted save leaves only a hidden temporary directory behind, never
    a half-written ``out``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_index_files(index, staging)
        staging.chmod(0o755)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, retired / out.name)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = "build one with `recommender build`"
        raise IncompatibleIndex(f"{directory}: no index here (missing {MANIFEST}); {hint}") from None
    except (OSError, ValueError) as error:
        raise IncompatibleIndex(f"{path}: unreadable manifest: {error}") from error
    if not isinstance(manifest, dict):
        raise IncompatibleIndex(f"{path}: unreadable manifest")
    return manifest


def _check_compatible(directory: Path, manifest: dict[str, Any], verify_checksums: bool) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IncompatibleIndex(
            f"{directory}: index format {manifest.get('format_version')!r}, this code reads format "
            f"{FORMAT_VERSION}; rebuild with `recommender build`"
        )
    built_with = manifest.get("libraries", {}).get("scikit-learn")
    if built_with != sklearn.__version__:
        raise IncompatibleIndex(
            f"{directory}: built with scikit-learn {built_with}, running {sklearn.__version__}; "
            "rebuild with `recommender build`"
        )
    for name, expected in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            raise IncompatibleIndex(f"{path}: missing or truncated; rebuild with `recommender build`")
        if verify_checksums and _sha256(path) != expected["sha256"]:
            raise IncompatibleIndex(f"{path}: checksum mismatch (corrupt copy); rebuild with `recommender build`")


def _read_articles(path: Path) -> list[dict[str, Any]]:
    # Read whole, then parse: iterating a text file line by line starves other threads of the GIL
    # for tens of milliseconds at a time, which a hot reload must not do to the requests in flight.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load_index(directory: str | Path, verify_checksums: bool = True) -> Index:
    """Load an index written by ``save_index``; arrays are memory-mapped, not copied.

    Raises IncompatibleIndex for a missing, damaged or incompatible index.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    _check_compatible(directory, manifest, verify_checksums)
    try:
        arrays = joblib.load(directory / _ARRAYS, mmap_mode="r")
        articles = _read_articles(directory / _ARTICLES)
        matrix = sparse.csr_matrix(
            (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]),
            shape=tuple(int(n) for n in arrays["matrix_shape"]),
            copy=False,
        )
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise IncompatibleIndex(f"{directory}: cannot load index: {error}") from error
    if len(articles) != manifest["article_count"] or arrays["neighbour_ids"].shape[0] != len(articles):
        raise IncompatibleIndex(f"{directory}: article count does not match the manifest; rebuild")
    vectorizer_path = directory / _VECTORIZER
    return Index(
        manifest,
        articles,
        arrays["neighbour_ids"],
        arrays["neighbour_scores"],
        matrix,
        lambda: joblib.load(vectorizer_path),
        lambda: _read_json(directory / _WORDS),
        read_quality(directory),
    )


def _read_json(path: Path) -> Any:
    """A JSON file of the index, or None for an index written before it existed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise IncompatibleIndex(f"{path}: unreadable: {error}; rebuild with `recommender build`") from error


def read_quality(directory: str | Path) -> dict[str, Any] | None:
    """The quality report of an index directory, or None for an index built before reports."""
    return _read_json(Path(directory) / QUALITY)
