"""Wiring of the served index (published version plus the day's changes) into the app."""

from __future__ import annotations

import atexit
import gc

from flask import Flask, current_app

from recommender.serving.changes import ChangeLog, default_changes_path
from recommender.serving.curation import CurationStore, default_curation_path
from recommender.serving.holder import IndexHolder, Watcher
from recommender.serving.live import LiveIndex
from service.metrics import observer


def init_app(app: Flask) -> None:
    config = app.config
    changes = ChangeLog(config["RECOMMENDER_CHANGES"] or default_changes_path(config["RECOMMENDER_INDEX"]))
    curation = CurationStore(default_curation_path(changes.path))
    holder = IndexHolder(config["RECOMMENDER_INDEX"], changes, curation, observer(app))
    app.extensions["recommender.holder"] = holder
    # What start-up created lives as long as the process: keep it out of every later full collection.
    gc.freeze()
    interval = float(config["RELOAD_INTERVAL_SECONDS"])
    if interval > 0:
        watcher = Watcher(holder, interval)
        watcher.start()
        atexit.register(watcher.stop)


def current_holder() -> IndexHolder:
    return current_app.extensions["recommender.holder"]


def current_index() -> LiveIndex:
    """The snapshot this request reads; a reload swaps in another one for later requests."""
    return current_holder().live
