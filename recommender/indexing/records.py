"""Article records as plain arrays: what the index shows of each article, found by id, in the boxes' orders.

At a million articles, records held as Python dicts took 1.5 GiB of every worker and 12 s to parse at
each load. Here they are one blob of JSON lines with offsets, an id table and precomputed orders, which a
loaded index memory-maps: the workers share one copy, loading parses nothing, and a request decodes only
the records it shows (a bounded cache keeps the busy ones decoded).

- ids are found through a sorted table of their 64-bit hashes (BLAKE2b) and the rows they name; ids
  whose hashes collide are told apart by comparing the ids themselves;
- ``newest_rows``: every row, newest first (undated last, ties in corpus order);
- ``section_rows`` and ``tag_rows``: that order cut into one group per section and per casefolded tag,
  whose bounds are in ``groups``.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import operator
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from recommender.indexing.tags import tags_of

Article = dict[str, Any]
Groups = dict[str, dict[str, list[int]]]  # "sections" | "tags" -> name -> [start, stop] in its rows array

ARRAYS = (
    "article_offsets",
    "id_bytes",
    "id_offsets",
    "id_hashes",
    "id_rows",
    "published",
    "newest_rows",
    "section_rows",
    "tag_rows",
)
DECODED_CACHE = 20_000  # records kept decoded per table: the busy ones, about 45 MiB at most
ROWS_READ_AHEAD = 64  # rows an ordered walk converts at a time: a box stops after a handful of a million


def published_timestamp(article: Article) -> float:
    """Seconds since the epoch, for ordering; undated articles sort as oldest, naive times as UTC."""
    if not article.get("published_at"):
        return float("-inf")
    moment = datetime.fromisoformat(article["published_at"])
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def id_hash(article_id: str) -> int:
    """A signed 64-bit hash of an id: the id table is sorted on it."""
    digest = hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _view(array: np.ndarray, code: Literal["q", "i", "B"]) -> memoryview:
    """A flat memoryview of an array's items: indexing it and bisecting it costs a fraction of numpy's
    per-item overhead, and a lookup is a few dozen of those."""
    return np.ascontiguousarray(array).data.cast("B").cast(code)


class ArticleTable:
    """Row number -> record, id -> row number, and the rows newest first, by section and by tag."""

    def __init__(self, records: bytes | bytearray | Any, arrays: dict[str, np.ndarray], groups: Groups) -> None:
        self.records = records  # the JSON lines: bytes in memory after a build, an mmap after a load
        self.arrays = arrays
        self.groups = groups
        # Plain ndarray views of the (memory-mapped) arrays: indexing a np.memmap costs a microsecond more.
        arrays = {name: np.asarray(array) for name, array in arrays.items()}
        self._groups = {"sections": arrays["section_rows"], "tags": arrays["tag_rows"]}
        self._offsets = _view(arrays["article_offsets"], "q")
        self._id_bytes, self._id_offsets = _view(arrays["id_bytes"], "B"), _view(arrays["id_offsets"], "q")
        self._hashes, self._hash_rows = _view(arrays["id_hashes"], "q"), _view(arrays["id_rows"], "i")
        self.published = arrays["published"]
        self.newest_rows = arrays["newest_rows"]
        self._decoded: dict[int, Article] = {}

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row: int) -> Article:
        row = operator.index(row)
        try:
            return self._decoded[row]
        except KeyError:
            pass
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        row %= len(self)
        record: Article = json.loads(self.records[self._offsets[row] : self._offsets[row + 1]])
        if len(self._decoded) >= DECODED_CACHE:
            self._decoded = {}  # replaced, not cleared: a reader in another thread keeps its dict
        self._decoded[row] = record
        return record

    def __iter__(self) -> Iterator[Article]:
        return (self[row] for row in range(len(self)))

    def id_of(self, row: int) -> str:
        if not 0 <= row < len(self):
            raise IndexError(row)
        return str(self._id_bytes[self._id_offsets[row] : self._id_offsets[row + 1]], "utf-8", "surrogatepass")

    def row_of(self, article_id: str) -> int | None:
        if not isinstance(article_id, str):
            return None
        key = id_hash(article_id)
        at = bisect.bisect_left(self._hashes, key)
        while at < len(self._hashes) and self._hashes[at] == key:
            row = self._hash_rows[at]
            if self.id_of(row) == article_id:
                return row
            at += 1
        return None

    def dated(self, rows: np.ndarray) -> Iterator[tuple[float, int]]:
        """(publication time, row) for ``rows`` in their order, converted a few at a time."""
        for start in range(0, rows.size, ROWS_READ_AHEAD):
            chunk = rows[start : start + ROWS_READ_AHEAD]
            yield from zip(self.published[chunk].tolist(), chunk.tolist(), strict=True)

    def group(self, kind: str, name: str) -> np.ndarray:
        """The rows of one section (``kind`` "sections") or casefolded tag ("tags"), newest first."""
        start, stop = self.groups[kind].get(name, (0, 0))
        rows: np.ndarray = self._groups[kind][start:stop]
        return rows


def encode_records(records: Iterable[Article]) -> ArticleTable:
    """The table of records in row order, encoded once at build time."""
    blob = bytearray()
    offsets, ids, hashes, published = [0], [], [], []
    sections: list[list[str]] = []
    tags: list[list[str]] = []
    for record in records:
        blob += json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
        offsets.append(len(blob))
        ids.append(record["id"].encode("utf-8", "surrogatepass"))
        hashes.append(id_hash(record["id"]))
        published.append(published_timestamp(record))
        sections.append([record["section"]] if record.get("section") else [])
        tags.append(list(tags_of(record)))
    id_hashes = np.array(hashes, np.int64)
    by_hash = np.argsort(id_hashes, kind="stable")
    newest_rows = np.argsort(-np.array(published, np.float64), kind="stable").astype(np.int32)
    section_rows, section_bounds = _grouped(sections, newest_rows)
    tag_rows, tag_bounds = _grouped(tags, newest_rows)
    arrays: dict[str, np.ndarray] = {
        "article_offsets": np.array(offsets, np.int64),
        "id_bytes": np.frombuffer(b"".join(ids), np.uint8),
        "id_offsets": np.cumsum([0] + [len(article_id) for article_id in ids], dtype=np.int64),
        "id_hashes": id_hashes[by_hash],
        "id_rows": by_hash.astype(np.int32),
        "published": np.array(published, np.float64),
        "newest_rows": newest_rows,
        "section_rows": section_rows,
        "tag_rows": tag_rows,
    }
    return ArticleTable(blob, arrays, {"sections": section_bounds, "tags": tag_bounds})


def _grouped(keys: list[list[str]], newest_rows: np.ndarray) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Rows grouped by key (a row may have several keys), newest first within a group."""
    names = sorted({key for row_keys in keys for key in row_keys})
    code_of = {name: code for code, name in enumerate(names)}
    codes = np.array([code_of[key] for row_keys in keys for key in row_keys], np.int64)
    rows = np.repeat(np.arange(len(keys)), [len(row_keys) for row_keys in keys])
    position = np.empty(len(keys), np.int64)
    position[newest_rows] = np.arange(len(keys))
    order = np.lexsort((position[rows], codes))
    starts = np.searchsorted(codes[order], np.arange(len(names) + 1))
    bounds = {name: [int(starts[code]), int(starts[code + 1])] for name, code in code_of.items()}
    return rows[order].astype(np.int32), bounds
