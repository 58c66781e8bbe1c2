"""Articles and the JSON Lines corpus they come in.

One article per line: ``id``, ``title``, ``body`` are required; ``url``,
``section``, ``published_at`` (ISO 8601), ``tags`` and ``image_url`` are
optional. Bad rows are reported as ``file:line: reason`` and skipped, so one
broken row in a CMS export does not stop the nightly build; a corpus that is
mostly broken does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from recommender.errors import CorpusError, TooManyBadRows
from recommender.validation import check_unicode

DEFAULT_MAX_BAD_FRACTION = 0.01
PROGRESS_ROWS = 10_000  # rows between two reports of the reading's progress
_OPTIONAL_TEXT_FIELDS = ("url", "section", "image_url")
# Longest value of each field, in characters: generous for any news article (the longest body in the
# shared corpora is 104,182 characters), small enough that one row cannot swell the index or a response.
MAX_LENGTH = {"id": 256, "title": 1_000, "body": 200_000, "url": 2_048, "image_url": 2_048, "section": 200, "tag": 200}
MAX_TAGS = 100


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    body: str
    url: str | None = None
    section: str | None = None
    published_at: str | None = None
    tags: tuple[str, ...] = ()
    image_url: str | None = None
    recommendable: bool = True  # False: sponsored, obituaries, corrections; in no list, with a list of its own

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, which made this a tenth of a 100,000-article build.
        row = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        row["tags"] = list(self.tags)
        return row


@dataclass(frozen=True, slots=True)
class RowProblem:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(slots=True)
class Corpus:
    """The good articles of a corpus file, plus what was wrong with the rest."""

    articles: list[Article]
    problems: list[RowProblem] = field(default_factory=list)
    checksum: str = ""
    rows: int = 0
    path: str = ""


def parse_article(row: object) -> Article:
    """Validate one decoded row; raises ValueError with a reason a human can act on."""
    if not isinstance(row, Mapping):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    check_unicode(row)
    values: dict[str, Any] = {}
    for name in ("id", "title", "body"):
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"field {name!r} must be a non-empty string")
        values[name] = value.strip() if name != "body" else value
    for name in _OPTIONAL_TEXT_FIELDS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"field {name!r} must be a string or null")
        values[name] = value or None
    for name in ("url", "image_url"):
        if values[name] and not values[name].startswith(("http://", "https://", "/")):
            raise ValueError(f"field {name!r} must be an http(s) URL or an absolute path")
    published_at = row.get("published_at")
    if published_at is not None:
        if not isinstance(published_at, str):
            raise ValueError("field 'published_at' must be an ISO 8601 string or null")
        try:
            datetime.fromisoformat(published_at)
        except ValueError:
            raise ValueError(f"field 'published_at' is not ISO 8601: {published_at!r}") from None
    values["published_at"] = published_at or None
    tags = row.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError("field 'tags' must be a list of strings")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"field 'tags' has {len(tags)} tags, more than {MAX_TAGS}")
    values["tags"] = tuple(tags)
    recommendable = row.get("recommendable", True)
    if not isinstance(recommendable, bool):
        raise ValueError("field 'recommendable' must be true or false")
    values["recommendable"] = recommendable
    checked = [(name, values[name]) for name in MAX_LENGTH if name != "tag"] + [("tag", tag) for tag in tags]
    for name, text in checked:
        if text is not None and len(text) > MAX_LENGTH[name]:
            raise ValueError(f"field {name!r} is {len(text):,} characters long, more than {MAX_LENGTH[name]:,}")
    return Article(**values)


def _numbered_rows(
    path: Path, digest: Any, progress: Callable[[int, int], None] | None = None
) -> Iterator[tuple[int, bytes]]:
    """Rows with their line numbers; ``progress(bytes read, file size)`` every 10,000 rows (for a .gz, the
    bytes of the compressed file)."""
    total = path.stat().st_size
    with path.open("rb") as file, gzip.open(file, "rb") if path.suffix == ".gz" else file as stream:
        for number, raw in enumerate(stream, start=1):
            digest.update(raw)
            yield number, raw
            if progress is not None and number % PROGRESS_ROWS == 0:
                progress(file.tell(), total)
    if progress is not None:
        progress(total, total)


def load_corpus(
    path: str | Path,
    max_bad_fraction: float | None = DEFAULT_MAX_BAD_FRACTION,
    progress: Callable[[int, int], None] | None = None,
) -> Corpus:
    """Read a ``.jsonl`` or ``.jsonl.gz`` corpus, skipping and reporting bad rows.

    Raises CorpusError when the file is unreadable, holds no good article, or more
    than ``max_bad_fraction`` of its rows are bad: a build from such an export
    would publish a broken index. ``progress(bytes read, file size)``: a million
    articles take a minute to read.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: no such corpus file")
    digest = hashlib.sha256()
    articles: list[Article] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    rows = 0
    try:
        for number, raw in _numbered_rows(path, digest, progress):
            if not raw.strip():
                continue
            rows += 1
            try:
                article = parse_article(json.loads(raw))
            except UnicodeDecodeError as error:
                problems.append(RowProblem(str(path), number, f"not UTF-8: {error.reason}"))
                continue
            except json.JSONDecodeError as error:
                problems.append(RowProblem(str(path), number, f"invalid JSON: {error.msg}"))
                continue
            except RecursionError:
                problems.append(RowProblem(str(path), number, "invalid JSON: nested too deeply"))
                continue
            except ValueError as error:
                problems.append(RowProblem(str(path), number, str(error)))
                continue
            first = first_line_of.setdefault(article.id, number)
            if first != number:
                reason = f"duplicate id {article.id!r}, first seen at line {first}; row skipped"
                problems.append(RowProblem(str(path), number, reason))
                continue
            articles.append(article)
    except (OSError, EOFError) as error:
        raise CorpusError(f"{path}: cannot read corpus: {error}") from error
    corpus = Corpus(articles, problems, digest.hexdigest(), rows, str(path))
    if max_bad_fraction is not None:  # None: the caller reports the bad rows, then checks
        check_corpus(corpus, max_bad_fraction)
    return corpus


def check_corpus(corpus: Corpus, max_bad_fraction: float) -> None:
    """Refuse a corpus with no good row or too large a share of bad ones."""
    if not corpus.articles:
        raise CorpusError(f"{corpus.path}: no valid article in {corpus.rows} rows")
    bad = len(corpus.problems)
    if bad > max_bad_fraction * corpus.rows:
        raise TooManyBadRows(
            f"{corpus.path}: {bad} of {corpus.rows} rows are bad "
            f"({bad / corpus.rows:.1%}, more than the allowed {max_bad_fraction:.1%})"
        )
