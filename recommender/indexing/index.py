"""The related-articles index: build it once, save it, load it, look lists up.

A request only looks up precomputed rows, so answering costs microseconds no
matter how large the corpus. On disk an index is one directory of plain data,
no pickles (loading an index runs no stored code, and moving code never breaks
a published index):

- ``manifest.json``: format version, library versions, counts, parameters,
  corpus checksum and the size and SHA-256 of every other file, all of which
  must be there and nothing else;
- ``neighbour_ids.npy``, ``neighbour_scores.npy``, ``matrix_*.npy``: the lists
  and the TF-IDF matrix, memory-mapped on load so that workers share one copy;
- ``vectorizer.json`` and ``idf_*.npy``: the fitted vectoriser as data, each
  space's vocabulary and idf weights, rebuilt on first use;
- ``articles.jsonl``: what the API shows of each article, in row order;
- ``words.json``: the readable word behind each matrix column, for explanations;
- ``quality.json``: what readers will see (coverage above the relevance floor,
  score spread, hubs, near-duplicates), checked before publishing.
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

import numpy as np
import sklearn
from scipy import sparse
from sklearn.pipeline import FeatureUnion

from recommender.errors import IncompatibleIndex, UnknownArticle
from recommender.indexing.corpus import Article, Corpus
from recommender.indexing.neighbours import SearchSettings, search
from recommender.indexing.relevance import RelevanceSettings, quality_report, resolve_floor
from recommender.indexing.rerank import RerankSettings
from recommender.indexing.teaser import teaser
from recommender.indexing.vectorize import (
    VectorizerSettings,
    fit,
    restore_vectorizer,
    vectorizer_idf,
    vectorizer_terms,
    vocabulary_size,
)

FORMAT_VERSION = 2
EXCERPT_CHARS = 600
MANIFEST = "manifest.json"
_ARRAYS = ("neighbour_ids", "neighbour_scores", "matrix_data", "matrix_indices", "matrix_indptr")
_VECTORIZER = "vectorizer.json"
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
        self._row_of = {article["id"]: row for row, article in enumerate(articles)}

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
    def rerank_settings(self) -> RerankSettings:
        """The build's defaults for recency, one item per story and diversity (requests may override them)."""
        return RerankSettings(**self.manifest["parameters"].get("rerank", {}))

    @property
    def floor(self) -> float:
        """The relevance floor this index was built with: a neighbour below it is not "similar"."""
        return float(self.manifest["relevance"]["floor"])

    @cached_property
    def words(self) -> list[str]:
        """Column number -> readable word of the TF-IDF matrix (read on first use, like the vectoriser)."""
        return self._words() if callable(self._words) else self._words

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
) -> Index:
    """Vectorise the corpus, find every article's neighbours and its relevance floor, all in memory.

    ``exported_at``: when the CMS export began (default: the corpus file's modification time). The day's
    changes made from then on are replayed on top of this index; older ones are in it already.
    """
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


def exported_at(manifest: dict[str, Any]) -> float:
    """The export's cut-off in seconds since the epoch: changes from then on are not in the index."""
    stamp = manifest.get("corpus", {}).get("exported_at")
    return datetime.fromisoformat(stamp).timestamp() if stamp else float("-inf")


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


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=None) + "\n", encoding="utf-8")


