from pathlib import Path

import numpy as np
import pytest

from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.neighbours import SearchSettings, exact_neighbours, recall_at, top_neighbours
from recommender.indexing.vectorize import VectorizerSettings, fit_vectorizer
from tests.conftest import BUNDLED_CORPUS


@pytest.fixture(scope="module")
def small(small_corpus: Path):
    return build_index(load_corpus(small_corpus))


def neighbour_ids(index, article_id: str, limit: int = 30) -> list[str]:
    return [n.article["id"] for n in index.related(article_id, limit)]


@pytest.mark.parametrize("section", ["football", "election", "baking"])
def test_articles_of_one_topic_are_each_others_best_neighbours(small, section: str) -> None:
    for number in (1, 2, 3):
        assert set(neighbour_ids(small, f"{section}-{number}")[:2]) == {
            f"{section}-{other}" for other in (1, 2, 3) if other != number
        }


def test_an_article_and_its_duplicates_never_list_each_other(small) -> None:
    family = {"space-1", "space-1-republished", "space-1-corrected"}
    for article_id in family:
        listed = neighbour_ids(small, article_id)
        assert not family & set(listed), (article_id, listed)
        assert listed[0] in {"space-2", "space-3"}


def test_lists_are_sorted_and_free_of_repeats(small) -> None:
    for row in range(len(small)):
        ids = small.neighbour_ids[row]
        valid = ids[ids >= 0]
        assert len(set(valid.tolist())) == valid.size
        scores = small.neighbour_scores[row][: valid.size]
        assert np.all(np.diff(scores) <= 0)
        assert np.all((scores > 0) & (scores < SearchSettings().duplicate_threshold))


def test_lists_are_padded_when_the_corpus_is_smaller_than_k(small) -> None:
    assert small.neighbour_ids.shape == (len(small), 30)
    assert (small.neighbour_ids[0] == -1).any()


def test_candidate_search_agrees_with_exact_cosine_on_real_news() -> None:
    articles = load_corpus(BUNDLED_CORPUS).articles
    _, matrix = fit_vectorizer(articles, VectorizerSettings())
    settings = SearchSettings()
    _, scores = top_neighbours(matrix, settings)
    rows = np.arange(matrix.shape[0])
    _, exact_scores = exact_neighbours(matrix, rows, 10, settings.duplicate_threshold)
    assert recall_at(scores, exact_scores, 10) >= 0.99


def test_a_tight_candidate_budget_is_measurably_worse() -> None:
    # The recall measure must be able to fail: starve the candidate step and it drops.
    articles = load_corpus(BUNDLED_CORPUS).articles
    _, matrix = fit_vectorizer(articles, VectorizerSettings())
    starved = SearchSettings(query_terms=1, posting_cap=2, candidates=3)
    _, scores = top_neighbours(matrix, starved)
    _, exact_scores = exact_neighbours(matrix, np.arange(matrix.shape[0]), 10, starved.duplicate_threshold)
    assert recall_at(scores, exact_scores, 10) < 0.5


def test_one_worker_and_many_give_the_same_lists(small_corpus: Path) -> None:
    _, matrix = fit_vectorizer(load_corpus(BUNDLED_CORPUS).articles, VectorizerSettings())
    one = top_neighbours(matrix, workers=1)
    two = top_neighbours(matrix, workers=2)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])


def test_progress_reaches_the_total(small_corpus: Path) -> None:
    _, matrix = fit_vectorizer(load_corpus(BUNDLED_CORPUS).articles, VectorizerSettings())
    seen: list[tuple[int, int]] = []
    top_neighbours(matrix, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (matrix.shape[0], matrix.shape[0])


def test_a_pair_found_from_one_side_is_listed_on_both() -> None:
    # Cosine is symmetric: when a lists b above b's last item, b lists a, even when b's own search
    # (starved here, so that it misses many) did not find it.
    _, matrix = fit_vectorizer(load_corpus(BUNDLED_CORPUS).articles, VectorizerSettings())
    ids, scores = top_neighbours(matrix, SearchSettings(k=5, query_terms=3, posting_cap=20, candidates=10))
    checked = 0
    for row in range(ids.shape[0]):
        for other, score in zip(ids[row], scores[row], strict=True):
            if other >= 0 and score > scores[other, -1]:
                assert row in ids[other], (row, other, score, ids[other], scores[other])
                checked += 1
    assert checked > 100


def test_reverse_pairs_enter_a_list_in_score_order_without_repeats() -> None:
    from recommender.indexing.kernels import add_reverse_pairs

    ids = np.array([[1, 2], [2, -1], [-1, -1], [0, -1]], np.int32)
    scores = np.array([[0.9, 0.3], [0.5, 0.0], [0.0, 0.0], [0.6, 0.0]], np.float32)
    words = np.array([[3.0, 1.0], [2.0, 0.0], [0.0, 0.0], [1.5, 0.0]], np.float32)
    add_reverse_pairs(ids, scores, words)
    # Row 0's list stays full: 3's offer (0.6) beats its last item (2 at 0.3) and takes its place.
    assert ids[0].tolist() == [1, 3] and scores[0].tolist() == pytest.approx([0.9, 0.6])
    assert ids[1].tolist() == [0, 2] and scores[1].tolist() == pytest.approx([0.9, 0.5])
    assert words[1].tolist() == [3.0, 2.0]
    # Offers are read from the lists as the search left them: 0 offers itself to 2 at 0.3.
    assert ids[2].tolist() == [1, 0] and scores[2].tolist() == pytest.approx([0.5, 0.3])
    assert ids[3].tolist() == [0, -1]


def test_weights_too_small_to_multiply_give_empty_lists_not_a_crash() -> None:
    # Products below float32's range are 0: there is nothing to rank candidates by, and no cosine to list.
    from scipy import sparse

    matrix = sparse.csr_matrix(np.full((600, 2), 1e-30, np.float32))
    ids, scores = top_neighbours(matrix, SearchSettings(candidates=50))
    assert (ids == -1).all() and (scores == 0).all()
