"""An index on disk: one directory of plain data, no pickles.

Loading an index runs no stored code, and moving code never breaks a published index:

- ``manifest.json``: format version, library versions, counts, parameters,
  corpus checksum and the size and XXH3-128 digest of every other file, all of which
  must be there and nothing else;
- ``neighbour_ids.npy``, ``neighbour_scores.npy``, ``matrix_*.npy``: the lists
  and the TF-IDF matrix, memory-mapped on load so that workers share one copy;
- ``vectorizer.json`` and ``idf_*.npy``: the fitted vectoriser as data, each
  space's vocabulary and idf weights, rebuilt on first use;
- ``articles.jsonl``: what the API shows of each article, one JSON line per row, memory-mapped and
  decoded a record at a time; ``groups.json`` and the arrays of ``records.ARRAYS`` find the records by
  id and list them newest first, by section and by tag;
- ``words.json``: the readable word behind each matrix column, for explanations;
- ``quality.json``: what readers will see (coverage above the relevance floor,
  score spread, hubs, near-duplicates), checked before publishing.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import xxhash
from scipy import sparse
from sklearn.pipeline import FeatureUnion

from recommender.errors import IncompatibleIndex
from recommender.indexing.index import FORMAT_VERSION, Index
from recommender.indexing.records import ARRAYS as RECORD_ARRAYS
from recommender.indexing.records import ArticleTable
from recommender.indexing.vectorize import (
    VectorizerSettings,
    restore_vectorizer,
    vectorizer_idf,
    vectorizer_terms,
)

MANIFEST = "manifest.json"


_ARRAYS = ("neighbour_ids", "neighbour_scores", "matrix_data", "matrix_indices", "matrix_indptr")


_VECTORIZER = "vectorizer.json"


_ARTICLES = "articles.jsonl"
_GROUPS = "groups.json"


_WORDS = "words.json"


QUALITY = "quality.json"


def exported_at(manifest: dict[str, Any]) -> float:
    """The export's cut-off in seconds since the epoch: changes from then on are not in the index."""
    stamp = manifest.get("corpus", {}).get("exported_at")
    return datetime.fromisoformat(stamp).timestamp() if stamp else float("-inf")


def _digest(path: Path) -> str:
    """A file's XXH3-128: it catches a damaged copy like SHA-256 but reads 5 GB/s where SHA-256 reads 1,
    and every worker checks every file of a version it loads (1.7 GB at a million articles)."""
    digest = xxhash.xxh3_128()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk: a rename is durable only once its directory is."""
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
    arrays |= index.articles.arrays
    arrays |= {f"idf_{space}": idf for space, idf in vectorizer_idf(index.vectorizer).items()}
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
    _write_json(directory / _VECTORIZER, {"terms": vectorizer_terms(index.vectorizer)})
    (directory / _ARTICLES).write_bytes(index.articles.records)
    _write_json(directory / _GROUPS, index.articles.groups)
    _write_json(directory / _WORDS, index.words)
    _write_json(directory / QUALITY, index.quality)
    files = {}
    for path in sorted(directory.iterdir()):
        fsync(path)
        files[path.name] = {"bytes": path.stat().st_size, "xxh3_128": _digest(path)}
    index.manifest["files"] = files
    index.manifest["matrix_shape"] = list(matrix.shape)
    (directory / MANIFEST).write_text(json.dumps(index.manifest, indent=2) + "\n", encoding="utf-8")
    fsync(directory / MANIFEST)
    fsync(directory)


def save_index(index: Index, out: str | Path) -> Path:
    """Write the index to ``out``, replacing what is there in one rename."""
    out = Path(out)
    with staged(out) as staging:
        write_index_files(index, staging)
    return out


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A hidden sibling directory to write ``target`` into, renamed over it when the block succeeds.

    An interrupted write leaves only the hidden directory behind (``.NAME.tmp-*``), never a
    half-written ``target``; readers of ``target`` see the old directory or the new one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield staging
        staging.chmod(0o755)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
        fsync(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


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
    arrays = (*_ARRAYS, *RECORD_ARRAYS)
    expected = {f"{name}.npy" for name in arrays} | {_VECTORIZER, _ARTICLES, _GROUPS, _WORDS, QUALITY}
    if not isinstance(files, dict) or not expected <= set(files):
        raise IncompatibleIndex(f"{directory}: the manifest does not list every file of an index; {rebuild}")
    present = {path.name for path in directory.iterdir()} - {MANIFEST}
    if present - set(files):
        raise IncompatibleIndex(f"{directory}: files not in the manifest: {', '.join(sorted(present - set(files)))}")
    for name, listed in files.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != listed["bytes"]:
            raise IncompatibleIndex(f"{path}: missing or truncated; {rebuild}")
        if verify_checksums and _digest(path) != listed["xxh3_128"]:
            raise IncompatibleIndex(f"{path}: checksum mismatch (corrupt copy); {rebuild}")


def _records(directory: Path) -> ArticleTable:
    """The records memory-mapped: the workers share one copy, and nothing is parsed until shown."""
    with (directory / _ARTICLES).open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        records = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    arrays = {name: _array(directory, name) for name in RECORD_ARRAYS}
    return ArticleTable(records, arrays, _read_json(directory / _GROUPS))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IncompatibleIndex(f"{path}: unreadable: {error}; rebuild with `recommender build`") from error


def _array(directory: Path, name: str, mmap: bool = True) -> np.ndarray:
    array: np.ndarray = np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    return array


def _vectorizer_loader(directory: Path, manifest: dict[str, Any]) -> Callable[[], FeatureUnion]:
    def load() -> FeatureUnion:
        settings = VectorizerSettings(**manifest["parameters"]["vectorizer"])
        terms = _read_json(directory / _VECTORIZER)["terms"]
        return restore_vectorizer(settings, terms, {space: _array(directory, f"idf_{space}", False) for space in terms})

    return load


def verify_index(directory: str | Path) -> dict[str, Any]:
    """The manifest of a complete, undamaged index this code can read; raises IncompatibleIndex otherwise."""
    manifest = read_manifest(directory)
    _check_compatible(Path(directory), manifest, verify_checksums=True)
    return manifest


def load_index(directory: str | Path, verify_checksums: bool = True) -> Index:
    """Load an index written by ``save_index``; arrays are memory-mapped, not copied.

    Raises IncompatibleIndex for a missing, damaged or incompatible index.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    _check_compatible(directory, manifest, verify_checksums)
    try:
        arrays = {name: _array(directory, name) for name in _ARRAYS}
        articles = _records(directory)
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
