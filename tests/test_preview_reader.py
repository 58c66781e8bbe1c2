"""The editors' preview shows exactly what readers get from the widget's defaults, and where their box ends."""

from __future__ import annotations

import html as html_module
import re
import urllib.parse
from pathlib import Path

from recommender.indexing.corpus import load_corpus
from tests.conftest import BUNDLED_CORPUS, AppFactory

SPACE_ARTICLE = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"


def ids(html: str, row_class: str) -> list[str]:
    rows = re.findall(rf'<tr class="{row_class}"[^>]*>.*?href="/preview/([^"]+)"', html, re.S)
    return [urllib.parse.unquote(html_module.unescape(row)) for row in rows]


def sections(page: str, table: str) -> tuple[str, str]:
    """The reader's part of a table and the part below the line where their box ends ("" when none)."""
    body = page.split(f'<table aria-labelledby="{table}">', 1)[1].split("</table>", 1)[0]
    reader, _, beyond = body.partition('<tbody class="beyond-reader-box">')
    return reader, beyond


def widget_defaults(client, article_id: str) -> dict:
    """What the widget asks for when a site sets no data- attribute: 5 of each box, the API's window."""
    query = "related=5&tagged=5&popular=5"
    return client.get(f"/api/v1/articles/{urllib.parse.quote(article_id, safe='')}/recommendations?{query}").get_json()


def view(client, article_id: str, readers: int) -> None:
    for reader in range(readers):
        event = {"type": "view", "article_id": article_id, "visitor_id": f"reader-{reader}"}
        assert client.post("/api/v1/events", json=event, headers={"User-Agent": "Mozilla/5.0"}).status_code == 202


def test_preview_boxes_above_the_line_are_the_widgets_boxes(
    make_app: AppFactory, bundled_index: Path, tmp_path: Path
) -> None:
    app = make_app(bundled_index, tmp_path)
    client = app.test_client()
    popularity = app.extensions["recommender.popularity"]
    for article_id in [article.id for article in load_corpus(BUNDLED_CORPUS).articles[:12]]:
        view(client, article_id, 2)  # 24 events: within one client's burst allowance
    popularity.recorder.flush()
    popularity.rankings.refresh()
    page = client.get(f"/preview/{SPACE_ARTICLE}").get_data(as_text=True)
    reader = widget_defaults(client, SPACE_ARTICLE)
    related_reader, related_beyond = sections(page, "related")
    popular_reader, popular_beyond = sections(page, "popular")
    assert ids(related_reader, "related-item") == [item["id"] for item in reader["more_like_this"]]
    assert ids(popular_reader, "popular-item") == [item["id"] for item in reader["popular"]]
    assert reader["popular_source"] == "views" and "views in the last 24h" in page  # the widget's window
    # The line, then what a larger box would add: ten rows in all, none repeating the reader's.
    assert "Readers' box ends here" in related_beyond and "Readers' box ends here" in popular_beyond
    beyond = ids(related_beyond, "related-item")
    assert len(beyond) == 5 and not set(beyond) & {item["id"] for item in reader["more_like_this"]}
    assert page.count('<tr class="reader-limit">') == 2
    teaser = reader["more_like_this"][0]["excerpt"]
    assert teaser and teaser in html_module.unescape(page)  # the teaser a site may show with data-excerpts


def test_preview_shows_the_related_box_readers_get(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    app = make_app(small_index, tmp_path)
    client = app.test_client()
    reader = widget_defaults(client, "space-1")
    assert reader["related"]  # its copies share its tag, and are no "More like this" (the same story)
    page = client.get("/preview/space-1").get_data(as_text=True)
    tagged_reader, _ = sections(page, "tagged")
    assert ids(tagged_reader, "tagged-item") == [item["id"] for item in reader["related"]]
    related_reader, _ = sections(page, "related")
    assert ids(related_reader, "related-item") == [item["id"] for item in reader["more_like_this"]]
    popular_reader, _ = sections(page, "popular")
    assert ids(popular_reader, "popular-item") == [item["id"] for item in reader["popular"]]
