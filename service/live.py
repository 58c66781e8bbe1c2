"""Wiring of the served index (published version plus the day's changes) into the app."""

from __future__ import annotations

import gc

from flask import Flask, current_app
from threadpoolctl import threadpool_limits

from recommender.popularity.views import DEFAULT_WINDOW
from recommender.serving.changes import ChangeLog, default_changes_path
from recommender.serving.curation import CurationStore, default_curation_path
from recommender.serving.holder import IndexHolder, Watcher
from recommender.serving.live import LiveIndex
from recommender.serving.warm import Warmer
from service.lifecycle import lifecycle_of
from service.metrics import observer


def init_app(app: Flask) -> None:
    config = app.config
    lifecycle = lifecycle_of(app)
    changes = ChangeLog(config["RECOMMENDER_CHANGES"] or default_changes_path(config["RECOMMENDER_INDEX"]))
    lifecycle.on_close(changes.close)
    curation = CurationStore(default_curation_path(changes.path))
    lifecycle.on_close(curation.close)
    holder = IndexHolder(config["RECOMMENDER_INDEX"], changes, curation, observer(app))
    app.extensions["recommender.holder"] = holder
    # What start-up created lives as long as the process: keep it out of every later full collection. A
    # closed app's objects go back to the collector (only a test process outlives its apps).
    gc.freeze()
    lifecycle.on_close(gc.unfreeze)
    # A request runs on one thread, and so does a re-rank's product of its candidates' rows: a second BLAS
    # thread only spins beside it. At a million articles OpenBLAS's two threads took a re-rank from 1.8 ms
    # to 2.4 ms, and its CPU from 1.8 ms to 4.7 ms, the other core's time taken from the other worker.
    blas = threadpool_limits(limits=1, user_api="blas")
    lifecycle.on_close(blas.restore_original_limits)
    interval = float(config["RELOAD_INTERVAL_SECONDS"])
    if interval > 0:
        watcher = Watcher(holder, interval)
        watcher.start()
        lifecycle.on_close(watcher.stop)


def start_warming(app: Flask) -> None:
    """After the page-view store: the lists prepared first are those of the most viewed articles."""
    articles = int(app.config["WARM_ARTICLES"])
    if articles <= 0:
        return
    holder = app.extensions["recommender.holder"]
    rankings = app.extensions["recommender.popularity"].rankings
    warmer = Warmer(
        lambda: holder.live,
        lambda: (entry.article_id for entry in rankings.ranked(DEFAULT_WINDOW)),
        articles,
        observer(app),
    )
    app.extensions["recommender.warmer"] = warmer
    warmer.start()
    lifecycle_of(app).on_close(warmer.stop)


def lists_prepared(app: Flask) -> int:
    """How many lists of the snapshot served now were computed ahead of readers."""
    warmer = app.extensions.get("recommender.warmer")
    if warmer is None:
        return 0
    index, count = warmer.prepared
    return count if index is app.extensions["recommender.holder"].live else 0


def current_holder() -> IndexHolder:
    return current_app.extensions["recommender.holder"]


def current_index() -> LiveIndex:
    """The snapshot this request reads; a reload swaps in another one for later requests."""
    return current_holder().live
