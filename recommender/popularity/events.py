"""Page-view beacons as the website sends them: parsed and checked before anything is recorded.

Nothing a page sends may reach the counter unless it is a well-formed view of
a known article: whatever else it is gets a stable error code, and the caller
answers 400 without storing anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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


EVENT_TYPES = ("view", "impression", "click")


def decode_event(raw: bytes) -> dict[str, Any]:
    """A beacon body (JSON, also sent as text/plain) as an object of a known ``type``; InvalidEvent otherwise."""
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
    if event.get("type") not in EVENT_TYPES:
        raise InvalidEvent("invalid_event", f"type must be one of {', '.join(EVENT_TYPES)}, got {event.get('type')!r}")
    return event


def view_event(event: dict[str, Any], is_article: Callable[[str], bool]) -> ViewEvent:
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


def page_origin(origin: str | None, referer: str | None) -> str | None:
    """The origin of the page that sent an event: its Origin header, else its Referer's scheme://host[:port]."""
    if origin:
        return origin.strip().rstrip("/")
    if referer:
        parts = urlsplit(referer.strip())
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
        return referer.strip()
    return None


def origin_allowed(origin: str | None, allowed: frozenset[str], own_host: str) -> bool:
    """Whether a page of ``origin`` may report views, given the listed origins (empty: any page may).

    Scripts send neither header, and browsers may strip the Referer: no origin is allowed. The
    service's own pages (the demo) are always allowed.
    """
    if not allowed or origin is None or origin in allowed:
        return True
    return urlsplit(origin).netloc == own_host


def client_fingerprint(address: str, user_agent: str) -> bytes:
    """A digest of the client's address and User-Agent, held in memory only until the flusher salts it."""
    text = f"{address}\0{user_agent}".encode("utf-8", "replace")
    return hashlib.blake2b(text, digest_size=32).digest()


def anonymous_visitor_id(salt: bytes, fingerprint: bytes) -> str:
    """The visitor id of a view sent without one: the fingerprint hashed with the day's secret salt.

    Once the salt is deleted (after two days) the id cannot be linked to any
    address, even by trying every IPv4 address. ``#`` cannot start a client's
    visitor_id, so the two kinds of id never collide.
    """
    return "#" + hashlib.blake2b(fingerprint, key=salt[:64], digest_size=16).hexdigest()
