"""TF-IDF vectorising of articles.

An article is two TF-IDF spaces side by side: its whole text (title and body)
and its title alone, the title space weighted by ``title_weight``, so that the
words of a title count more than the same words in the body. The settings are
the ones ``recommender evaluate`` picked on the labeled news corpora (see the
README for the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, normalize

from recommender.corpus import Article

# Corpora smaller than this are too small for document-frequency cut-offs:
# with a handful of articles, min_df=2 or max_df=0.5 would remove most terms.
SMALL_CORPUS = 50


@dataclass(frozen=True, slots=True)
class VectorizerSettings:
    title_weight: float = 0.2
    sublinear_tf: bool = True
    min_df: int = 2
    max_df: float = 0.5
    stop_words: str | None = "english"
    token_pattern: str = r"(?u)\b[^\W\d_][^\W\d_]+\b"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def full_texts(articles: Sequence[Article]) -> list[str]:
    return [f"{article.title}\n{article.body}" for article in articles]


def titles(articles: Sequence[Article]) -> list[str]:
    return [article.title for article in articles]


def make_vectorizer(settings: VectorizerSettings, document_count: int) -> FeatureUnion:
    """The unfitted vectoriser: a union of the text and title TF-IDF spaces."""
    small = document_count < SMALL_CORPUS

    def tfidf(min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            sublinear_tf=settings.sublinear_tf,
            min_df=1 if small else min_df,
            max_df=1.0 if small else settings.max_df,
            stop_words=settings.stop_words,
            token_pattern=settings.token_pattern,
            dtype=np.float32,
        )

    return FeatureUnion(
        [
            ("text", make_pipeline(FunctionTransformer(full_texts), tfidf(settings.min_df))),
            # Titles are short and specific: a title word seen once is still worth keeping.
            ("title", make_pipeline(FunctionTransformer(titles), tfidf(1))),
        ],
        transformer_weights={"text": 1.0 - settings.title_weight, "title": settings.title_weight},
    )


def tfidf_steps(vectorizer: FeatureUnion) -> list[tuple[str, TfidfVectorizer]]:
    """The fitted TfidfVectorizer of each space, by space name."""
    return [(name, pipeline[-1]) for name, pipeline in vectorizer.transformer_list]


def vocabulary_size(vectorizer: FeatureUnion) -> int:
    return sum(len(step.vocabulary_) for _, step in tfidf_steps(vectorizer))


def fit_vectorizer(articles: Sequence[Article], settings: VectorizerSettings) -> tuple[FeatureUnion, sparse.csr_matrix]:
    """Fit on the whole corpus; returns the vectoriser and L2-normalised rows (float32 CSR)."""
    vectorizer = make_vectorizer(settings, len(articles))
    matrix = vectorizer.fit_transform(articles)
    for _, step in tfidf_steps(vectorizer):
        # stop_words_ keeps every pruned term, often more than the vocabulary
        # itself; it is only there for introspection and would bloat the index.
        step.stop_words_ = None
    return vectorizer, _canonical(matrix)


def transform(vectorizer: FeatureUnion, articles: Sequence[Article]) -> sparse.csr_matrix:
    """Vectorise articles that were not in the fitted corpus, with the fitted vocabulary."""
    return _canonical(vectorizer.transform(articles))


def _canonical(matrix: Any) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(normalize(matrix), dtype=np.float32)
    matrix.sort_indices()
    return matrix


def feature_words(vectorizer: FeatureUnion) -> list[str]:
    """The word behind each column of the matrix, in column order (a word may own a text and a title column)."""
    words: list[str] = []
    for _, step in tfidf_steps(vectorizer):
        words.extend(step.get_feature_names_out().tolist())
    return words
