"""Wiring of the page-view store, recorder and rankings into the app."""

from __future__ import annotations

import atexit
from dataclasses import dataclass

from flask import Flask, current_app

from recommender.popularity import PopularRankings, ViewRecorder, ViewStore
from recommender.stores import default_store_url, open_store


@dataclass(frozen=True, slots=True)
class Popularity:
    store: ViewStore
    recorder: ViewRecorder
    rankings: PopularRankings

    def close(self) -> None:
        self.recorder.close()
        self.store.close()


def init_app(app: Flask) -> None:
    config = app.config
    store = open_store(config["POPULARITY_URL"] or default_store_url(config["RECOMMENDER_INDEX"]))
    clock = config["CLOCK"]
    popularity = Popularity(
        store,
        ViewRecorder(store, float(config["POPULARITY_FLUSH_SECONDS"]), clock),
        PopularRankings(store, clock, float(config["POPULAR_REFRESH_SECONDS"]), _published_timestamp),
    )
    app.extensions["recommender.popularity"] = popularity
    # A worker that is stopped (not killed) writes what it still holds.
    atexit.register(popularity.recorder.close)


def _published_timestamp(article_id: str) -> float:
    # Called while a request computes the ranking, so the current index is at hand.
    return current_app.extensions["recommender.holder"].live.published_timestamp(article_id)


def current_popularity() -> Popularity:
    return current_app.extensions["recommender.popularity"]
