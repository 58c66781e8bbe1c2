"""The shared-words test: a "similar" item's cosine must rest on more than one or two words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from recommender.cli import main
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.neighbours import search
from recommender.indexing.relevance import shared_words, shared_words_dense
from recommender.indexing.vectorize import VectorizerSettings, fit_vectorizer
from recommender.serving.live import LiveIndex
from tests.conftest import BUNDLED_CORPUS, AppFactory, FakeClock, article_rows, write_jsonl
from tests.test_relevance import items, reasons


def test_shared_words_counts_the_words_a_score_rests_on() -> None:
    page = sparse.csr_matrix(np.array([[0.8, 0.6, 0.0, 0.0]], np.float32))
    candidates = sparse.csr_matrix(
        np.array(
            [
                [1.0, 0.0, 0.0, 0.0],  # one word carries the whole score
                [0.6, 0.8, 0.0, 0.0],  # two words, equal parts
                [0.0, 0.0, 1.0, 0.0],  # nothing shared
            ],
            np.float32,
        )
    )
    assert shared_words(page, candidates) == pytest.approx([1.0, 2.0, 0.0])


def test_the_boxes_dense_rows_give_the_matrix_cosines_and_shared_words() -> None:
    """The boxes compute the test, and the cosines among candidates, on the candidates' rows as one small
    dense array: the same numbers as the sparse matrix the build and the quality report use."""
    index = build_index(load_corpus(BUNDLED_CORPUS))
    live = LiveIndex(index)
    ids = [article["id"] for article in index.articles]
    matrix = index.matrix
    for page, candidates in ((0, [5, 9, 57, 120, 200]), (57, [0, 1, 2, 3]), (200, [17])):
        dense = live.dense_rows([ids[row] for row in (page, *candidates)])
        rows = matrix[[page, *candidates]]
        assert dense @ dense.T == pytest.approx((rows @ rows.T).toarray(), abs=1e-5)
        expected = shared_words(matrix[page], matrix[candidates])
        assert shared_words_dense(dense[0], dense[1:]) == pytest.approx(expected, rel=1e-4)
    assert live.dense_rows([]).shape == (0, 0)


def test_search_reports_the_shared_words_of_every_listed_neighbour() -> None:
    articles = load_corpus(BUNDLED_CORPUS).articles
    _, matrix = fit_vectorizer(articles, VectorizerSettings())
    lists = search(matrix)
    for row in (0, 57, 200):
        listed = lists.ids[row][lists.ids[row] >= 0]
        expected = shared_words(matrix[row], matrix[listed])
        assert lists.shared_words[row, : listed.size] == pytest.approx(expected, rel=1e-3)


def one_name_apart() -> list[dict]:
    """Two stories that share one rare name and nothing else, in a corpus of unrelated ones."""
    return [
        *article_rows(),
        {
            "id": "gardening-1",
            "title": "Tulips",
            "body": "Okonkwo and his tulips.",
            "section": "gardening",
            "published_at": "2026-11-03T08:00:00+00:00",
        },
        {
            "id": "court-1",
            "title": "Verdict",
            "body": "Okonkwo sentenced.",
            "section": "court",
            "published_at": "2026-11-04T08:00:00+00:00",
        },
    ]


def test_an_item_resting_on_one_shared_name_is_not_similar(make_app: AppFactory, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", one_name_apart())
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["relevance"]["min_shared_words"] == 2.5
    client = make_app(tmp_path / "index", tmp_path, CLOCK=FakeClock()).test_client()
    unfloored = items(client, "gardening-1", "min_score=0&fill=none")
    assert unfloored[0]["id"] == "court-1" and unfloored[0]["score"] >= 0.2  # above the floor by score alone
    assert "court-1" not in [item["id"] for item in items(client, "gardening-1", "fill=none")]
    boxes = client.get("/api/v1/articles/gardening-1/recommendations").get_json()["more_like_this"]
    assert ("court-1", "similar") not in reasons(boxes)
    page = client.get("/preview/gardening-1").get_data(as_text=True)
    below = page[page.index('id="below-floor"') :]
    assert "Verdict" in below and "on fewer than 2.5 words" in below and "okonkwo" in below


def test_min_shared_words_zero_at_build_time_turns_the_test_off(make_app: AppFactory, tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", one_name_apart())
    args = ["build", "--corpus", str(corpus), "--out", str(tmp_path / "index"), "--min-shared-words", "0"]
    assert main(args) == 0
    client = make_app(tmp_path / "index", tmp_path, CLOCK=FakeClock()).test_client()
    assert reasons(items(client, "gardening-1", "fill=none"))[0] == ("court-1", "similar")


@pytest.mark.parametrize("value", ["-1", "abc", "inf"])
def test_a_bad_min_shared_words_at_build_time_exits_2(tmp_path: Path, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--corpus", str(BUNDLED_CORPUS), "--out", str(tmp_path / "index"), "--min-shared-words", value])
    assert exit_info.value.code == 2 and "--min-shared-words" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_an_article_added_during_the_day_is_held_to_the_shared_words_test(make_app: AppFactory, tmp_path: Path) -> None:
    rows = one_name_apart()
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [row for row in rows if row["id"] != "court-1"])
    assert main(["build", "--corpus", str(corpus), "--out", str(tmp_path / "index")]) == 0
    app = make_app(tmp_path / "index", tmp_path, CLOCK=FakeClock(), RECOMMENDER_ADMIN_TOKEN="t" * 32)
    client = app.test_client()
    court = next(row for row in rows if row["id"] == "court-1")
    response = client.put("/api/v1/articles/court-1", json=court, headers={"Authorization": f"Bearer {'t' * 32}"})
    assert response.status_code == 201 and "gardening-1" not in [item["id"] for item in response.get_json()["related"]]
    assert items(client, "court-1", "min_score=0&fill=none")[0]["id"] == "gardening-1"
    assert "gardening-1" not in [item["id"] for item in items(client, "court-1", "fill=none")]
    assert "court-1" not in [item["id"] for item in items(client, "gardening-1", "fill=none")]
