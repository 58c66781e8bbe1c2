"""Access-log lines for the import-views tests: readers, a phone, a crawler, at known hours."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from recommender.popularity.views import HOUR

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"


GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


NINE = int(datetime(2026, 11, 25, 9, tzinfo=UTC).timestamp())  # 25/Nov/2026:09:00:00 +0000


NINE_HOUR = NINE // HOUR


PATHS = {
    "/football/1": "football-1",
    "/football/2": "football-2",
    "/space/1": "space-1",
}


def line(
    time: str,
    path: str,
    ip: str = "203.0.113.5",
    agent: str = BROWSER,
    status: int = 200,
    method: str = "GET",
) -> str:
    """A combined-format line; ``time`` is HH:MM:SS on 25 Nov 2026, UTC."""
    return f'{ip} - - [25/Nov/2026:{time} +0000] "{method} {path} HTTP/1.1" {status} 5123 "-" "{agent}"'


def write_log(path: Path, lines: list[str]) -> Path:
    text = "".join(f"{entry}\n" for entry in lines)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            stream.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
