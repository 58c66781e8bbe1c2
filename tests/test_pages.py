"""The widget script, CORS, caching headers, the editors' preview and the demo page, through the test client."""

from __future__ import annotations

import base64
import re
from html import unescape
from pathlib import Path

import pytest
import Stemmer

from recommender.indexing.corpus import load_corpus
from tests.conftest import BUNDLED_CORPUS, AppFactory

TOKEN = "editor-token"
SPACE_ARTICLE = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"
stem = Stemmer.Stemmer("english").stemWord


@pytest.fixture()
def bundled_app(make_app: AppFactory, bundled_index: Path, tmp_path: Path):
    app = make_app(bundled_index, tmp_path, RECOMMENDER_ALLOWED_ORIGINS="https://news.example, https://m.news.example")
    return app


@pytest.fixture()
def client(bundled_app):
    return bundled_app.test_client()


def test_widget_is_small_cacheable_javascript(client) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert len(response.data) < 10 * 1024
    assert response.headers["Cache-Control"].startswith("public, max-age=") and response.headers["ETag"]
    assert client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    # One global: the namespace; everything else lives inside the function.
    assert re.findall(r"window\.(\w+)\s*=", response.get_data(as_text=True)) == ["RecommenderWidget"]


@pytest.mark.parametrize("path", ["/api/v1/articles/{id}/recommendations", "/api/v1/articles/{id}/related"])
def test_lists_carry_an_etag_tied_to_the_index_version(client, bundled_app, path: str) -> None:
    url = path.format(id=SPACE_ARTICLE)
    first = client.get(url)
    version = bundled_app.extensions["recommender.holder"].live.version
    assert first.headers["ETag"].strip('"').startswith(version)
    assert "max-age" in first.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200


@pytest.mark.parametrize("origin", ["https://news.example", "https://m.news.example"])
def test_listed_origins_may_call_the_api(client, origin: str) -> None:
    response = client.get(f"/api/v1/articles/{SPACE_ARTICLE}/recommendations", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"]
    preflight = client.options(
        "/api/v1/events",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "PUT" not in preflight.headers["Access-Control-Allow-Methods"]


def test_other_origins_get_no_cors_headers(client) -> None:
    response = client.get(f"/api/v1/articles/{SPACE_ARTICLE}/related", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/api/v1/events", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_preview_search_finds_articles_by_title_words(client) -> None:
    page = client.get("/preview?q=spacex+dragon").get_data(as_text=True)
    assert "SpaceX Crew Dragon capsule docks with International Space Station" in unescape(page)
    assert f'href="/preview/{SPACE_ARTICLE}"' in page
    assert "0 articles" in client.get("/preview?q=zzzyx").get_data(as_text=True)
    assert 'type="search"' in client.get("/preview").get_data(as_text=True)


def test_preview_shows_scores_and_why_terms_that_occur_in_both_articles(client, bundled_app) -> None:
    response = client.get(f"/preview/{SPACE_ARTICLE}")
    assert response.status_code == 200
    page = unescape(response.get_data(as_text=True))
    texts = {a.id: f"{a.title}\n{a.body}".lower() for a in load_corpus(BUNDLED_CORPUS).articles}
    rows = re.findall(r'<tr class="related-item" data-reason="([a-z_]+)">(.*?)</tr>', page, re.S)
    assert len(rows) == 10  # the reader's box: similar items, then fallbacks, each with its reason
    assert rows[0][0] == "similar" and {reason for reason, _ in rows[1:]} <= {"similar", "popular", "recent"}
    assert "Relevance floor 0.200" in page
    below = re.findall(r'<tr class="below-floor-item">(.*?)</tr>', page, re.S)
    assert below  # the near misses, for editors
    scored = [row for reason, row in rows if reason == "similar"] + below
    for row in scored:
        neighbour_id = re.search(r'href="/preview/([^"]+)"', row).group(1)
        score = float(re.search(r'<td class="score">([\d.]+) ', row).group(1))
        terms = re.findall(r'<span class="term"[^>]*>([^<]+)</span>', row)
        assert 0 < score < 0.85 and terms
        assert (score >= 0.2) == (row not in below)
        for term in terms:  # readable words, not stems: a word of the corpus, whose stem both texts share
            assert any(re.search(rf"\b{re.escape(term)}\b", text) for text in texts.values()), term
            for article_id in (SPACE_ARTICLE, neighbour_id):
                assert stem(term) in {stem(word) for word in re.findall(r"\w+", texts[article_id])}, (term, article_id)
    assert "SpaceX successfully launches its first crewed spaceflight" in page
    assert "Popular" in page and "newest articles" in page  # no views yet: the fallback, said so


def test_preview_popular_shows_view_counts(client, bundled_app) -> None:
    # The corpus has no sections, so the most viewed articles also fill "More like this" as "popular"
    # fallbacks; with more viewed articles than that box takes, the rest are in Popular with their counts.
    viewed = [article.id for article in load_corpus(BUNDLED_CORPUS).articles[:12] if article.id != SPACE_ARTICLE]
    for article_id in viewed:
        for reader in range(2):  # 22 events: within one client's burst allowance
            event = {"type": "view", "article_id": article_id, "visitor_id": f"reader-{reader}"}
            client.post("/api/v1/events", json=event, headers={"User-Agent": "Mozilla/5.0"})
    bundled_app.extensions["recommender.popularity"].recorder.flush()
    bundled_app.extensions["recommender.popularity"].rankings.refresh()
    page = client.get(f"/preview/{SPACE_ARTICLE}?window=1h").get_data(as_text=True)
    fallbacks = re.findall(r'<tr class="related-item" data-reason="popular">.*?href="/preview/([^"]+)"', page, re.S)
    popular = re.findall(r'<tr class="popular-item" data-reason="popular">(.*?)</tr>', page, re.S)
    popular_ids = [re.search(r'href="/preview/([^"]+)"', row).group(1) for row in popular]
    # Below the line where the reader's box ends, each box shows what a larger one would add: an article
    # can be there and in the reader's Popular too.
    assert fallbacks and popular and len(set(fallbacks) | set(popular_ids)) == len(viewed)
    assert all('<td class="views">2</td>' in row for row in popular)
    assert "views in the last 1h" in page


def test_preview_of_an_unknown_article_is_a_404_page(client) -> None:
    response = client.get("/preview/no-such-article")
    assert response.status_code == 404 and "no article with id" in response.get_data(as_text=True)


def test_preview_needs_the_token_when_one_is_configured(
    make_app: AppFactory, bundled_index: Path, tmp_path: Path
) -> None:
    app = make_app(bundled_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    refused = client.get(f"/preview/{SPACE_ARTICLE}")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    wrong = base64.b64encode(b"editor:nope").decode()
    assert client.get("/preview", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    basic = base64.b64encode(f"editor:{TOKEN}".encode()).decode()
    assert client.get(f"/preview/{SPACE_ARTICLE}", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert client.get("/preview", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/widget.js").status_code == 200  # the public parts stay public


def test_demo_page_embeds_the_widget_like_a_site(client) -> None:
    page = client.get(f"/demo/{SPACE_ARTICLE}").get_data(as_text=True)
    assert f'data-recommender-article="{SPACE_ARTICLE}"' in page
    assert '<script src="http://localhost/widget.js" async></script>' in page
    random_page = client.get("/demo")
    assert random_page.status_code == 302 and random_page.headers["Location"].startswith("/demo/")
    assert client.get("/demo/no-such-article").status_code == 404
