"""The floor for bench/serve.py: a bare WSGI app answering the very bytes the service answered.

It looks the path up in a dict loaded once per worker (``FLOOR_RESPONSES``, a JSON
file of path -> [status, headers, body]) and does nothing else, so the gap between
it and the service, under the same gunicorn config, is the service's own work.
Page-view events get an empty 202, as the service answers them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

Responses = dict[str, tuple[str, list[tuple[str, str]], bytes]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def load_responses(path: str) -> Responses:
    with open(path, encoding="utf-8") as file:
        raw = json.load(file)
    return {
        key: (status, [tuple(pair) for pair in headers], body.encode()) for key, (status, headers, body) in raw.items()
    }


def make_app() -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    responses = load_responses(os.environ["FLOOR_RESPONSES"])
    not_found = ("404 NOT FOUND", [("Content-Type", "application/json")], b'{"error":"not_found"}')
    accepted = ("202 ACCEPTED", [("Content-Length", "0")], b"")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST":
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status, headers, body = accepted
        else:
            # As the client wrote it (gunicorn's RAW_URI): PATH_INFO is decoded, the captured paths are not.
            status, headers, body = responses.get(environ.get("RAW_URI") or environ["PATH_INFO"], not_found)
        start_response(status, headers)
        return [body]

    return app
