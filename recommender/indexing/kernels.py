"""The compiled inner loops of the neighbour search (see neighbours.py).

numba compiles them on first use and caches the machine code beside this file;
``nogil=True`` lets threads run them on every core at once. ``search_rows``
writes a block's own output arrays (row ``start`` at 0), so that a block can run
in a thread or on another machine and hand back only its rows.
"""

import numba
import numpy as np

# numba compiles from the values passed; the annotations are for readers and the type checker.
Array = np.ndarray


@numba.njit(nogil=True, cache=True)
def prune_postings(
    indptr: Array, docs: Array, weights: Array, cap: int, start: int, stop: int,
    out_indptr: Array, out_docs: Array, out_weights: Array,
) -> None:  # fmt: skip
    for term in range(start, stop):
        begin, end = indptr[term], indptr[term + 1]
        order = np.argsort(-weights[begin:end], kind="mergesort")[:cap]
        target = out_indptr[term]
        for position in range(order.size):
            out_docs[target + position] = docs[begin + order[position]]
            out_weights[target + position] = weights[begin + order[position]]


@numba.njit(nogil=True, cache=True)
def strongest_terms(indptr: Array, indices: Array, data: Array) -> Array:
    """Each row's highest-weighted term (the first of equals), -1 for an empty row."""
    strongest = np.full(indptr.size - 1, -1, np.int64)
    for row in range(indptr.size - 1):
        best = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            if data[p] > best:
                best = data[p]
                strongest[row] = indices[p]
    return strongest


@numba.njit(nogil=True, cache=True)
def search_rows(
    start: int, stop: int, indptr: Array, indices: Array, data: Array,
    post_indptr: Array, post_docs: Array, post_weights: Array,
    term_count: int, query_terms: int, candidates: int, duplicate_threshold: float,
    out_ids: Array, out_scores: Array, out_duplicates: Array, out_words: Array,
) -> None:  # fmt: skip
    row_count = indptr.size - 1
    k = out_ids.shape[1]
    partial = np.zeros(row_count, np.float32)
    touched = np.empty(row_count + 1, np.int32)  # + 1: the branch-free loop writes one slot ahead
    query = np.zeros(term_count, np.float32)
    for row in range(start, stop):
        begin, end = indptr[row], indptr[row + 1]
        if end == begin:
            continue
        weights = data[begin:end]
        strongest = np.argsort(-weights, kind="mergesort")[:query_terms]
        touched_count = 0
        for position in strongest:
            term = indices[begin + position]
            weight = weights[position]
            for p in range(post_indptr[term], post_indptr[term + 1]):
                # Branch-free: the slot is always written and kept only for a document not touched before.
                # A branch here is mispredicted about as often as not, and cost a quarter of the search.
                doc = post_docs[p]
                before = partial[doc]
                touched[touched_count] = doc
                touched_count += before == 0.0
                partial[doc] = before + weight * post_weights[p]
        pool = touched[:touched_count].copy()
        if touched_count > candidates:
            scores = np.empty(touched_count, np.float32)
            for a in range(touched_count):
                scores[a] = partial[pool[a]]
            cutoff = np.partition(scores, touched_count - candidates)[touched_count - candidates]
            kept = 0
            for a in range(touched_count):
                if scores[a] >= cutoff and kept < 2 * candidates:
                    pool[kept] = pool[a]
                    kept += 1
            pool = pool[:kept]
        for a in range(touched_count):
            partial[touched[a]] = 0.0
        for p in range(begin, end):
            query[indices[p]] = data[p]
        exact = np.empty(pool.size, np.float32)
        squares = np.empty(pool.size, np.float32)
        for a in range(pool.size):
            doc = pool[a]
            total = 0.0
            total_squares = 0.0
            for p in range(indptr[doc], indptr[doc + 1]):
                product = data[p] * query[indices[p]]
                total += product
                total_squares += product * product
            exact[a] = total
            squares[a] = total_squares
        for p in range(begin, end):
            query[indices[p]] = 0.0
        order = np.argsort(-exact, kind="mergesort")
        filled = 0
        for a in order:
            if filled == k:
                break
            doc = pool[a]
            if doc != row and exact[a] >= duplicate_threshold:
                out_duplicates[row - start] += 1
                continue
            if doc == row or exact[a] <= 0.0:
                continue
            out_ids[row - start, filled] = doc
            out_scores[row - start, filled] = exact[a]
            out_words[row - start, filled] = exact[a] * exact[a] / squares[a]
            filled += 1
