"""The teaser under an item's title: first sentence or so, at most 160 characters, cut at a word."""

from __future__ import annotations

import json
import re

import pytest

from recommender.indexing.teaser import ELLIPSIS, TEASER_CHARS, teaser
from recommender.serving.teasers import item_teaser
from tests.conftest import BUNDLED_CORPUS

DATE = re.compile(r"\w+day, \w+ \d{1,2}, \d{4}")
LONG_SENTENCE = " ".join(["The committee", *["examined the evidence again"] * 10]) + "."


def test_a_short_first_sentence_is_kept_whole_without_an_ellipsis() -> None:
    body = "The rocket lifted off carrying astronauts to the orbiting space station on Monday morning. Then more."
    assert teaser(body) == "The rocket lifted off carrying astronauts to the orbiting space station on Monday morning."


def test_a_very_short_first_sentence_is_followed_by_the_next_of_its_paragraph_when_it_fits() -> None:
    assert teaser("It happened. Voters queued at polling stations.\n\nMore.") == (
        "It happened. Voters queued at polling stations."
    )
    assert teaser("It happened. " + LONG_SENTENCE) == "It happened."


def test_a_long_sentence_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    cut = teaser(LONG_SENTENCE)
    assert cut is not None and len(cut) <= TEASER_CHARS and cut.endswith(ELLIPSIS)
    words = cut.removesuffix(ELLIPSIS).split(" ")
    assert words == LONG_SENTENCE.split(" ")[: len(words)]  # only whole words
    assert len(cut) > TEASER_CHARS - len("examined the evidence again")


def test_no_teaser_is_longer_than_the_limit_and_the_limit_can_be_set() -> None:
    assert len(teaser(LONG_SENTENCE, limit=40) or "") <= 40
    assert teaser("Short words only here, and then some more words.", limit=20) == "Short words only…"


def test_trailing_punctuation_is_dropped_before_the_ellipsis() -> None:
    assert teaser("One, two, three, four, five, six.", limit=12) == f"One, two{ELLIPSIS}"


@pytest.mark.parametrize("body", [None, "", "   \n\n  ", "Friday, January 4, 2019\xa0\n\n"])
def test_no_text_no_teaser(body: str | None) -> None:
    assert teaser(body) is None


def test_a_very_long_first_word_is_cut_inside_it() -> None:
    word = "x" * 500
    assert teaser(word) == "x" * (TEASER_CHARS - 1) + ELLIPSIS
    assert teaser(f"A {word} ended.") == ("A " + word)[: TEASER_CHARS - 1] + ELLIPSIS  # not "A…"


@pytest.mark.parametrize(
    "dateline",
    [
        "Friday, January 4, 2019\xa0 \n\n",
        "Friday, January 4, 2019\n",
        "4 January 2019\n\n",
        "Sept. 21, 2020\n",
        "2019-01-04\n",
        "2019-01-04T08:00:00+00:00\n",
    ],
)
def test_a_leading_date_line_is_skipped(dateline: str) -> None:
    body = dateline + "An apartment building collapsed on Monday in Magnitogorsk. A gas leak was suspected."
    assert teaser(body) == "An apartment building collapsed on Monday in Magnitogorsk. A gas leak was suspected."


def test_a_date_inside_the_first_sentence_stays() -> None:
    assert teaser("On January 4, 2019 the building collapsed.") == "On January 4, 2019 the building collapsed."


def test_abbreviations_and_initials_do_not_end_the_sentence() -> None:
    body = "U.S. heiress Gloria Vanderbilt, mother of Mr. Cooper and friend of J. D. Salinger, died on Monday at 95."
    assert teaser(body) == body


def test_multi_byte_text_is_counted_in_characters_and_accents_stay_with_their_letter() -> None:
    polish = "Paweł Adamowicz, mayor of the Polish city of Gdańsk, was stabbed last night whilst on stage."
    assert teaser(polish) == polish
    cut = teaser(("Zażółć gęślą jaźń " * 20).strip() + ".")
    assert cut is not None and len(cut) <= TEASER_CHARS and cut.endswith(ELLIPSIS)
    assert cut.removesuffix(ELLIPSIS).split(" ")[-1] in ("Zażółć", "gęślą", "jaźń")
    combining = "e\u0301" * 200  # é as e + combining acute: never split
    cut = teaser(combining)
    assert cut is not None and len(cut) <= TEASER_CHARS and cut.removesuffix(ELLIPSIS).endswith("\u0301")


def test_chinese_sentences_end_at_the_ideographic_full_stop() -> None:
    assert teaser("火箭今天发射升空。宇航员前往空间站。" + "很长" * 100) == "火箭今天发射升空。宇航员前往空间站。"
    cut = teaser("很长" * 200)
    assert cut is not None and len(cut) == TEASER_CHARS and cut.endswith(ELLIPSIS)


def test_every_bundled_article_gets_a_teaser_that_is_not_a_date() -> None:
    for line in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines():
        body = json.loads(line)["body"]
        text = teaser(body)
        assert text and len(text) <= TEASER_CHARS
        assert not DATE.match(text), text


def test_an_index_built_before_teasers_were_stored_still_gets_them_from_its_excerpt() -> None:
    assert item_teaser({"excerpt": "Friday, January 4, 2019\n\nThe rocket lifted off. It flew."}) == (
        "The rocket lifted off. It flew."
    )
    assert item_teaser({"excerpt": "Long text " * 60, "teaser": "Stored."}) == "Stored."
