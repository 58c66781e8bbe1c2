"""TF-IDF vectorising of articles.

An article is two TF-IDF spaces side by side: its whole text (title and body)
and its title alone, the title space weighted by ``title_weight``, so that the
words of a title count more than the same words in the body. Words are
analysed per language: letters only, possessives dropped, stop words removed
(a maintained list per language, plus, for English, words that carry no topic
in news: weekdays, reporting verbs), then Snowball-stemmed, so that
"election" and "elections" are one term. The settings are the ones
``recommender evaluate`` picked on the labeled news corpora (see the README).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import Stemmer
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import FunctionTransformer, normalize
from stop_words import get_stop_words

from recommender.errors import CorpusError
from recommender.indexing.corpus import Article
from recommender.indexing.counting import count_in_parallel, fit_counts, set_fitted, workers

# Corpora smaller than this are too small for document-frequency cut-offs:
# with a handful of articles, min_df=2 or max_df=0.5 would remove most terms.
SMALL_CORPUS = 50
# From this many articles the analysis runs in worker processes: below, starting them costs more than it saves.
PARALLEL_CORPUS = 20_000

# ISO 639-1 code -> the name of its Snowball stemmer and of its stop-word list.
LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "fi": "finnish",
    "ru": "russian",
}

# Words of two or more letters, as scikit-learn's default token pattern but without digits.
_WORD = re.compile(r"(?u)\b[^\W\d_][^\W\d_]+\b")
# English drops its apostrophes: a contraction becomes one stop word ("don't" -> "dont") instead of
# leaving "don" and "ve" behind, a possessive stems with its noun ("minister's" -> "ministers" ->
# "minist"). Elsewhere an apostrophe separates an elided article from its word ("l'élection").
_APOSTROPHES = ("'", "\u2019", "\u02bc")
_JOIN_APOSTROPHES = str.maketrans({mark: None for mark in _APOSTROPHES})
_SPLIT_APOSTROPHES = str.maketrans({mark: " " for mark in _APOSTROPHES})
# Contractions that, without their apostrophe, are also words with a meaning of their own.
_AMBIGUOUS_CONTRACTIONS = frozenset({"ill", "well", "shed", "wed", "id", "hell", "shell", "were", "its", "cant"})
_STEM_CACHE_SIZE = 500_000

# English news prose: words on almost every page that say nothing about its subject. Measured with
# `recommender evaluate` (README): weekdays and reporting verbs made articles look alike by their style.
NEWS_STOP_WORDS_EN = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday
    mondays tuesdays wednesdays thursdays fridays saturdays sundays
    said says say saying told tells tell telling according added adding reportedly
    spokesman spokeswoman spokesperson mr mrs ms""".split()
)


def stop_words_for(language: str, news: bool = True) -> frozenset[str]:
    """The stop words of a language (lower case, apostrophes as ')."""
    if language == "en":
        # scikit-learn's list: the stop-words package's English list (1,333 words) also drops
        # topics such as "microsoft", "computer" and "state". Its contractions are added as they
        # are tokenised, apostrophe dropped.
        contractions = {w.lower().translate(_JOIN_APOSTROPHES) for w in get_stop_words("english") if "'" in w}
        words = set(ENGLISH_STOP_WORDS) | (contractions - _AMBIGUOUS_CONTRACTIONS)
        if news:
            words |= NEWS_STOP_WORDS_EN
        return frozenset(words)
    return frozenset(word.lower() for word in get_stop_words(LANGUAGES[language]))


class Analyzer:
    """Text -> stemmed terms, for both TF-IDF spaces; picklable with the vectoriser.

    While ``surface_counts`` is a Counter (during a fit), it counts the words
    seen before stemming, so that explanations can show "elections", not "elect".
    """

    def __init__(self, language: str = "en", news_stop_words: bool = True, stemming: bool = True) -> None:
        self.language = language
        self.news_stop_words = news_stop_words
        self.stemming = stemming
        self.surface_counts: Counter[str] | None = None
        self._setup()

    def _setup(self) -> None:
        self._stop_words = stop_words_for(self.language, self.news_stop_words)
        self._apostrophes = _JOIN_APOSTROPHES if self.language == "en" else _SPLIT_APOSTROPHES
        self._local = threading.local()  # a Snowball stemmer is not thread-safe: one per thread
        self._stems: dict[str, str] = {}  # a dict lookup is 3x cheaper than the stemmer's own cache

    def __getstate__(self) -> dict[str, Any]:
        return {"language": self.language, "news_stop_words": self.news_stop_words, "stemming": self.stemming}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.surface_counts = None
        self._setup()

    def stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = Stemmer.Stemmer(LANGUAGES[self.language], 200_000)
        return stemmer

    def words(self, text: str) -> list[str]:
        """The words of a text that can be terms, before stemming."""
        stop = self._stop_words
        return [word for word in _WORD.findall(text.lower().translate(self._apostrophes)) if word not in stop]

    def __call__(self, text: str) -> list[str]:
        words = self.words(text)
        if self.surface_counts is not None:
            self.surface_counts.update(words)
        if not self.stemming:
            return words
        stems = self._stems
        if len(stems) > _STEM_CACHE_SIZE:
            stems = self._stems = {}
        unseen = [word for word in set(words) if word not in stems]
        if unseen:
            stems.update(zip(unseen, self.stemmer().stemWords(unseen), strict=True))
        return [stems[word] for word in words]

    def readable(self, terms: Sequence[str], counts: Counter[str]) -> list[str]:
        """For each term, its commonest surface form in ``counts`` (the term itself when unseen)."""
        surface = list(counts)
        stems = self.stemmer().stemWords(surface) if self.stemming else surface
        best: dict[str, tuple[int, str]] = {}
        for word, stem in zip(surface, stems, strict=True):
            count = counts[word]
            if stem not in best or (count, word) > best[stem]:
                best[stem] = (count, word)
        return [best[term][1] if term in best else term for term in terms]


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
) -> FittedVectorizer:
    """Fit on the whole corpus, keeping the commonest surface form of every term for explanations.

    Corpora of ``parallel_from`` articles or more are analysed on ``jobs`` processes (default: every
    core), with the same result as one process.
    """
    vectorizer = make_vectorizer(settings, len(articles))
    analyzer = _analyzer(vectorizer)
    jobs = jobs or workers()
    try:
        if jobs > 1 and len(articles) >= parallel_from:
            matrix, counts = _fit_in_parallel(vectorizer, articles, jobs)
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
    vectorizer: FeatureUnion, articles: Sequence[Article], jobs: int
) -> tuple[sparse.csr_matrix, Counter[str]]:
    """What ``vectorizer.fit_transform`` does, with the analysis spread over ``jobs`` processes."""
    texts = [full_texts(articles), titles(articles)]
    counted, surface = count_in_parallel(texts, _analyzer(vectorizer), jobs)
    weights = vectorizer.transformer_weights
    blocks = [
        fit_counts(step, counts) * weights[name]
        for (name, step), counts in zip(tfidf_steps(vectorizer), counted, strict=True)
    ]
    return sparse.hstack(blocks, format="csr"), surface


def _analyzer(vectorizer: FeatureUnion) -> Analyzer:
    return tfidf_steps(vectorizer)[0][1].analyzer


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
