"""Each snapshot's likeliest lists, computed before a reader asks for them.

A page's "More like this" is re-ranked once per served snapshot (``boxes.similar_items``)
and then looked up, and that first computation is most of an uncached answer's cost: under
2,000 views/s, the first request for an article had a p99 of 11.7 ms against 5.4 ms for the
next ones (bench/events.py's probe). Every new snapshot (a published version, an article
added or changed during the day, an editor's pin) starts without any, so after each swap a
background thread prepares the default box of the articles most likely asked for next: the
most viewed, then the newest. After each article it stays off the GIL for as long as the
article took, so that a request waits on it for one re-rank at most and the work takes half
a core at most, and it drops a snapshot as soon as a newer one is served.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from recommender.observe import Observer, ignore
from recommender.serving import boxes
from recommender.serving.live import MEMO_SIZE, LiveIndex
from recommender.serving.page import DEFAULT_BOX_SIZE

log = logging.getLogger(__name__)

# A re-rank costs 0.3 ms on the bundled corpus, 1.8 ms at a million articles: 2,000 lists are 0.6 s to
# 3.5 s of one core per worker and per snapshot. At most half the memo's room, which readers' lists share.
DEFAULT_ARTICLES = 2000
MOST_ARTICLES = MEMO_SIZE // 2
CHECK_SECONDS = 0.5  # how soon a new snapshot is noticed
# After each list, off the GIL (a waiting request takes it) for as long as the list took, at least 0.5 ms:
# half a core at most, however often editors change the index and restart the work.
LEAST_PAUSE_SECONDS = 0.0005


def likeliest(index: LiveIndex, most_viewed: Iterable[str], count: int) -> Iterator[str]:
    """Up to ``count`` served articles, each once: the most viewed first, then the newest."""
    newest = (article["id"] for article in index.newest_first)
    seen: set[str] = set()
    for article_id in itertools.chain(most_viewed, newest):
        if len(seen) == count:
            return
        if article_id not in seen and article_id in index:
            seen.add(article_id)
            yield article_id


def prepare(index: LiveIndex, article_id: str) -> None:
    """What a reader's default page and ``/related`` compute first for the article, kept by the snapshot:
    the same call as theirs, so that the lists are the ones they would have computed."""
    boxes.more_like_this(
        index, article_id, DEFAULT_BOX_SIZE, index.floor, [], fill=False, settings=index.rerank_settings
    )


class Warmer(threading.Thread):
    """Prepares every snapshot ``current()`` serves, ``articles`` lists at most per snapshot.

    ``most_viewed``: article ids by Popular's ranking, best first. ``observe`` hears how many lists each
    snapshot got (``lists_prepared``) before it was replaced or done.
    """

    def __init__(
        self,
        current: Callable[[], LiveIndex],
        most_viewed: Callable[[], Iterable[str]],
        articles: int = DEFAULT_ARTICLES,
        observe: Observer = ignore,
    ) -> None:
        super().__init__(name="list-warmer", daemon=True)
        self.current = current
        self.most_viewed = most_viewed
        self.articles = articles
        self.observe = observe
        self.stopped = threading.Event()
        self.prepared: tuple[LiveIndex | None, int] = (None, 0)  # the last snapshot prepared, and its lists

    def run(self) -> None:
        done: LiveIndex | None = None
        while not self.stopped.is_set():
            index = self.current()
            if index is done:
                self.stopped.wait(CHECK_SECONDS)
                continue
            done = None  # the snapshot before may be mapped still: only the served one is kept
            try:
                self.prepare_snapshot(index)
            except Exception:  # the thread outlives any one snapshot: the next ones are prepared still
                log.exception("preparing the lists of index version %s failed", index.version)
            done = index

    def prepare_snapshot(self, index: LiveIndex) -> int:
        """The lists of ``index``'s likeliest articles, until done, stopped or replaced; how many."""
        count = 0
        self.prepared = (index, count)
        for article_id in likeliest(index, self.most_viewed(), min(self.articles, MOST_ARTICLES)):
            if self.stopped.is_set() or self.current() is not index:
                break
            started = time.perf_counter()
            try:
                prepare(index, article_id)
            except Exception:  # its first reader will meet the error; the other lists are still worth having
                log.exception("preparing the list of %r in index version %s failed", article_id, index.version)
            else:
                count += 1
                self.prepared = (index, count)
            time.sleep(max(LEAST_PAUSE_SECONDS, time.perf_counter() - started))
        self.observe("lists_prepared", count)
        return count

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
