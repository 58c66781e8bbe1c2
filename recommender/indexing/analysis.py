"""Turning text into terms, per language: letters only, possessives dropped, stop words removed
(a maintained list per language, plus, for English, words that carry no topic in news: weekdays,
reporting verbs), then Snowball-stemmed, so that "election" and "elections" are one term.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from stop_words import get_stop_words

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
