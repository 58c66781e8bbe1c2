"""Term counts of a large corpus on every core: chunks analysed in worker processes, vocabularies merged.

Analysing text (tokenising, stop words, stemming) is pure Python and holds the
GIL, so threads would not help: an executor (joblib worker processes, or the
workers of a Dask cluster; see distributed.py) runs chunks of articles, each
returning its sparse term counts over its own vocabulary, and the parent merges
the vocabularies, applies the document-frequency cut-offs and weights the counts
exactly as scikit-learn's TfidfVectorizer would.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from recommender.indexing.distributed import Executor

Analyze = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Counts:
    """One space's term counts: (documents x terms) int32 CSR over ``terms`` (sorted)."""

    terms: list[str]
    matrix: sparse.csr_matrix


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _count_chunk(spaces: Sequence[Sequence[str]], analyzer: Analyze) -> tuple[list[Counts], Counter[str]]:
    """Counts of each space's texts, and the surface words seen (the analyser counts them)."""
    analyzer.surface_counts = Counter()  # type: ignore[attr-defined]  # Analyze is a callable; ours has it
    counted = []
    for texts in spaces:
        counter = CountVectorizer(analyzer=analyzer, dtype=np.int32)
        matrix = counter.fit_transform(texts) if texts else sparse.csr_matrix((0, 0), dtype=np.int32)
        counted.append(Counts(counter.get_feature_names_out().tolist() if texts else [], matrix))
    return counted, analyzer.surface_counts  # type: ignore[attr-defined]  # set above


def _merge(chunks: Sequence[Counts]) -> Counts:
    terms = sorted(set().union(*(chunk.terms for chunk in chunks)))
    column = {term: number for number, term in enumerate(terms)}
    blocks = []
    for chunk in chunks:
        mapping = np.fromiter((column[term] for term in chunk.terms), np.int64, len(chunk.terms))
        matrix = chunk.matrix.tocsr()
        blocks.append(
            sparse.csr_matrix(
                (matrix.data, mapping[matrix.indices] if mapping.size else matrix.indices, matrix.indptr),
                shape=(matrix.shape[0], len(terms)),
            )
        )
    return Counts(terms, sparse.vstack(blocks, format="csr"))


def count_in_parallel(
    spaces: Sequence[Sequence[str]],
    analyzer: Analyze,
    executor: Executor,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Counts], Counter[str]]:
    """Each space's term counts over the whole corpus, and the surface words seen, in the executor's chunks.

    The result does not depend on how the corpus was cut: counts are integers and the merged vocabulary is sorted.
    ``progress(analysed, total)`` hears of each finished chunk: on a million articles the analysis takes minutes.
    """
    count = len(spaces[0])
    bounds = np.linspace(0, count, 4 * executor.workers + 1).astype(int)
    tasks = [[texts[start:stop] for texts in spaces] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    tasks = [task for task in tasks if len(task[0])]
    analysed = 0

    def finished(number: int) -> None:
        nonlocal analysed
        analysed += len(tasks[number][0])
        if progress is not None:
            progress(analysed, count)

    results = executor.map_chunks(_count_chunk, tasks, analyzer, done=finished)
    surface: Counter[str] = Counter()
    for _, seen in results:
        surface.update(seen)
    merged = [_merge([chunks[space] for chunks, _ in results]) for space in range(len(spaces))]
    return merged, surface


def set_fitted(step: TfidfVectorizer, terms: Sequence[str], idf: np.ndarray) -> None:
    """Make ``step`` a fitted TfidfVectorizer with this vocabulary (column order) and these idf weights."""
    step.vocabulary_ = {term: column for column, term in enumerate(terms)}
    step.fixed_vocabulary_ = False
    step.idf_ = np.asarray(idf, dtype=np.float64)


def fit_counts(step: TfidfVectorizer, counts: Counts) -> sparse.csr_matrix:
    """Make ``step`` a fitted TfidfVectorizer from corpus counts; returns its TF-IDF rows.

    Follows scikit-learn: min_df/max_df as counts or shares of documents, smooth
    idf ln((1 + n) / (1 + df)) + 1, sublinear tf 1 + ln(tf), rows L2-normalised.
    """
    documents = counts.matrix.shape[0]
    frequency = np.bincount(counts.matrix.indices, minlength=len(counts.terms))
    high = step.max_df if isinstance(step.max_df, int | np.integer) else step.max_df * documents
    low = step.min_df if isinstance(step.min_df, int | np.integer) else step.min_df * documents
    keep = np.flatnonzero((frequency >= low) & (frequency <= high))
    if keep.size == 0:
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    matrix = counts.matrix[:, keep].astype(np.float64)
    matrix.sort_indices()
    idf = np.log((1 + documents) / (1 + frequency[keep])) + 1.0
    set_fitted(step, [counts.terms[column] for column in keep], idf)
    if step.sublinear_tf:
        np.log(matrix.data, out=matrix.data)
        matrix.data += 1.0
    matrix = matrix @ sparse.diags(idf)
    return normalize(sparse.csr_matrix(matrix, dtype=step.dtype))
