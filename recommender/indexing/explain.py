"""Why an article is in another's list: the words that contribute most to their cosine.

With L2-normalised TF-IDF rows, the cosine of two articles is the sum over
columns of the products of their weights; each shared column's product is its
share of the score. A word can own two columns (the text space and the title
space); its contributions are summed, so editors see words, not columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True, slots=True)
class SharedTerm:
    term: str
    contribution: float  # this word's part of the cosine


def shared_terms(
    first: sparse.csr_matrix, second: sparse.csr_matrix, words: list[str], limit: int = 6
) -> list[SharedTerm]:
    """The words of both 1-row vectors that weigh most in their similarity, strongest first."""
    product = first.multiply(second).tocsr()
    by_word: dict[str, float] = {}
    for column, value in zip(product.indices, product.data, strict=True):
        if value > 0:
            by_word[words[column]] = by_word.get(words[column], 0.0) + float(value)
    ranked = sorted(by_word.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    return [SharedTerm(term, round(contribution, 4)) for term, contribution in ranked if np.isfinite(contribution)]
