"""Top-K cosine neighbours of every row of an L2-normalised sparse matrix.

Exact all-pairs similarity costs the sum of squared document frequencies, which
at 100,000 news articles takes minutes. Like Lucene's MoreLikeThis, each
article instead queries an inverted index with its strongest terms, over
posting lists cut to their highest-weighted documents; the best-scoring
candidates are then re-ranked with their exact cosine. The recall of this
against exact cosine is measured by ``bench/build.py`` and by the tests.

The kernels (recommender/kernels.py) are compiled with numba and release the
GIL, so row blocks run on all cores through a thread pool while sharing the
matrix, or on the workers of a Dask cluster (distributed.py), each with a
copy. They are imported only when a search runs: the web workers, which only
look lists up, never load numba and its compiler (about 60 MB each).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import sparse

from recommender.indexing.distributed import Executor, ThreadExecutor

ProgressCallback = Callable[[int, int], None]
_BLOCK_ROWS = 1024


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """How hard the candidate step looks; the defaults keep recall@10 above 0.99 up to 100,000 articles and
    above 0.97 at 1,000,000 (bench/build.py).

    An article queries with its strongest terms, at most ``query_terms`` of them, and stops adding terms
    once their posting lists hold ``posting_budget`` documents: in a small corpus the lists are short
    and all 40 terms are cheap; at a million articles the budget stops after 25 terms (median; 21 to 32
    for 80% of articles). Measured at 1,000,000 articles (README), fewer terms over
    longer lists found more true neighbours for the same work than 40 terms over lists of 1,000.

    ``duplicate_threshold``: a cosine at or above it marks the same story
    republished (wire copies, corrections); such pairs are left out of each
    other's lists. See the README for how it was chosen from the corpora.
    """

    k: int = 30
    query_terms: int = 40
    posting_budget: int = 30_000
    posting_cap: int = 1500
    candidates: int = 400
    duplicate_threshold: float = 0.85

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _pruned_postings(matrix: sparse.csr_matrix, cap: int, pool: ThreadPoolExecutor) -> sparse.csr_matrix:
    """The inverted index (terms x documents), each posting list cut to its ``cap`` best documents."""
    from recommender.indexing.kernels import prune_postings

    postings = sparse.csr_matrix(matrix.T)
    lengths = np.minimum(np.diff(postings.indptr), cap)
    out_indptr = np.zeros(postings.shape[0] + 1, np.int64)
    np.cumsum(lengths, out=out_indptr[1:])
    out_docs = np.empty(out_indptr[-1], np.int32)
    out_weights = np.empty(out_indptr[-1], np.float32)
    bounds = np.linspace(0, postings.shape[0], 4 * _workers() + 1).astype(np.int64)
    jobs = [
        pool.submit(
            prune_postings,
            postings.indptr.astype(np.int64),
            postings.indices,
            postings.data,
            cap,
            start,
            stop,
            out_indptr,
            out_docs,
            out_weights,
        )  # fmt: skip
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for job in jobs:
        job.result()
    return sparse.csr_matrix((out_weights, out_docs, out_indptr), shape=postings.shape)


@dataclass(frozen=True, slots=True)
class NeighbourLists:
    """Every row's neighbours, best first, and how many near-duplicates were left out of its list."""

    ids: np.ndarray  # (n_articles, k) int32 row numbers, padded with -1
    scores: np.ndarray  # (n_articles, k) float32 cosines, padded with 0
    duplicates: np.ndarray  # (n_articles,) int32: rows at or above the duplicate threshold, dropped
    # (n_articles, k) float32: how many words each cosine rests on (relevance.shared_words), padded with 0
    shared_words: np.ndarray


