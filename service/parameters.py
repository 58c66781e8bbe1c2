"""The query parameters of the API, checked: a bad value is a 400 that names the parameter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import request

from recommender.indexing.relevance import AUTO, parse_min_score
from recommender.indexing.rerank import RerankSettings
from recommender.popularity.views import DEFAULT_WINDOW, WINDOWS
from service.errors import InvalidParameter


def int_parameter(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidParameter(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def min_score_parameter(floor: float) -> float:
    """``min_score``: a number from 0 to 1 (0 turns the floor off); the index's floor when absent."""
    raw = request.args.get("min_score")
    if raw is None:
        return floor
    try:
        value = parse_min_score(raw)
    except ValueError as error:
        raise InvalidParameter(str(error)) from None
    return floor if value == AUTO else float(value)


def _number(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameter(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise InvalidParameter(f"{name} must be a finite number, got {raw!r}")
    return value


def rerank_parameters(defaults: RerankSettings) -> RerankSettings:
    """``recency`` (on/off), ``half_life_days``, ``recency_floor``, ``max_age_days``, ``diversity`` over the
    index's defaults."""
    recency = request.args.get("recency", "on" if defaults.recency else "off")
    if recency not in ("on", "off"):
        raise InvalidParameter(f"recency must be on or off, got {recency!r}")
    changes: dict[str, Any] = {"recency": recency == "on"}
    for name in ("half_life_days", "recency_floor", "max_age_days", "diversity"):
        value = _number(name)
        if value is not None:
            changes[name] = value
    try:
        return replace(defaults, **changes)
    except ValueError as error:
        raise InvalidParameter(str(error)) from None


def fill_parameter() -> bool:
    fill = request.args.get("fill", "auto")
    if fill not in ("auto", "none"):
        raise InvalidParameter(f"fill must be auto or none, got {fill!r}")
    return fill == "auto"


def window_parameter(windows: Mapping[str, int] = WINDOWS, default: str = DEFAULT_WINDOW) -> str:
    """``window``: one of ``windows`` (Popular's, or a report's)."""
    window = request.args.get("window", default)
    if window not in windows:
        raise InvalidParameter(f"window must be one of {', '.join(windows)}, got {window!r}")
    return window
