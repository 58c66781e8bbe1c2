"""Cached responses: the same bytes while nothing changed, fresh ones the moment anything did."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.responses import ResponseCache
from tests.conftest import AppFactory, FakeClock

TOKEN = "cache-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"


@pytest.fixture()
def app(make_app: AppFactory, small_index: Path, tmp_path: Path, clock: FakeClock):
    app = make_app(small_index, tmp_path, CLOCK=clock, POPULARITY_FLUSH_SECONDS=0, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    return app


def cache(app) -> ResponseCache:
    return app.extensions["recommender.responses"]


def ids(response) -> list[str]:
    return [item["id"] for item in response.get_json()["items"]]


def test_a_repeated_request_gets_the_same_bytes_from_the_cache(app) -> None:
    client = app.test_client()
    first = client.get("/api/v1/articles/football-1/related?limit=3")
    hits = cache(app).hits
    again = client.get("/api/v1/articles/football-1/related?limit=3")
    assert cache(app).hits == hits + 1
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert client.get("/api/v1/articles/football-1/related?limit=4").get_json()["items"] != first.get_json()["items"]
    conditional = client.get(
        "/api/v1/articles/football-1/related?limit=3", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert conditional.status_code == 304


def test_an_editors_correction_is_served_at_once(app) -> None:
    client = app.test_client()
    before = ids(client.get("/api/v1/articles/football-1/related"))
    blocked = before[0]
    assert (
        client.put("/api/v1/articles/football-1/curation", json={"blocked": [blocked]}, headers=AUTH).status_code == 200
    )
    after = ids(client.get("/api/v1/articles/football-1/related"))
    assert blocked not in after


def test_an_article_published_during_the_day_appears_at_once(app) -> None:
    client = app.test_client()
    client.get("/api/v1/popular?limit=3")
    article = {
        "title": "Football final goes to extra time",
        "body": "football final extra time goal",
        "section": "sport",
        "published_at": "2030-01-01T00:00:00Z",
    }
    assert client.put("/api/v1/articles/football-new", json=article, headers=AUTH).status_code in (200, 201)
    assert ids(client.get("/api/v1/popular?limit=3"))[0] == "football-new"  # the newest fills an empty Popular


def view(app, article_id: str, visitors: int = 3) -> None:
    """Page views of ``article_id``, written to the store: the next refresh ranks them."""
    client = app.test_client()
    for visitor in range(visitors):
        event = {"type": "view", "article_id": article_id, "visitor_id": f"{article_id}-v{visitor}"}
        assert client.post("/api/v1/events", json=event, headers={"User-Agent": BROWSER}).status_code == 202
    app.extensions["recommender.popularity"].recorder.flush()


def page_ids(response) -> list[list[str]]:
    """What each box of a page shows (the refresher thread may meanwhile decay the scores, never the order)."""
    body = response.get_json()
    return [[item["id"] for item in body[box]] for box in ("more_like_this", "related", "popular")]


def max_age(app) -> float:
    return app.config["POPULAR_CACHE_MAX_AGE"]


def test_a_changed_ranking_replaces_kept_popular_lists_once_they_are_no_longer_fresh(app, clock: FakeClock) -> None:
    client = app.test_client()
    before = ids(client.get("/api/v1/popular?limit=3"))
    last = before[-1]
    view(app, last)
    assert ids(client.get("/api/v1/popular?limit=3")) == before  # not refreshed yet: the same list, from the cache
    app.extensions["recommender.popularity"].rankings.refresh()
    clock.advance(max_age(app))  # as long as a CDN may keep it
    assert ids(client.get("/api/v1/popular?limit=3"))[0] == last


def test_a_refresh_that_changed_nothing_keeps_the_answers_that_consulted_popular(app, clock: FakeClock) -> None:
    client = app.test_client()
    paths = [f"/api/v1/articles/football-{n}/recommendations" for n in (1, 2, 3)] + ["/api/v1/popular"]
    for path in paths:
        client.get(path)
    clock.advance(2 * max_age(app))
    app.extensions["recommender.popularity"].rankings.refresh()  # no view since: the same ranking
    hits = cache(app).hits
    for path in paths:
        client.get(path)
    assert cache(app).hits == hits + len(paths)


def test_after_a_change_each_page_is_recomputed_at_a_moment_of_its_own(app, clock: FakeClock) -> None:
    """Pages built together do not all go back through Flask together: they expire between half their max-age
    and all of it, each at a moment fixed by its path."""
    client = app.test_client()
    paths = [f"/api/v1/articles/{article}/recommendations?popular={size}" for article in
             ("football-1", "football-2", "football-3") for size in range(1, 8)]  # fmt: skip
    bodies = {path: client.get(path).data for path in paths}
    view(app, "baking-2")  # now the first fallback on every football page
    app.extensions["recommender.popularity"].rankings.refresh()
    clock.advance(max_age(app) / 2 - 0.01)
    hits = cache(app).hits
    for path in paths:
        assert client.get(path).data == bodies[path]  # still fresh: every page keeps its answer
    assert cache(app).hits == hits + len(paths)
    clock.advance(max_age(app) / 4)
    hits = cache(app).hits
    midway = {path: client.get(path).data for path in paths}
    kept = cache(app).hits - hits
    assert 0 < kept < len(paths)  # some recomputed, some not yet
    assert sum(midway[path] != bodies[path] for path in paths) == len(paths) - kept
    clock.advance(max_age(app) / 4 + 0.01)
    hits = cache(app).hits
    fresh = {"If-None-Match": '"no-such-tag"'}  # conditional requests always go through Flask
    for path in paths:  # one max-age after the change, every page has the new ranking
        assert page_ids(client.get(path)) == page_ids(client.get(path, headers=fresh))
    assert cache(app).hits - hits == len(paths) - kept  # each page recomputed once: the ones done midway kept


def test_the_cache_keeps_at_most_its_capacity_least_recently_used_first(app) -> None:
    responses = cache(app)
    responses.capacity = 2
    client = app.test_client()
    for article_id in ("football-1", "football-2", "football-1", "football-3"):
        client.get(f"/api/v1/articles/{article_id}/related")
    hits = responses.hits
    client.get("/api/v1/articles/football-1/related")  # kept: used more recently than football-2
    client.get("/api/v1/articles/football-2/related")  # evicted
    assert responses.hits == hits + 1


def test_a_kept_answer_is_only_reused_for_the_same_origin(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    app = make_app(small_index, tmp_path, RECOMMENDER_ALLOWED_ORIGINS="https://news.example")
    client = app.test_client()
    path = "/api/v1/articles/football-1/related"
    for _ in range(2):
        listed = client.get(path, headers={"Origin": "https://news.example"})
        assert listed.headers["Access-Control-Allow-Origin"] == "https://news.example"
        other = client.get(path, headers={"Origin": "https://elsewhere.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        assert other.data == listed.data
    assert cache(app).hits == 2


def test_answers_from_the_cache_are_counted_in_the_metrics(app) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/articles/football-1/related").status_code == 200
    scraped = client.get("/metrics").get_data(as_text=True)
    assert 'recommender_http_requests_total{endpoint="api.related",status="200"} 3.0' in scraped


def test_lists_that_never_consulted_popular_outlive_its_refreshes(app, clock: FakeClock) -> None:
    client = app.test_client()
    similar_only = "/api/v1/articles/football-1/related?fill=none"
    assert {item["reason"] for item in client.get(similar_only).get_json()["items"]} == {"similar"}
    client.get("/api/v1/popular")
    view(app, "football-2")
    app.extensions["recommender.popularity"].rankings.refresh()
    clock.advance(max_age(app))
    hits = cache(app).hits
    client.get(similar_only)
    assert cache(app).hits == hits + 1  # reused: its answer does not depend on the ranking
    client.get("/api/v1/popular")
    assert cache(app).hits == hits + 1  # recomputed: it does


def test_a_cdn_revalidating_after_a_correction_gets_the_corrected_list(app) -> None:
    client = app.test_client()
    path = "/api/v1/articles/football-1/related"
    before = client.get(path)
    etag = before.headers["ETag"]
    blocked = before.get_json()["items"][0]["id"]
    assert (
        client.put("/api/v1/articles/football-1/curation", json={"blocked": [blocked]}, headers=AUTH).status_code == 200
    )
    revalidated = client.get(path, headers={"If-None-Match": etag})
    assert revalidated.status_code == 200 and revalidated.headers["ETag"] != etag
    assert blocked not in ids(revalidated)
    assert client.get(path, headers={"If-None-Match": revalidated.headers["ETag"]}).status_code == 304
    assert client.delete("/api/v1/articles/football-1/curation", headers=AUTH).status_code == 200
    assert client.get(path).headers["ETag"] == etag  # the same list again, the same tag


def test_a_related_list_filled_by_popular_or_by_the_newest_is_kept_like_popular(app) -> None:
    """The fill comes from the ranking (or the newest articles while it has too few): such a list is kept for
    Popular's max-age, by a CDN and by the service, not for the similar lists' much longer one."""
    client = app.test_client()
    filled = client.get("/api/v1/articles/football-1/related")
    assert {item["reason"] for item in filled.get_json()["items"]} - {"similar"}  # no view yet: the newest
    assert filled.headers["Cache-Control"] == f"public, max-age={app.config['POPULAR_CACHE_MAX_AGE']}"
    similar_only = client.get("/api/v1/articles/football-1/related?fill=none")
    assert similar_only.headers["Cache-Control"] == f"public, max-age={app.config['CACHE_MAX_AGE']}"
