"""The widget's optional modes in real headless Chromium: thumbnails, teasers and tabs, against gunicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request

from bench.harness import gunicorn
from recommender.indexing.corpus import load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index
from tests.browser import (
    PICTURES_SHOWN,
    READER_AGENT,
    SCREENSHOT_ARTICLE,
    chromium,
    quoted,
    take_widget_screenshots,
    wait_for_widget,
)
from tests.pictures import pictured_corpus, serve_pictures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    scratch = tmp_path_factory.mktemp("pictured")
    index = save_index(build_index(load_corpus(pictured_corpus(scratch / "corpus.jsonl"))), scratch / "index")
    with gunicorn(index, scratch, RECOMMENDER_POPULARITY_FLUSH_SECONDS="0.25") as server:
        yield server.base


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(user_agent=READER_AGENT)
    serve_pictures(context)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_demo(page: Page, service: str, query: str = "") -> dict:
    """Open the demo page with the widget's attributes in ``query``; the boxes the widget was sent."""
    with page.expect_response(lambda response: "/recommendations" in response.url) as response:
        page.goto(f"{service}/demo/{quoted(SCREENSHOT_ARTICLE)}?{query}")
    wait_for_widget(page)
    return response.value.json()


def test_thumbnails_only_when_asked_and_only_for_articles_with_a_picture(page: Page, service: str) -> None:
    open_demo(page, service)
    assert page.locator(".recommender-item").count() > 0
    assert page.locator("img.recommender-thumbnail").count() == 0  # the default layout is unchanged
    items = open_demo(page, service, "thumbnails")["more_like_this"]
    page.wait_for_function(PICTURES_SHOWN)
    assert {item["image_url"] is None for item in items} == {True, False}  # some with a picture, some without
    for position, item in enumerate(items):
        entry = page.locator("section.recommender-related li.recommender-item").nth(position)
        images = entry.locator("img.recommender-thumbnail")
        if item["image_url"] is None:
            assert images.count() == 0
        else:
            assert images.get_attribute("src") == item["image_url"] and images.get_attribute("alt") == ""
            assert images.evaluate("image => image.naturalWidth") > 0  # loaded: a picture, not a broken icon


def test_teasers_only_when_asked(page: Page, service: str) -> None:
    open_demo(page, service)
    assert page.locator(".recommender-excerpt").count() == 0
    body = open_demo(page, service, "excerpts")
    for box, kind in (("more_like_this", "related"), ("related", "tagged"), ("popular", "popular")):
        shown = page.locator(f"section.recommender-{kind} .recommender-excerpt").all_inner_texts()
        assert shown == [item["excerpt"] for item in body[box]] and all(shown)
    assert all(len(text) <= 160 for text in page.locator(".recommender-excerpt").all_inner_texts())


def tab_state(page: Page) -> list[dict]:
    """Each tab's name, selection, tab order and panel (by aria-controls), as assistive technology sees it."""
    return page.locator("[role=tab]").evaluate_all(
        """tabs => tabs.map(tab => {
            const panel = document.getElementById(tab.getAttribute("aria-controls"));
            return {name: tab.textContent, selected: tab.getAttribute("aria-selected"), tabindex: tab.tabIndex,
                    panelRole: panel.getAttribute("role"), labelledBy: panel.getAttribute("aria-labelledby") === tab.id,
                    panelShown: !panel.hidden && panel.checkVisibility(), focused: document.activeElement === tab};
        })"""
    )


def selected(page: Page) -> tuple[str, bool]:
    """The selected tab's name and whether it has the focus; checks that only its panel shows."""
    state = tab_state(page)
    chosen = [tab for tab in state if tab["selected"] == "true"]
    assert len(chosen) == 1
    for tab in state:
        is_chosen = tab is chosen[0]
        assert tab["tabindex"] == (0 if is_chosen else -1) and tab["panelShown"] == is_chosen
        assert tab["selected"] == ("true" if is_chosen else "false")
        assert tab["panelRole"] == "tabpanel" and tab["labelledBy"]
    return chosen[0]["name"], chosen[0]["focused"]


