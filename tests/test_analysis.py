"""Language-aware analysis: stemming, stop words per language, news words that carry no topic."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from recommender.cli import main
from recommender.indexing.analysis import LANGUAGES, Analyzer
from recommender.indexing.corpus import Article, load_corpus
from recommender.indexing.distributed import ProcessExecutor
from recommender.indexing.index import build_index
from recommender.indexing.storage import load_index
from recommender.indexing.vectorize import VectorizerSettings, fit, transform
from recommender.serving.publish import current_dir
from tests.conftest import BUNDLED_CORPUS, write_jsonl

# A plural and its singular, and a word of the language's stop list, for each supported language.
SAMPLES = {
    "en": ("elections", "election", "the"),
    "de": ("Wahlen", "Wahl", "und"),
    "fr": ("élections", "élection", "les"),
    "es": ("elecciones", "elección", "los"),
    "it": ("elezioni", "elezione", "della"),
    "nl": ("verkiezingen", "verkiezing", "het"),
    "pt": ("livros", "livro", "dos"),
    "sv": ("valen", "valet", "och"),
    "da": ("valgene", "valget", "og"),
    "no": ("valgene", "valget", "og"),
    "fi": ("talot", "talo", "ja"),
    "ru": ("выборы", "выборов", "и"),
}


def test_every_supported_language_has_a_sample() -> None:
    assert set(SAMPLES) == set(LANGUAGES)


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_each_language_stems_and_drops_its_stop_words(language: str) -> None:
    plural, singular, stop_word = SAMPLES[language]
    analyzer = Analyzer(language)
    terms = analyzer(f"{stop_word} {plural} {stop_word} {singular}")
    assert len(terms) == 2 and terms[0] == terms[1], terms


def test_contractions_possessives_weekdays_and_reporting_verbs_make_no_terms() -> None:
    terms = Analyzer("en")("We've said they don't know Tuesday's vote, she told the minister\u2019s aides.")
    assert terms == ["know", "vote", "minist", "aid"]


def test_apostrophes_join_english_words_and_split_french_elisions() -> None:
    assert Analyzer("en", stemming=False)("O'Brien met the ministers' heirs") == ["obrien", "met", "ministers", "heirs"]
    assert Analyzer("fr")("l'élection et les élections") == Analyzer("fr")("élection élections")


def test_a_vectoriser_transforms_the_same_after_pickling() -> None:
    topics = ["The elections were counted; voters elected a member.", "The striker scored in the derby match."]
    titles = ["Votes counted", "Derby won", "Budget passed"]
    articles = [Article(f"a{n}", titles[n % 3], topics[n % 2]) for n in range(60)]
    fitted = fit(articles, VectorizerSettings())
    restored = pickle.loads(pickle.dumps(fitted.vectorizer))
    new = [Article("x", "Elections counted", "Voters and elections")]
    assert np.array_equal(transform(fitted.vectorizer, new).toarray(), transform(restored, new).toarray())
    assert "elections" in fitted.words and "elect" not in fitted.words  # readable, not stems


def test_an_unknown_language_exits_2_listing_the_supported_ones(tmp_path: Path, capsys) -> None:
    corpus = Path(__file__).resolve().parent.parent / "corpus" / "wikinews.jsonl"
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(corpus), "--index-root", str(root)]) == 0
    before = current_dir(root)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--corpus", str(corpus), "--index-root", str(root), "--language", "xx"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "xx" in error and all(f"'{code}'" in error for code in LANGUAGES)
    assert current_dir(root) == before and len(list((root / "versions").iterdir())) == 1


def test_a_german_corpus_builds_with_german_analysis(tmp_path: Path) -> None:
    rows = [
        {"id": "w1", "title": "Wahlen in Berlin", "body": "Die Wahlen in Berlin wurden wiederholt."},
        {"id": "w2", "title": "Wahl in Hamburg", "body": "Die Wahl in Hamburg ist entschieden."},
        {"id": "f1", "title": "Fußball", "body": "Der Verein gewann das Spiel im Stadion."},
    ]
    corpus = write_jsonl(tmp_path / "de.jsonl", rows)
    out = tmp_path / "index"
    assert main(["build", "--corpus", str(corpus), "--out", str(out), "--language", "de"]) == 0
    index = load_index(out)
    assert index.manifest["parameters"]["vectorizer"]["language"] == "de"
    assert [n.article["id"] for n in index.related("w1", 5, index.floor)] == ["w2"]


def test_analysis_in_worker_processes_gives_the_same_vectoriser() -> None:
    articles = load_corpus(BUNDLED_CORPUS).articles
    serial = fit(articles, VectorizerSettings(), jobs=1)
    parallel = fit(articles, VectorizerSettings(), jobs=2, parallel_from=0)
    assert serial.words == parallel.words
    assert abs(serial.matrix - parallel.matrix).max() < 1e-6
    new = articles[:5]
    assert abs(transform(serial.vectorizer, new) - transform(parallel.vectorizer, new)).max() < 1e-6


def test_a_build_reports_the_analysis_chunk_by_chunk() -> None:
    """On a million articles vectorising takes minutes: the progress line must move, with its ETA."""
    corpus = load_corpus(BUNDLED_CORPUS)
    total = len(corpus.articles)
    heard: list[tuple[int, int]] = []

    def progress(stage: str, done: int, count: int) -> None:
        if stage == "vectorising":
            heard.append((done, count))

    build_index(corpus, progress=progress, executor=ProcessExecutor(2), parallel_from=0)
    done = [value for value, _ in heard]
    assert all(count == total for _, count in heard)
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    between = [value for value in done if 0 < value < total]
    assert len(between) == 8  # four chunks per worker, each heard as it finishes
    assert done.count(total) == 1  # 100% only once the merge and the weighting are done too
