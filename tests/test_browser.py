"""The widget and the preview in real headless Chromium, against the real app under gunicorn."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from bench.harness import free_port, get_json, gunicorn
from tests.browser import (
    QUICK_POPULAR,
    READER_AGENT,
    SCREENSHOT_ARTICLE,
    chromium,
    quoted,
    take_screenshots,
    wait_for_boxes,
)

WIDGET = Path(__file__).resolve().parent.parent / "service" / "static" / "widget.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def service(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gunicorn(bundled_index, tmp_path_factory.mktemp("browser"), **QUICK_POPULAR) as server:
        yield server.base


class Problems:
    """JavaScript errors and console errors of a page, as a host site would see them in its monitoring."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # The browser itself notes a refused or failed request; that is not the page's code.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console.append(message.text)


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(user_agent=READER_AGENT)
    try:
        yield context.new_page()
    finally:
        context.close()


def titles(page: Page, box: str) -> list[str]:
    return page.locator(f"section.recommender-{box} .recommender-title").all_inner_texts()


def test_demo_page_shows_both_boxes_with_the_expected_titles(page: Page, service: str) -> None:
    problems = Problems(page)
    # The page's own view can reach Popular (refreshed every few seconds) between the widget's call and
    # ours: compare with the answer of the same moment, so load the page again when Popular moved.
    for _ in range(3):
        page.goto(f"{service}/demo/{quoted(SCREENSHOT_ARTICLE)}")
        wait_for_boxes(page)
        _, expected = get_json(f"{service}/api/v1/articles/{quoted(SCREENSHOT_ARTICLE)}/recommendations")
        if titles(page, "popular") == [item["title"] for item in expected["popular"]]:
            break
    assert titles(page, "related") == [item["title"] for item in expected["more_like_this"]]
    assert titles(page, "popular") == [item["title"] for item in expected["popular"]]
    assert page.get_by_role("heading", name="More like this").is_visible()
    assert page.get_by_role("heading", name="Popular").is_visible()
    assert "SpaceX successfully launches its first crewed spaceflight" in titles(page, "related")
    assert problems.errors == [] and problems.console == []


def test_clicking_a_related_link_opens_that_articles_page(page: Page, service: str) -> None:
    page.goto(f"{service}/demo/{quoted(SCREENSHOT_ARTICLE)}")
    wait_for_boxes(page)
    first = page.locator("section.recommender-related a").first
    title = first.inner_text()
    first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == title
    assert "/demo/wikinews-" in page.url and quoted(SCREENSHOT_ARTICLE) not in page.url
    wait_for_boxes(page)


def test_a_page_view_is_counted_and_changes_the_popular_box(browser: Browser, page: Page, service: str) -> None:
    article = "wikinews-Bombs_kill_at_least_20_at_cathedral_in_Mindanao,_Philippines"
    title = "Bombs kill at least 20 at cathedral in Mindanao, Philippines"
    page.goto(f"{service}/demo/{quoted(article)}")
    wait_for_boxes(page)
    deadline = time.monotonic() + 30
    while True:
        _, popular = get_json(f"{service}/api/v1/popular?window=1h&limit=50")
        counted = {item["id"]: item["views"] for item in popular["items"] if popular["source"] == "views"}
        if counted.get(article, 0) >= 1:
            break
        assert time.monotonic() < deadline, f"the view was not counted: {popular}"
        time.sleep(0.25)
    # Each worker recomputes its ranking on its own schedule (RECOMMENDER_POPULAR_REFRESH_SECONDS): another
    # reader's page shows the article once the worker answering it has refreshed since the view was written.
    deadline = time.monotonic() + 30
    while True:
        reader = browser.new_context(user_agent=READER_AGENT)  # another reader: nothing in the browser's HTTP cache
        try:
            other = reader.new_page()
            other.goto(f"{service}/demo/{quoted(SCREENSHOT_ARTICLE)}")
            wait_for_boxes(other)
            # The corpus has no sections: a popular article also fills "More like this", marked as popular.
            shown = titles(other, "related") + titles(other, "popular")
            reasons = other.locator("section.recommender-item, li.recommender-item").evaluate_all(
                "items => items.map(item => item.getAttribute('data-reason'))"
            )
        finally:
            reader.close()
        if title in shown:
            break
        assert time.monotonic() < deadline, f"another reader's page never showed the viewed article: {shown}"
        time.sleep(0.25)
    assert "popular" in reasons and set(reasons) <= {"similar", "popular", "recent"}


def every_worker_has_written_its_views(service: str, workers: int = 2) -> None:
    """Until each worker says it holds no view unwritten (``pending_views`` of /healthz, asked over new connections)."""
    deadline = time.monotonic() + 30
    written: set[int] = set()
    while len(written) < workers:
        assert time.monotonic() < deadline, f"workers still hold unwritten views (done: {written})"
        _, health = get_json(f"{service}/healthz")
        if health["pending_views"] == 0:
            written.add(health["worker_pid"])
        else:
            time.sleep(0.05)


