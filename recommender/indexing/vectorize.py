"""TF-IDF vectorising of articles.

An article is two TF-IDF spaces side by side: its whole text (title and body)
and its title alone, the title space weighted by ``title_weight``, so that the
words of a title count more than the same words in the body. Words are
analysed per language (``analysis``). The settings are the ones
``recommender evaluate`` picked on the labeled news corpora (see the README).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, normalize

from recommender.errors import CorpusError
from recommender.indexing.analysis import LANGUAGES, Analyzer
from recommender.indexing.corpus import Article
from recommender.indexing.counting import count_in_parallel, fit_counts, set_fitted, workers
from recommender.indexing.distributed import Executor, ProcessExecutor

# Corpora smaller than this are too small for document-frequency cut-offs:
# with a handful of articles, min_df=2 or max_df=0.5 would remove most terms.
SMALL_CORPUS = 50
# From this many articles the analysis runs in worker processes: below, starting them costs more than it saves.
PARALLEL_CORPUS = 20_000


@dataclass(frozen=True, slots=True)
class VectorizerSettings:
    title_weight: float = 0.2
    sublinear_tf: bool = True
    min_df: int = 2
    max_df: float = 0.5
    language: str = "en"
    stemming: bool = True
    news_stop_words: bool = True

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"unsupported language {self.language!r}; supported: {', '.join(LANGUAGES)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def full_texts(articles: Sequence[Article]) -> list[str]:
    return [f"{article.title}\n{article.body}" for article in articles]


def titles(articles: Sequence[Article]) -> list[str]:
    return [article.title for article in articles]


def make_vectorizer(settings: VectorizerSettings, document_count: int) -> FeatureUnion:
    """The unfitted vectoriser: a union of the text and title TF-IDF spaces."""
    small = document_count < SMALL_CORPUS
    analyzer = Analyzer(settings.language, settings.news_stop_words, settings.stemming)

    def tfidf(min_df: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            sublinear_tf=settings.sublinear_tf,
            min_df=1 if small else min_df,
            max_df=1.0 if small else settings.max_df,
            analyzer=analyzer,
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


@dataclass(frozen=True, slots=True)
class FittedVectorizer:
    vectorizer: FeatureUnion
    matrix: sparse.csr_matrix  # L2-normalised rows, float32
    words: list[str]  # the readable word behind each column


def fit_vectorizer(articles: Sequence[Article], settings: VectorizerSettings) -> tuple[FeatureUnion, sparse.csr_matrix]:
    """Fit on the whole corpus; returns the vectoriser and L2-normalised rows (float32 CSR)."""
    fitted = fit(articles, settings)
    return fitted.vectorizer, fitted.matrix


def fit(
    articles: Sequence[Article],
    settings: VectorizerSettings,
    jobs: int | None = None,
    parallel_from: int = PARALLEL_CORPUS,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FittedVectorizer:
    """Fit on the whole corpus, keeping the commonest surface form of every term for explanations.

    Corpora of ``parallel_from`` articles or more are analysed in chunks by ``executor`` (default:
    ``jobs`` local processes, every core), with the same result as one process; ``progress(analysed,
    total)`` hears of each chunk analysed.
    """
    vectorizer = make_vectorizer(settings, len(articles))
    analyzer = _analyzer(vectorizer)
    jobs = jobs or workers()
    try:
        if (executor is not None or jobs > 1) and len(articles) >= parallel_from:
            matrix, counts = _fit_in_parallel(vectorizer, articles, executor or ProcessExecutor(jobs), progress)
        else:
            analyzer.surface_counts = Counter()
            matrix = vectorizer.fit_transform(articles)
            counts = analyzer.surface_counts
    except ValueError as error:  # scikit-learn: "After pruning, no terms remain", "empty vocabulary"
        raise CorpusError(f"the corpus has no words to compare articles by ({error})") from error
    finally:
        analyzer.surface_counts = None
    for _, step in tfidf_steps(vectorizer):
        # stop_words_ keeps every pruned term, often more than the vocabulary
        # itself; it is only there for introspection and would bloat the index.
        step.stop_words_ = None
    return FittedVectorizer(vectorizer, _canonical(matrix), analyzer.readable(feature_words(vectorizer), counts))


def _fit_in_parallel(
    vectorizer: FeatureUnion,
    articles: Sequence[Article],
    executor: Executor,
    progress: Callable[[int, int], None] | None,
) -> tuple[sparse.csr_matrix, Counter[str]]:
    """What ``vectorizer.fit_transform`` does, with the analysis spread over the executor's workers."""
    texts = [full_texts(articles), titles(articles)]
    counted, surface = count_in_parallel(texts, _analyzer(vectorizer), executor, progress)
    weights = vectorizer.transformer_weights
    blocks = [
        fit_counts(step, counts) * weights[name]
        for (name, step), counts in zip(tfidf_steps(vectorizer), counted, strict=True)
    ]
    return sparse.hstack(blocks, format="csr"), surface


def _analyzer(vectorizer: FeatureUnion) -> Analyzer:
    analyzer: Analyzer = tfidf_steps(vectorizer)[0][1].analyzer
    return analyzer


def transform(vectorizer: FeatureUnion, articles: Sequence[Article]) -> sparse.csr_matrix:
    """Vectorise articles that were not in the fitted corpus, with the fitted vocabulary."""
    return _canonical(vectorizer.transform(articles))


def _canonical(matrix: Any) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(normalize(matrix), dtype=np.float32)
    matrix.sort_indices()
    return matrix


def feature_words(vectorizer: FeatureUnion) -> list[str]:
    """The term behind each column of the matrix, in column order (a term may own a text and a title column)."""
    words: list[str] = []
    for _, step in tfidf_steps(vectorizer):
        words.extend(step.get_feature_names_out().tolist())
    return words


def vectorizer_terms(vectorizer: FeatureUnion) -> dict[str, list[str]]:
    """Each space's vocabulary in column order: with ``vectorizer_idf``, the fitted vectoriser as data."""
    return {name: step.get_feature_names_out().tolist() for name, step in tfidf_steps(vectorizer)}


def vectorizer_idf(vectorizer: FeatureUnion) -> dict[str, np.ndarray]:
    return {name: np.asarray(step.idf_, dtype=np.float64) for name, step in tfidf_steps(vectorizer)}


def restore_vectorizer(
    settings: VectorizerSettings, terms: dict[str, list[str]], idf: dict[str, np.ndarray]
) -> FeatureUnion:
    """The fitted vectoriser again, from its settings, vocabularies and idf weights: no pickle, so
    moving or renaming code never breaks a published index, and loading one runs no stored code."""
    vectorizer = make_vectorizer(settings, SMALL_CORPUS)
    for name, step in tfidf_steps(vectorizer):
        if len(terms[name]) != len(idf[name]):
            raise ValueError(f"space {name!r}: {len(terms[name])} terms but {len(idf[name])} idf weights")
        set_fitted(step, terms[name], idf[name])
    return vectorizer
