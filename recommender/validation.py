"""Checks for text that comes from outside: page-view beacons, PUT bodies and corpus rows.

JSON allows escapes such as ``"\\udc80"``: a lone surrogate, which Python keeps
in a ``str`` but which no UTF-8 encoder, SQLite or Redis accepts. Such a
string must be refused where it enters, or it fails later, far from its cause.
"""

from __future__ import annotations

import json


class InvalidJSON(ValueError):
    """A body that is not one JSON document in UTF-8."""


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes) -> object:
    """The JSON document in ``raw``; InvalidJSON for anything a strict decoder refuses.

    That includes nesting too deep for the parser (a RecursionError, e.g. 4 KB of
    ``[``), integers beyond Python's digit limit, invalid UTF-8 and NaN/Infinity.
    """
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidJSON("the JSON is nested too deeply") from None
    except UnicodeDecodeError as error:
        raise InvalidJSON(f"the body is not UTF-8: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise InvalidJSON(f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:
        raise InvalidJSON(f"the body is not JSON: {error}") from None


def is_unicode(text: str) -> bool:
    """False when ``text`` holds a lone surrogate, i.e. cannot be written as UTF-8."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(value: object) -> str | None:
    """Where the first string holding a lone surrogate is (``"visitor_id"``, ``"tags[2]"``), or None.

    Walks iteratively, so a deeply nested value cannot exhaust the stack.
    """
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                return path or "the value"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not is_unicode(key):
                    return f"a key of {path or 'the object'}"
                pending.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{number}]", child) for number, child in enumerate(item))
    return None


def check_unicode(value: object) -> None:
    """ValueError naming the field when a string in ``value`` holds a lone surrogate."""
    where = lone_surrogate_at(value)
    if where is not None:
        raise ValueError(f"field {where!r} holds a lone surrogate (an unpaired \\ud800-\\udfff escape)")
