import gzip
import json
from pathlib import Path

import pytest

from recommender.errors import CorpusError
from recommender.indexing.corpus import load_corpus, parse_article
from tests.conftest import BUNDLED_CORPUS, article_rows, write_jsonl

GOOD = {"id": "a", "title": "A title", "body": "Some body text."}


def test_loads_every_field(small_corpus: Path) -> None:
    corpus = load_corpus(small_corpus)
    assert len(corpus.articles) == len(article_rows())
    first = corpus.articles[0]
    assert (first.id, first.section, first.tags) == ("football-1", "football", ("football",))
    assert first.url == "https://news.example/football/1"
    assert corpus.problems == []
    assert len(corpus.checksum) == 64


def test_gzipped_corpus_reads_like_plain(tmp_path: Path, small_corpus: Path) -> None:
    packed = tmp_path / "small.jsonl.gz"
    packed.write_bytes(gzip.compress(small_corpus.read_bytes()))
    assert load_corpus(packed).articles == load_corpus(small_corpus).articles


def test_bundled_corpus_is_valid_and_attributed() -> None:
    corpus = load_corpus(BUNDLED_CORPUS, max_bad_fraction=0.0)
    assert len(corpus.articles) >= 250
    assert all(article.url and article.url.startswith("https://en.wikinews.org/") for article in corpus.articles)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ('{"id": "x", "title": "t"', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**GOOD, "id": 7}), "'id' must be a non-empty string"),
        (json.dumps({**GOOD, "title": " "}), "'title' must be a non-empty string"),
        (json.dumps({"id": "x", "title": "t"}), "'body' must be a non-empty string"),
        (json.dumps({**GOOD, "published_at": "yesterday"}), "not ISO 8601"),
        (json.dumps({**GOOD, "tags": "politics"}), "'tags' must be a list of strings"),
        (json.dumps({**GOOD, "url": "javascript:alert(1)"}), "'url' must be an http(s) URL"),
        ('{"id": "x", "title": "A \\udc80 title", "body": "b"}', "'title' holds a lone surrogate"),
        ('{"id": "x", "title": "t", "body": "b", "tags": ["ok", "\\ud83d"]}', "'tags[1]' holds a lone surrogate"),
        ("[" * 5000, "invalid JSON"),
        (json.dumps({**GOOD, "id": "i" * 257}), "'id' is 257 characters long, more than 256"),
        (json.dumps({**GOOD, "title": "t" * 1001}), "'title' is 1,001 characters long, more than 1,000"),
        (json.dumps({**GOOD, "body": "b" * 200_001}), "'body' is 200,001 characters long, more than 200,000"),
        (json.dumps({**GOOD, "url": "https://x/" + "u" * 2048}), "'url' is 2,058 characters long"),
        (json.dumps({**GOOD, "tags": ["t"] * 101}), "101 tags, more than 100"),
    ],
)
def test_bad_row_is_reported_with_file_line_and_reason(tmp_path: Path, row: str, reason: str) -> None:
    rows = [json.dumps({**GOOD, "id": f"good-{n}"}) for n in range(150)]
    rows.insert(41, row)
    path = write_jsonl(tmp_path / "export.jsonl", rows)
    corpus = load_corpus(path)
    assert len(corpus.articles) == 150
    [problem] = corpus.problems
    assert str(problem).startswith(f"{path}:42: ")
    assert reason in problem.reason


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    rows = [{**GOOD, "id": f"good-{n}"} for n in range(200)]
    rows[150] = {**GOOD, "id": "good-3", "title": "Second copy"}
    corpus = load_corpus(write_jsonl(tmp_path / "export.jsonl", rows))
    [problem] = corpus.problems
    assert problem.line == 151
    assert "duplicate id 'good-3'" in problem.reason and "line 4" in problem.reason
    assert next(a for a in corpus.articles if a.id == "good-3").title == "A title"


def test_more_than_one_percent_bad_rows_fails(tmp_path: Path) -> None:
    rows = [json.dumps({**GOOD, "id": f"good-{n}"}) for n in range(98)] + ["not json", "{}"]
    with pytest.raises(CorpusError, match="2 of 100 rows are bad"):
        load_corpus(write_jsonl(tmp_path / "export.jsonl", rows))


def test_only_bad_rows_fails(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no valid article in 2 rows"):
        load_corpus(write_jsonl(tmp_path / "export.jsonl", ["nope", "{}"]), max_bad_fraction=1.0)


def test_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such corpus file"):
        load_corpus(tmp_path / "absent.jsonl")


def test_parse_article_keeps_optional_fields_optional() -> None:
    article = parse_article({**GOOD, "section": None, "published_at": "2026-11-25T09:00:00Z"})
    assert article.section is None and article.published_at == "2026-11-25T09:00:00Z"


@pytest.mark.parametrize("compressed", [False, True])
def test_reading_reports_its_progress_in_bytes_of_the_file(tmp_path: Path, compressed: bool) -> None:
    """A million articles take a minute to read: the build's first stage must move too."""
    rows = [{"id": f"a{n}", "title": f"Title {n}", "body": f"Body number {n} of the corpus."} for n in range(25_000)]
    lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path = tmp_path / ("corpus.jsonl.gz" if compressed else "corpus.jsonl")
    path.write_bytes(gzip.compress(lines) if compressed else lines)
    heard: list[tuple[int, int]] = []
    corpus = load_corpus(path, progress=lambda done, total: heard.append((done, total)))
    assert len(corpus.articles) == 25_000
    size = path.stat().st_size
    assert all(total == size for _, total in heard)
    done = [value for value, _ in heard]
    assert len(done) == 3 and done == sorted(done) and 0 < done[0] < size and done[-1] == size  # 10,000 rows apart
