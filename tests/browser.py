"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the browser tests and screenshots.

`make screenshots` runs this module: it serves the bundled corpus with gunicorn
(each article given a tag and most a picture, see tests/pictures.py), reads one
article in the demo page (so its view is counted), and saves screenshots of the
demo page, of the editors' preview and of the widget's optional modes
(thumbnails, excerpts, tabs) under docs/screenshots/.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.harness import BROWSER, get_json, gunicorn
from tests.pictures import pictured_corpus, serve_pictures

CHROMIUM = "/usr/bin/chromium"
# Root needs --no-sandbox; the machine's network is closed, so Chromium must not try to reach Google.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
# A reader's browser: HeadlessChrome in the User-Agent would be ignored as a bot.
# Views written within 0.25 s, Popular recomputed every second, and an answer holding it kept at most a second
# once it changed: a test sees a view reach Popular in seconds, not after the production settings' 30.
QUICK_POPULAR = {
    "RECOMMENDER_POPULARITY_FLUSH_SECONDS": "0.25",
    "RECOMMENDER_POPULAR_REFRESH_SECONDS": "1",
    "RECOMMENDER_POPULAR_MAX_AGE": "1",
}
READER_AGENT = BROWSER
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT_ARTICLE = "wikinews-SpaceX_Crew_Dragon_capsule_docks_with_International_Space_Station"


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: make browser-deps (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def quoted(article_id: str) -> str:
    return urllib.parse.quote(article_id, safe="")


def wait_for_boxes(page: Page) -> None:
    page.wait_for_selector("section.recommender-related", timeout=10_000)
    page.wait_for_selector("section.recommender-popular", timeout=10_000)


def take_screenshots(browser: Browser, base: str, out: Path) -> list[Path]:
    """Read an article in the demo page, then screenshot the demo page and its preview."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(user_agent=READER_AGENT, viewport={"width": 1000, "height": 1400})
    try:
        page = context.new_page()
        page.goto(f"{base}/demo/{quoted(SCREENSHOT_ARTICLE)}")
        wait_for_boxes(page)
        for link in page.locator("section.recommender-related a").all()[:3]:  # readers move on to related stories
            reader = context.new_page()
            reader.goto(f"{base}{link.get_attribute('href')}")
            wait_for_boxes(reader)
            reader.close()
        deadline = time.monotonic() + 15  # the view is written within a flush, then ranked within a refresh
        while get_json(f"{base}/api/v1/popular?window=1h")[1]["source"] != "views" and time.monotonic() < deadline:
            time.sleep(0.25)
        page.goto(f"{base}/demo/{quoted(SCREENSHOT_ARTICLE)}")
        wait_for_boxes(page)
        demo = out / "demo.png"
        page.screenshot(path=str(demo), full_page=True)
        page.goto(f"{base}/preview/{quoted(SCREENSHOT_ARTICLE)}?window=1h")
        preview = out / "preview.png"
        page.screenshot(path=str(preview), full_page=True)
        return [demo, preview]
    finally:
        context.close()


# The widget's optional modes, as the demo page passes them on from its query string.
WIDGET_MODES = {"thumbnails": "thumbnails", "excerpts": "excerpts", "tabs": "layout=tabs&thumbnails&excerpts"}


# True once every picture the reader can see has loaded (a hidden tab's lazy pictures wait until shown).
PICTURES_SHOWN = "[...document.images].filter(i => i.checkVisibility()).every(i => i.complete && i.naturalWidth > 0)"


def wait_for_widget(page: Page) -> None:
    """Until the widget has rendered (in any layout)."""
    page.wait_for_selector("[data-recommender-article] section.recommender-box", state="attached", timeout=10_000)


def take_widget_screenshots(browser: Browser, base: str, out: Path) -> list[Path]:
    """The widget under the screenshot article in each optional mode: ``widget-<mode>.png`` in ``out``.
    The service must serve a ``pictured_corpus``."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(user_agent=READER_AGENT, viewport={"width": 1000, "height": 1400})
    try:
        serve_pictures(context)
        page = context.new_page()
        paths = []
        for mode, query in WIDGET_MODES.items():
            page.goto(f"{base}/demo/{quoted(SCREENSHOT_ARTICLE)}?{query}")
            wait_for_widget(page)
            page.wait_for_function(PICTURES_SHOWN)
            path = out / f"widget-{mode}.png"
            page.locator("[data-recommender-article]").screenshot(path=str(path))
            paths.append(path)
        return paths
    finally:
        context.close()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    from recommender.indexing.corpus import load_corpus
    from recommender.indexing.index import build_index
    from recommender.indexing.storage import save_index

    with tempfile.TemporaryDirectory() as scratch:
        corpus = pictured_corpus(Path(scratch) / "pictured.jsonl")
        index = save_index(build_index(load_corpus(corpus)), Path(scratch) / "index")
        with gunicorn(index, Path(scratch), **QUICK_POPULAR) as server, chromium() as browser:
            paths = take_screenshots(browser, server.base, out) + take_widget_screenshots(browser, server.base, out)
    print(json.dumps([str(path) for path in paths]))


if __name__ == "__main__":
    main()
