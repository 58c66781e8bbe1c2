"""The day's changes merged into the published index's orders: newest first, by section, by tag.

Each walk reads the published rows in order and decodes a record only when it is read, so a box that
shows five of a million articles decodes about five. These are functions of what they merge, not of a
``LiveIndex``: a cached TagIndex holding its snapshot would be a reference cycle, and a replaced index
would then wait for a full collection (or, after the service's gc.freeze(), stay mapped for good).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

import numpy as np

from recommender.indexing.records import ArticleTable
from recommender.indexing.tags import TagIndex


def overlaid(
    table: ArticleTable, rows: np.ndarray, added: list[tuple[float, dict[str, Any]]], hidden: frozenset[str]
) -> Iterator[dict[str, Any]]:
    """The base rows still served merged with the added articles, newest first; ties go to the base rows,
    as one stable sort of all of them would order them. Each record is decoded when it is read."""
    kept: Iterator[tuple[float, int | dict[str, Any]]] = (
        (published, row) for published, row in table.dated(rows) if not hidden or table.id_of(row) not in hidden
    )
    for _, entry in heapq.merge(kept, added, key=itemgetter(0), reverse=True):
        yield table[entry] if isinstance(entry, int) else entry


def overlaid_tags(
    base: TagIndex,
    count: int,
    added: dict[str, list[tuple[float, str]]],
    hidden: frozenset[str],
    hidden_tags: Counter[str],
) -> TagIndex:
    """The published tag index with the hidden (deleted or updated) articles out and the added ones in;
    a tag's count stays exact, as its idf-like weight depends on it."""

    def newest(tag: str) -> Iterator[tuple[str, float]]:
        kept = ((published, article_id) for article_id, published in base.newest(tag) if article_id not in hidden)
        merged = heapq.merge(kept, added.get(tag, []), key=itemgetter(0), reverse=True)
        return ((article_id, published) for published, article_id in merged)

    return TagIndex(count, lambda tag: base.tagged(tag) - hidden_tags[tag] + len(added.get(tag, ())), newest)