def test_a_headless_browser_is_not_counted_as_a_reader(browser: Browser, service: str) -> None:
    context = browser.new_context()  # Playwright's own User-Agent says HeadlessChrome
    article = "wikinews-Iranian_cargo_plane_crashes_into_Karaj_houses"
    try:
        page = context.new_page()
        with page.expect_response(lambda response: "/api/v1/events" in response.url, timeout=30_000) as beacon:
            page.goto(f"{service}/demo/{quoted(article)}")
        wait_for_boxes(page)
        assert beacon.value.status == 202  # the service has had the view: recorded or ignored
    finally:
        context.close()
    # Once every worker has written what it held, a reader's view of another article is sent; the first Popular
    # list that counts it was computed after the headless view would have been written.
    every_worker_has_written_its_views(service)
    marker = "wikinews-Scottish_court_finds_suspension_of_UK_parliament_unlawful"
    event = json.dumps({"type": "view", "article_id": marker, "visitor_id": "marker-reader"}).encode()
    headers = {"Content-Type": "text/plain", "User-Agent": READER_AGENT, "X-Forwarded-For": "192.0.2.10"}
    request = urllib.request.Request(f"{service}/api/v1/events", event, headers)  # its own address: its own rate
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202 and json.load(response) == {"status": "accepted"}
    deadline = time.monotonic() + 30
    while True:
        _, popular = get_json(f"{service}/api/v1/popular?window=1h&limit=50")
        counted = {item["id"] for item in popular["items"] if item["reason"] == "popular"}
        if marker in counted:
            break
        assert time.monotonic() < deadline, f"the reader's view was never counted: {popular}"
        time.sleep(0.05)
    assert article not in counted


class HostSite(http.server.SimpleHTTPRequestHandler):
    """A site's page embedding the widget, and a stand-in API that fails or is slow."""

    api_delay = 0.0
    api_status = 500
    service_url = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/widget.js":
            self._send(200, "text/javascript", WIDGET.read_bytes())
        elif self.path.startswith("/api/"):
            time.sleep(self.api_delay)
            self._send(self.api_status, "application/json", b'{"more_like_this": [], "popular": []}')
        else:
            script = "" if self.path == "/without-widget" else '<script src="/widget.js" async></script>'
            page = (
                "<!doctype html><html><head><title>Host</title></head><body><h1>Host article</h1>"
                f'<div id="boxes" data-recommender-article="a-1" data-service="{self.service_url}"></div>'
                f'{script}<p id="after">The rest of the page.</p></body></html>'
            )
            self._send(200, "text/html", page.encode())

    def do_POST(self) -> None:  # noqa: N802
        self._send(202, "application/json", b"{}")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def host_site() -> Iterator[type[HostSite]]:
    handler = type("Handler", (HostSite,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("failure", ["stopped", "error", "slow"])
def test_a_failing_service_leaves_the_host_page_whole(page: Page, host_site, failure: str) -> None:
    if failure == "stopped":
        host_site.service_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    else:
        host_site.service_url = host_site.base
        host_site.api_status = 500 if failure == "error" else 200
        host_site.api_delay = 0.0 if failure == "error" else 3.0
    problems = Problems(page)
    # The widget's request settles: refused, answered 500, or aborted by the widget at 1.5 s.
    settled = "requestfinished" if failure == "error" else "requestfailed"
    with page.expect_event(settled, lambda request: "/recommendations" in request.url, timeout=30_000):
        page.goto(host_site.base)
    assert page.locator("#after").inner_text() == "The rest of the page."
    assert page.locator("#boxes").is_hidden()
    assert page.locator("#boxes section").count() == 0
    assert page.evaluate("typeof window.RecommenderWidget.init") == "function"
    assert problems.errors == [] and problems.console == []


def test_the_widget_adds_one_global(page: Page, host_site) -> None:
    host_site.service_url = f"http://127.0.0.1:{free_port()}"
    page.goto(f"{host_site.base}/without-widget")
    before = set(page.evaluate("Object.keys(window)"))
    page.goto(host_site.base)
    page.wait_for_function("window.RecommenderWidget !== undefined")
    assert set(page.evaluate("Object.keys(window)")) - before == {"RecommenderWidget"}


def test_preview_shows_scores_and_shared_words_without_javascript(browser: Browser, service: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{service}/preview")
        page.fill("#q", "spacex dragon")
        page.press("#q", "Enter")
        page.wait_for_load_state()
        page.get_by_role("link", name="SpaceX Crew Dragon capsule docks with International Space Station").click()
        page.wait_for_load_state()
        rows = page.locator("tr.related-item")
        assert rows.count() == 10
        first = rows.first
        assert 0 < float(first.locator("td.score").inner_text().split()[0]) < 1
        assert first.locator("td.reason").inner_text() == "similar"
        assert first.locator("span.term").count() >= 1
        assert page.get_by_role("heading", name="Popular").count() == 1
    finally:
        context.close()


def test_screenshots_helper_writes_both_pictures(browser: Browser, service: str, tmp_path: Path) -> None:
    demo, preview = take_screenshots(browser, service, tmp_path)
    for picture in (demo, preview):
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
