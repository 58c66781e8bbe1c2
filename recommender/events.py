"""Page-view beacons as the website sends them: parsed and checked before anything is recorded.

Nothing a page sends may reach the counter unless it is a well-formed view of
a known article: whatever else it is gets a stable error code, and the caller
answers 400 without storing anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from recommender.validation import InvalidJSON, check_unicode, decode_json

# What the widget generates (base 36), UUIDs, and the usual cookie ids; short enough to key the store.
VISITOR_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_EVENT_BYTES = 4096


class InvalidEvent(ValueError):
    """An event refused as a whole; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ViewEvent:
    article_id: str
    visitor_id: str | None


def parse_event(raw: bytes, is_article: Callable[[str], bool]) -> ViewEvent:
    """The view described by a beacon body (JSON, also sent as text/plain); InvalidEvent otherwise."""
    try:
        event = decode_json(raw)
    except InvalidJSON as error:
        raise InvalidEvent("invalid_json", str(error)) from None
    if not isinstance(event, dict):
        raise InvalidEvent("invalid_json", "the body must be a JSON object")
    try:
        check_unicode(event)
    except ValueError as error:
        raise InvalidEvent("invalid_event", str(error)) from None
    if event.get("type") != "view":
        raise InvalidEvent("invalid_event", f"type must be 'view', got {event.get('type')!r}")
    article_id = event.get("article_id")
    if not isinstance(article_id, str) or not is_article(article_id):
        raise InvalidEvent("unknown_article", f"no article with id {article_id!r}")
    visitor_id = event.get("visitor_id")
    if visitor_id is not None and (not isinstance(visitor_id, str) or not VISITOR_ID.fullmatch(visitor_id)):
        raise InvalidEvent(
            "invalid_event", "visitor_id must be 1 to 128 characters of letters, digits and . _ : -, or absent"
        )
    return ViewEvent(article_id, visitor_id)
