"""What readers click in the boxes: impressions and clicks, by box, position, reason and index version.

The widget reports one impression per box shown (``ids[0]`` at position 1) and
one click per followed item. Both are validated like page views and counted as
hourly aggregates, so storage grows with hours x boxes x positions, never with
traffic; a report sums them over a window into click-through rates. This is how
an editor sees whether a rebuild or a setting helped.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from recommender.errors import StoreUnavailable

log = logging.getLogger(__name__)

BOXES = ("more_like_this", "popular", "related")
REASONS = ("pinned", "similar", "same_section_recent", "popular", "recent", "shared_tags")
GROUPS = ("box", "position", "reason", "index_version")
MAX_POSITION = 50
_VERSION = re.compile(r"[A-Za-z0-9._+:-]{1,100}")

# (hour, box, position, reason, index_version) -> (impressions, clicks)
Key = tuple[int, str, int, str, str]


class InvalidClickEvent(ValueError):
    """An impression or click refused as a whole; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ClickStore(Protocol):
    def add_click_counts(self, counts: Mapping[Key, tuple[int, int]]) -> None: ...
    def click_counts(self, first_hour: int, last_hour: int) -> dict[Key, tuple[int, int]]: ...


def _field(event: Mapping[str, Any], name: str, kind: type, code: str = "invalid_event") -> Any:
    value = event.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidClickEvent(code, f"{name} must be a {kind.__name__}")
    return value


def _common(event: Mapping[str, Any], is_article: Callable[[str], bool]) -> tuple[str, str]:
    article_id = event.get("article_id")
    if not isinstance(article_id, str) or not is_article(article_id):
        raise InvalidClickEvent("unknown_article", f"no article with id {article_id!r}")
    box = event.get("box")
    if box not in BOXES:
        raise InvalidClickEvent("invalid_event", f"box must be one of {', '.join(BOXES)}, got {box!r}")
    version = _field(event, "index_version", str)
    if not _VERSION.fullmatch(version):
        raise InvalidClickEvent("invalid_event", "index_version must be the version the API answered with")
    return box, version


def _reason(value: object) -> str:
    if value not in REASONS:
        raise InvalidClickEvent("invalid_event", f"reason must be one of {', '.join(REASONS)}, got {value!r}")
    return str(value)


def impression_counts(event: Mapping[str, Any], is_article: Callable[[str], bool], hour: int) -> Counter[Key]:
    """One impression per position the box filled; InvalidClickEvent otherwise."""
    box, version = _common(event, is_article)
    ids, reasons = _field(event, "ids", list), _field(event, "reasons", list)
    if not 1 <= len(ids) <= MAX_POSITION or len(reasons) != len(ids):
        raise InvalidClickEvent("invalid_event", f"ids and reasons must be lists of 1 to {MAX_POSITION}, alike")
    for item in ids:
        if not isinstance(item, str) or not is_article(item):
            raise InvalidClickEvent("unknown_article", f"no article with id {item!r}")
    return Counter({(hour, box, position, _reason(reason), version): 1 for position, reason in enumerate(reasons, 1)})


def click_key(event: Mapping[str, Any], is_article: Callable[[str], bool], hour: int) -> Key:
    box, version = _common(event, is_article)
    target = event.get("target_id")
    if not isinstance(target, str) or not is_article(target):
        raise InvalidClickEvent("unknown_article", f"no article with id {target!r}")
    position = _field(event, "position", int)
    if not 1 <= position <= MAX_POSITION:
        raise InvalidClickEvent("invalid_event", f"position must be from 1 to {MAX_POSITION}, got {position}")
    return (hour, box, position, _reason(event.get("reason")), version)


class ClickCounter:
    """Buffers impressions and clicks per key and writes them every ``flush_interval`` seconds.

    Like the page views' flusher it never dies: a failed write keeps the counts
    for the next try (they are a few keys, not one row per event).
    """

    def __init__(self, store: ClickStore, flush_interval: float = 0.25) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self._impressions: Counter[Key] = Counter()
        self._clicks: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, impressions: Iterable[Key] = (), clicks: Iterable[Key] = ()) -> None:
        with self._lock:
            self._impressions.update(impressions)
            self._clicks.update(clicks)
        if self._thread is None and self.flush_interval > 0:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="click-flusher", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.flush_interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            impressions, clicks = self._impressions, self._clicks
            self._impressions, self._clicks = Counter(), Counter()
        counts = {key: (impressions[key], clicks[key]) for key in impressions.keys() | clicks.keys()}
        if not counts:
            return
        try:
            self.store.add_click_counts(counts)
        except Exception as error:  # noqa: BLE001 - counted again at the next flush, never lost to a crash
            if not isinstance(error, StoreUnavailable):
                log.exception("click counts not written, will retry")
            with self._lock:
                self._impressions.update(impressions)
                self._clicks.update(clicks)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


@dataclass(frozen=True, slots=True)
class ReportRow:
    group: dict[str, object]
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float:
        return round(self.clicks / self.impressions, 4) if self.impressions else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**self.group, "impressions": self.impressions, "clicks": self.clicks, "ctr": self.ctr}


def parse_group(raw: str) -> tuple[str, ...]:
    fields = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [name for name in fields if name not in GROUPS]
    if not fields or unknown:
        raise ValueError(f"group must be a comma-separated list of {', '.join(GROUPS)}, got {raw!r}")
    return fields


def report(counts: Mapping[Key, tuple[int, int]], group: Sequence[str]) -> list[ReportRow]:
    """Impressions, clicks and click-through rate, summed per ``group``; most impressions first."""
    sums: dict[tuple[object, ...], list[int]] = {}
    for (_, box, position, reason, version), (impressions, clicks) in counts.items():
        values = {"box": box, "position": position, "reason": reason, "index_version": version}
        total = sums.setdefault(tuple(values[name] for name in group), [0, 0])
        total[0] += impressions
        total[1] += clicks
    rows = [ReportRow(dict(zip(group, key, strict=True)), i, c) for key, (i, c) in sums.items()]
    return sorted(rows, key=lambda row: (-row.impressions, -row.clicks, str(row.group)))
