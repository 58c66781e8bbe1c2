"""The editors' token: one check for the admin API (Bearer) and the preview pages (Bearer, or Basic for browsers)."""

from __future__ import annotations

import base64
import hmac

from flask import current_app, request


def admin_token() -> str | None:
    """The configured token; None when editing is off."""
    token = current_app.config["RECOMMENDER_ADMIN_TOKEN"]
    return str(token) if token else None


def presents_token(token: str, basic: bool = False) -> bool:
    """Whether the request's Authorization header carries ``token``: ``Bearer TOKEN`` or, with ``basic``,
    HTTP Basic with the token as password (what a browser's sign-in dialog sends). Compared in constant time."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = credentials
    elif basic and scheme.lower() == "basic":
        try:
            given = base64.b64decode(credentials, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    return hmac.compare_digest(given.encode(), token.encode())