def write_index_files(index: Index, directory: Path) -> None:
    """Write every file of the index into an existing, empty directory, each fsynced; manifest last."""
    matrix = index.matrix
    arrays = {
        "neighbour_ids": index.neighbour_ids,
        "neighbour_scores": index.neighbour_scores,
        "matrix_data": matrix.data,
        "matrix_indices": matrix.indices,
        "matrix_indptr": matrix.indptr,
    }
    arrays |= {f"idf_{space}": idf for space, idf in vectorizer_idf(index.vectorizer).items()}
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    _write_json(directory / _VECTORIZER, {"terms": vectorizer_terms(index.vectorizer)})
    with (directory / _ARTICLES).open("w", encoding="utf-8") as stream:
        for record in index.articles:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    _write_json(directory / _WORDS, index.words)
    _write_json(directory / QUALITY, index.quality)
    files = {}
    for path in sorted(directory.iterdir()):
        _fsync(path)
        files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    index.manifest["files"] = files
    index.manifest["matrix_shape"] = list(matrix.shape)
    (directory / MANIFEST).write_text(json.dumps(index.manifest, indent=2) + "\n", encoding="utf-8")
    _fsync(directory / MANIFEST)
    _fsync(directory)


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
    rebuild = "rebuild with `recommender build`"
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IncompatibleIndex(
            f"{directory}: index format {manifest.get('format_version')!r}, this code reads format "
            f"{FORMAT_VERSION}; {rebuild}"
        )
    built_with = manifest.get("libraries", {}).get("scikit-learn")
    if built_with != sklearn.__version__:
        raise IncompatibleIndex(
            f"{directory}: built with scikit-learn {built_with}, running {sklearn.__version__}; {rebuild}"
        )
    files = manifest.get("files")
    expected = {f"{name}.npy" for name in _ARRAYS} | {_VECTORIZER, _ARTICLES, _WORDS, QUALITY}
    if not isinstance(files, dict) or not expected <= set(files):
        raise IncompatibleIndex(f"{directory}: the manifest does not list every file of an index; {rebuild}")
    present = {path.name for path in directory.iterdir()} - {MANIFEST}
    if present - set(files):
        raise IncompatibleIndex(f"{directory}: files not in the manifest: {', '.join(sorted(present - set(files)))}")
    for name, listed in files.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != listed["bytes"]:
            raise IncompatibleIndex(f"{path}: missing or truncated; {rebuild}")
        if verify_checksums and _sha256(path) != listed["sha256"]:
            raise IncompatibleIndex(f"{path}: checksum mismatch (corrupt copy); {rebuild}")


def _read_articles(path: Path) -> list[dict[str, Any]]:
    # Read whole, then parse: iterating a text file line by line starves other threads of the GIL
    # for tens of milliseconds at a time, which a hot reload must not do to the requests in flight.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IncompatibleIndex(f"{path}: unreadable: {error}; rebuild with `recommender build`") from error


def _array(directory: Path, name: str, mmap: bool = True) -> np.ndarray:
    return np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)


def _vectorizer_loader(directory: Path, manifest: dict[str, Any]) -> Callable[[], FeatureUnion]:
    def load() -> FeatureUnion:
        settings = VectorizerSettings(**manifest["parameters"]["vectorizer"])
        terms = _read_json(directory / _VECTORIZER)["terms"]
        return restore_vectorizer(settings, terms, {space: _array(directory, f"idf_{space}", False) for space in terms})

    return load


def load_index(directory: str | Path, verify_checksums: bool = True) -> Index:
    """Load an index written by ``save_index``; arrays are memory-mapped, not copied.

    Raises IncompatibleIndex for a missing, damaged or incompatible index.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    _check_compatible(directory, manifest, verify_checksums)
    try:
        arrays = {name: _array(directory, name) for name in _ARRAYS}
        articles = _read_articles(directory / _ARTICLES)
        matrix = sparse.csr_matrix(
            (arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]),
            shape=tuple(int(n) for n in manifest["matrix_shape"]),
            copy=False,
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IncompatibleIndex(f"{directory}: cannot load index: {error}") from error
    if len(articles) != manifest["article_count"] or arrays["neighbour_ids"].shape[0] != len(articles):
        raise IncompatibleIndex(f"{directory}: article count does not match the manifest; rebuild")
    return Index(
        manifest,
        articles,
        arrays["neighbour_ids"],
        arrays["neighbour_scores"],
        matrix,
        _vectorizer_loader(directory, manifest),
        lambda: _read_json(directory / _WORDS),
        _read_json(directory / QUALITY),
    )


def read_quality(directory: str | Path) -> dict[str, Any] | None:
    """The quality report of an index directory, or None when it has none (another format)."""
    path = Path(directory) / QUALITY
    return _read_json(path) if path.is_file() else None
