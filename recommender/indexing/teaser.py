"""The teaser a box shows under an item's title: the first sentence or so of the body.

Computed once per article when the index is built or an article is added, so
that serving a box never touches a body. A leading date line ("Friday, January
4, 2019", as Wikinews bodies start) is skipped: a teaser that only dates the
article tells the reader nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

TEASER_CHARS = 160
# Whole sentences are added while the teaser is shorter than this: "Hello." alone is no teaser.
MIN_CHARS = 80
ELLIPSIS = "…"

_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_LINE = re.compile(
    rf"(?:{_WEEKDAY},?\s+)?(?:{_MONTH}\s+{_DAY},?\s+\d{{4}}|{_DAY}\s+{_MONTH},?\s+\d{{4}})"
    r"|\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
# A sentence ends at . ! ? or … (then maybe a closing quote or bracket) before a space, or at CJK 。！？.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s|$)|[。！？][」』”’)）]*")
# Words a period follows without ending the sentence: titles and common abbreviations.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen gov sen rep col lt sgt capt rev no vs etc inc ltd co corp approx".split()
)
_WORD = re.compile(r"\w")
_TRAILING = " ,;:–—-([{\"'“‘«"


def _first_paragraph(body: str) -> str | None:
    """The body's first non-blank line that is not a date line, whitespace collapsed.

    Only the lines up to it are looked at: a teaser costs the same for a long body as for a short one.
    """
    for line in body.splitlines():
        paragraph = " ".join(line.split())
        if paragraph and not _DATE_LINE.fullmatch(paragraph.rstrip(".")):
            return paragraph
    return None


def _word_before(text: str, end: int) -> str:
    """The run of word characters that ends at ``end`` (maybe before one period), as ``(\\w+)\\.?$`` would find it.

    Walks back from ``end`` instead of searching the text from its start, which cost time in the length
    of the text for every period in it.
    """
    stop = end - 1 if end > 1 and text[end - 1] == "." and _WORD.match(text, end - 2) else end
    start = stop
    while start > 0 and _WORD.match(text, start - 1):
        start -= 1
    return text[start:stop]


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    if text[match.start()] != ".":
        return True
    before = _word_before(text, match.start())
    if not before:
        return True
    return not (len(before) == 1 and before.isalpha()) and before.lower() not in _ABBREVIATIONS


def _sentence_ends(paragraph: str) -> Iterator[int]:
    """Where each sentence of the paragraph ends, lazily; the end of a paragraph ends a sentence too."""
    last = -1
    for match in _SENTENCE_END.finditer(paragraph):
        if _ends_sentence(paragraph, match):
            last = match.end()
            yield last
    if last != len(paragraph):
        yield len(paragraph)


def _cut(sentence: str, limit: int) -> str:
    """``sentence`` cut at the last word boundary that leaves room for the ellipsis, within ``limit``."""
    room = limit - len(ELLIPSIS)
    space = sentence.rfind(" ", 0, room + 1)
    if space >= room // 2:
        head = sentence[:space]
    else:  # a word too long to keep whole: cut inside it, never between a letter and its accents
        cut = room
        while cut > 1 and unicodedata.combining(sentence[cut]):
            cut -= 1
        head = sentence[:cut]
    return head.rstrip(_TRAILING) + ELLIPSIS


def teaser(body: str | None, limit: int = TEASER_CHARS) -> str | None:
    """The first sentence or so of ``body`` in at most ``limit`` characters; None when there is no text.

    Whole sentences are kept as they are; a first sentence longer than ``limit`` is cut at a word
    boundary and ends with "…".
    """
    if not body:
        return None
    paragraph = _first_paragraph(body)
    if paragraph is None:
        return None
    ends = _sentence_ends(paragraph)
    text = paragraph[: next(ends)]
    if len(text) > limit:
        return _cut(text, limit)
    for end in ends:  # whole sentences of the first paragraph while the teaser is short and they fit
        longer = paragraph[:end]
        if len(text) >= MIN_CHARS or len(longer) > limit:
            break
        text = longer
    return text