def top_neighbours(
    matrix: sparse.csr_matrix,
    settings: SearchSettings = SearchSettings(),
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For every row, its ``settings.k`` most cosine-similar other rows: ``(ids, scores)`` of ``search``."""
    lists = search(matrix, settings, progress, workers)
    return lists.ids, lists.scores


def search(
    matrix: sparse.csr_matrix,
    settings: SearchSettings = SearchSettings(),
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> NeighbourLists:
    """For every row, its ``settings.k`` most cosine-similar other rows.

    ``matrix``: (n_articles, n_terms) float32 CSR with L2-normalised rows.
    Memory grows with n_articles * k plus the matrix's non-zeros (twice: the
    search reads a copy in locality order); no n x n array is ever made. Row
    blocks run on ``executor`` (default: a thread per core here); the matrix
    and postings are scattered to it once, and every block hands back its own
    rows, so the lists do not depend on where blocks ran.
    """
    from recommender.indexing.kernels import add_reverse_pairs

    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    row_count = matrix.shape[0]
    # Searched in an order that keeps related articles together, mapped back at the end (see locality_order).
    order = locality_order(matrix)
    matrix = matrix[order]
    with ThreadPoolExecutor(max_workers=workers or _workers()) as pool:
        postings = _pruned_postings(matrix, settings.posting_cap, pool)
        shared = SearchData(
            matrix.indptr.astype(np.int64), matrix.indices, matrix.data,
            postings.indptr, postings.indices, postings.data, matrix.shape[1], settings,
        )  # fmt: skip
        runner = executor or ThreadExecutor(pool, workers or _workers())
        # At most _BLOCK_ROWS rows a block, and at least four blocks a worker, so that all are kept busy.
        size = max(1, min(_BLOCK_ROWS, -(-row_count // (4 * runner.workers))))
        blocks = [(start, min(row_count, start + size)) for start in range(0, row_count, size)]
        done = 0

        def finished(block: int) -> None:
            nonlocal done
            done += blocks[block][1] - blocks[block][0]
            if progress is not None:
                progress(done, row_count)

        results = runner.map_chunks(search_block, blocks, runner.scatter(shared), done=finished)
    if not results:
        empty = np.zeros((0, settings.k), np.float32)
        return NeighbourLists(np.full((0, settings.k), -1, np.int32), empty, np.zeros(0, np.int32), empty)
    ids, scores, duplicates, words = (_in_row_order(np.concatenate(part), order) for part in zip(*results, strict=True))
    ids = np.where(ids >= 0, order[np.maximum(ids, 0)], -1).astype(np.int32)
    add_reverse_pairs(ids, scores, words)
    return NeighbourLists(ids, scores, duplicates, words)


def locality_order(matrix: sparse.csr_matrix) -> np.ndarray:
    """The rows grouped by their strongest term, in their own order within a group.

    The search reads, for each row, the posting lists of its strongest terms and the rows they name.
    Consecutive rows that share terms walk the same lists while they are in cache, and a list's rows sit
    close together in the scratch array of scores and in the matrix: at 100,000 and 1,000,000 articles,
    a fifth to a quarter less time a row than in a shuffled order, for the same arithmetic.
    """
    from recommender.indexing.kernels import strongest_terms

    strongest = strongest_terms(matrix.indptr.astype(np.int64), matrix.indices, matrix.data)
    order: np.ndarray = np.argsort(strongest, kind="stable")
    return order


def _in_row_order(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-row results computed in ``order`` put back in the matrix's own row order."""
    restored = np.empty_like(values)
    restored[order] = values
    return restored


@dataclass(frozen=True, slots=True)
class SearchData:
    """What every row block reads: the matrix's and the pruned postings' arrays, and the settings."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    post_indptr: np.ndarray
    post_docs: np.ndarray
    post_weights: np.ndarray
    term_count: int
    settings: SearchSettings

    @property
    def nbytes(self) -> int:
        arrays = (self.indptr, self.indices, self.data, self.post_indptr, self.post_docs, self.post_weights)
        return sum(array.nbytes for array in arrays)


def search_block(block: tuple[int, int], shared: SearchData) -> tuple[np.ndarray, ...]:
    """One block of rows' neighbour ids, scores, dropped duplicates and shared words (runs in a thread or on a
    Dask worker)."""
    from recommender.indexing.kernels import search_rows

    start, stop = block
    settings = shared.settings
    ids = np.full((stop - start, settings.k), -1, np.int32)
    scores = np.zeros((stop - start, settings.k), np.float32)
    duplicates = np.zeros(stop - start, np.int32)
    words = np.zeros((stop - start, settings.k), np.float32)
    search_rows(
        start, stop, shared.indptr, shared.indices, shared.data,
        shared.post_indptr, shared.post_docs, shared.post_weights, shared.term_count,
        settings.query_terms, settings.posting_budget, settings.candidates, settings.duplicate_threshold,
        ids, scores, duplicates, words,
    )  # fmt: skip
    return ids, scores, duplicates, words


def exact_neighbours(
    matrix: sparse.csr_matrix, rows: np.ndarray, k: int, duplicate_threshold: float = 1.01
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k cosine neighbours of the given rows, by brute force: the reference for recall."""
    similarity = (matrix[rows] @ matrix.T).toarray()
    similarity[np.arange(rows.size), rows] = -np.inf
    similarity[similarity >= duplicate_threshold] = -np.inf
    similarity[similarity <= 0.0] = -np.inf
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(similarity, order, axis=1)
    return np.where(np.isfinite(best), order, -1).astype(np.int32), np.where(np.isfinite(best), best, 0.0)


def recall_at(approximate_scores: np.ndarray, exact_scores: np.ndarray, k: int) -> float:
    """Share of the exact top-k that the approximate top-k found.

    The approximate lists are re-ranked with exact cosines, so an item counts as
    found when its score reaches the exact k-th score: ties are not misses.
    """
    found = wanted = 0
    for approx_row, exact_row in zip(approximate_scores[:, :k], exact_scores[:, :k], strict=True):
        valid = int(np.count_nonzero(exact_row > 0.0))
        if valid == 0:
            continue
        kth = exact_row[valid - 1]
        wanted += valid
        found += min(valid, int(np.count_nonzero(approx_row >= kth - 1e-5)))
    return found / wanted if wanted else 1.0