def test_tabs_switch_by_click_and_keyboard_with_aria_roles(page: Page, service: str) -> None:
    body = open_demo(page, service, "layout=tabs")
    tablist = page.get_by_role("tablist")
    assert tablist.count() == 1 and tablist.get_attribute("aria-label")
    assert [tab["name"] for tab in tab_state(page)] == ["More like this", "Related", "Popular"]
    assert selected(page) == ("More like this", False)
    assert page.locator("h2.recommender-heading").count() == 0  # the tabs name the panels
    titles = page.locator("section.recommender-related .recommender-title").all_inner_texts()
    assert titles == [item["title"] for item in body["more_like_this"]]
    page.get_by_role("tab", name="Popular").click()
    assert selected(page) == ("Popular", True)
    assert page.get_by_role("tabpanel").locator(".recommender-title").all_inner_texts() == [
        item["title"] for item in body["popular"]
    ]
    page.keyboard.press("ArrowRight")  # wraps to the first
    assert selected(page) == ("More like this", True)
    page.keyboard.press("ArrowRight")
    assert selected(page) == ("Related", True)
    page.keyboard.press("ArrowLeft")
    assert selected(page) == ("More like this", True)
    page.keyboard.press("ArrowLeft")  # wraps to the last
    assert selected(page) == ("Popular", True)
    page.keyboard.press("Home")
    assert selected(page) == ("More like this", True)
    page.keyboard.press("End")
    assert selected(page) == ("Popular", True)
    page.keyboard.press("Tab")  # out of the tab list, into the panel: one Tab stop for all the tabs
    assert page.evaluate("document.activeElement.getAttribute('role')") == "tabpanel"
    page.keyboard.press("Shift+Tab")
    assert selected(page) == ("Popular", True)


def test_no_related_tab_when_that_list_is_empty(page: Page, service: str) -> None:
    open_demo(page, service, "layout=tabs&tagged=0")
    assert [tab["name"] for tab in tab_state(page)] == ["More like this", "Popular"]
    assert selected(page) == ("More like this", False)


def impressions(requests: list[Request]) -> list[str]:
    events = [json.loads(request.post_data or "{}") for request in requests]
    return [event["box"] for event in events if event.get("type") == "impression"]


def test_tabs_report_a_boxs_impression_when_first_shown_and_clicks_as_before(page: Page, service: str) -> None:
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/api/v1/events") else None)

    def impression_of(box: str):
        return page.expect_request(
            lambda request: request.url.endswith("/api/v1/events") and f'"box":"{box}"' in (request.post_data or "")
        )

    with impression_of("more_like_this"):
        body = open_demo(page, service, "layout=tabs")
    with impression_of("popular"):
        page.get_by_role("tab", name="Popular").click()
    page.get_by_role("tab", name="More like this").click()  # shown before: no second impression
    page.get_by_role("tab", name="Popular").click()
    with impression_of("related"):
        page.get_by_role("tab", name="Related").click()
    assert impressions(sent) == ["more_like_this", "popular", "related"]
    item = body["related"][1]
    with page.expect_request(lambda request: '"type":"click"' in (request.post_data or "")) as click:
        page.get_by_role("tabpanel").locator("a").nth(1).click()
    event = json.loads(click.value.post_data or "{}")
    assert (event["box"], event["position"], event["target_id"]) == ("related", 2, item["id"])


def test_widget_screenshots_of_each_mode(browser: Browser, service: str, tmp_path: Path) -> None:
    pictures = take_widget_screenshots(browser, service, tmp_path)
    assert [picture.name for picture in pictures] == ["widget-thumbnails.png", "widget-excerpts.png", "widget-tabs.png"]
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
