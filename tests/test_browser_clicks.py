"""Click measurement in real headless Chromium: the widget reports impressions and clicks, the report counts them."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from bench.harness import gunicorn
from tests.browser import QUICK_POPULAR, READER_AGENT, SCREENSHOT_ARTICLE, chromium, quoted, wait_for_boxes

TOKEN = "editor-token"


@pytest.fixture(scope="module")
def service(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    environment = {**QUICK_POPULAR, "RECOMMENDER_ADMIN_TOKEN": TOKEN}
    with gunicorn(bundled_index, tmp_path_factory.mktemp("clicks"), **environment) as server:
        yield server.base


def report(service: str) -> list[dict]:
    request = urllib.request.Request(
        f"{service}/api/v1/reports/clicks?group=box,position,reason", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["rows"]


def wait_for_report(service: str, ready, what: str) -> list[dict]:
    """The report once ``ready(rows)`` holds: beacons and the workers' flushes are asynchronous."""
    deadline = time.monotonic() + 20
    while True:
        rows = report(service)
        if ready(rows):
            return rows
        assert time.monotonic() < deadline, f"{what} was not reported: {rows}"
        time.sleep(0.2)


def test_the_widget_reports_impressions_and_a_click_with_its_position_and_reason(service: str) -> None:
    with chromium() as browser:
        run(browser, service)


def run(browser: Browser, service: str) -> None:
    context = browser.new_context(user_agent=READER_AGENT)
    try:
        page = context.new_page()
        page.goto(f"{service}/demo/{quoted(SCREENSHOT_ARTICLE)}")
        wait_for_boxes(page)
        shown = page.locator("section.recommender-related li.recommender-item")
        count = shown.count()
        assert count >= 2

        def impressions(rows: list[dict]) -> int:
            return sum(row["impressions"] for row in rows if row["box"] == "more_like_this")

        def both(rows: list[dict]) -> bool:
            return impressions(rows) >= count and any(row["box"] == "popular" for row in rows)

        rows = wait_for_report(service, both, "an impression of each box")
        assert impressions(rows) == count  # once for each position the box filled
        second = shown.nth(1)
        reason = second.get_attribute("data-reason")
        second.locator("a").click()
        page.wait_for_load_state()
        clicked = wait_for_report(service, lambda rows: any(row["clicks"] for row in rows), "the click")
        hits = [row for row in clicked if row["clicks"]]
        assert hits == [
            {"box": "more_like_this", "position": 2, "reason": reason, "impressions": hits[0]["impressions"],
             "clicks": 1, "ctr": hits[0]["ctr"]}
        ]  # fmt: skip
        assert hits[0]["ctr"] == round(1 / hits[0]["impressions"], 4)
    finally:
        context.close()
