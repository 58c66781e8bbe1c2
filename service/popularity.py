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
        """Stop the refresher, write what the recorder holds, then close the store; safe to call twice."""
        self.rankings.close()
        self.recorder.close()
        self.store.close()


def init_app(app: Flask) -> None:
    config = app.config
    store = open_store(config["POPULARITY_URL"] or default_store_url(config["RECOMMENDER_INDEX"]))
    clock = config["CLOCK"]
    holder = app.extensions["recommender.holder"]

    def published_timestamp(article_id: str) -> float:
        # Ties go to the newest article, as the index served at the time of the refresh dates it.
        return holder.live.published_timestamp(article_id)

    popularity = Popularity(
        store,
        ViewRecorder(store, float(config["POPULARITY_FLUSH_SECONDS"]), clock),
        PopularRankings(store, clock, float(config["POPULAR_REFRESH_SECONDS"]), published_timestamp),
    )
    app.extensions["recommender.popularity"] = popularity
    popularity.rankings.start()
    # A worker that is stopped (not killed) writes what it still holds.
    atexit.register(popularity.close)


def current_popularity() -> Popularity:
    return current_app.extensions["recommender.popularity"]
