"""Pictures for the browser tests and screenshots, with no network: the bundled corpus with an ``image_url``
on two articles in three and a tag on each, and the pictures themselves, handed to the browser by Playwright."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Route

BUNDLED_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "wikinews.jsonl"
PICTURES = "/pictures/"


def pictured_corpus(path: Path) -> Path:
    """Write the bundled corpus to ``path``: article n gets picture n unless n % 3 == 2 (so some items have
    none), and every article its month as a tag (so "Related" has items)."""
    rows = [json.loads(line) for line in BUNDLED_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with path.open("w", encoding="utf-8") as stream:
        for number, row in enumerate(rows):
            if number % 3 != 2:
                row["image_url"] = f"{PICTURES}{number}.svg"
            row["tags"] = [f"month-{row['published_at'][:7]}"]
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def picture(number: int) -> bytes:
    """A small landscape picture whose colours follow its number."""
    hue = number * 47 % 360
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="64" viewBox="0 0 96 64">'
        f'<rect width="96" height="64" fill="hsl({hue},55%,78%)"/>'
        f'<circle cx="72" cy="18" r="9" fill="hsl({(hue + 40) % 360},80%,60%)"/>'
        f'<path d="M0 64 L30 30 L52 50 L70 36 L96 64 Z" fill="hsl({(hue + 180) % 360},35%,40%)"/></svg>'
    ).encode()


def serve_pictures(context: BrowserContext) -> None:
    """Answer every request for a picture of ``pictured_corpus`` in the browser itself."""

    def fulfil(route: Route) -> None:
        number = int(re.search(r"(\d+)\.svg$", route.request.url).group(1))  # type: ignore[union-attr]  # routed only for *.svg
        route.fulfill(status=200, content_type="image/svg+xml", body=picture(number))

    context.route(f"**{PICTURES}*.svg", fulfil)
