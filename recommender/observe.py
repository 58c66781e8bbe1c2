"""How the core reports what it did (views written, reloads refused, refresh times) without depending on a
metrics library: an object takes an optional observer and calls it with an event name and an amount."""

from __future__ import annotations

from collections.abc import Callable

Observer = Callable[[str, float], None]


def ignore(event: str, amount: float) -> None:
    """The default observer: nobody is listening."""
