"""Wiring of the page-view store, recorder, rankings and the events' rate limit into the app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from recommender.popularity.clicks import ClickCounter
from recommender.popularity.rankings import PopularRankings
from recommender.popularity.ratelimit import TokenBuckets
from recommender.popularity.recorder import ViewRecorder
from recommender.popularity.stores import default_store_url, open_store
from recommender.popularity.views import ViewStore
from service.cors import parse_origins
from service.lifecycle import lifecycle_of
from service.metrics import observer


@dataclass(frozen=True, slots=True)
class Popularity:
    store: ViewStore
    recorder: ViewRecorder
    rankings: PopularRankings
    limiter: TokenBuckets | None  # events per client in this worker; None when unlimited
    allowed_origins: frozenset[str]  # pages that may report views; empty: any
    clicks: ClickCounter  # impressions and clicks of the boxes

    def close(self) -> None:
        """Stop the refresher, write what the recorders hold, then close the store; safe to call twice."""
        self.rankings.close()
        self.recorder.close()
        self.clicks.close()
        self.store.close()


def init_app(app: Flask) -> None:
    config = app.config
    store = open_store(config["POPULARITY_URL"] or default_store_url(config["RECOMMENDER_INDEX"]))
    lifecycle_of(app).on_close(store.close)  # closed by Popularity.close too, unless building it fails
    clock = config["CLOCK"]
    holder = app.extensions["recommender.holder"]

    def published_timestamp(article_id: str) -> float:
        # Ties go to the newest article, as the index served at the time of the refresh dates it.
        return holder.live.published_timestamp(article_id)

    per_minute = float(config["EVENTS_PER_MINUTE"])
    observe = observer(app)
    flush_seconds = float(config["POPULARITY_FLUSH_SECONDS"])
    popularity = Popularity(
        store,
        ViewRecorder(store, flush_seconds, clock, int(config["POPULARITY_MAX_PENDING"]), observe=observe),
        PopularRankings(store, clock, float(config["POPULAR_REFRESH_SECONDS"]), published_timestamp, observe),
        TokenBuckets(per_minute / 60, int(config["EVENTS_BURST"]), clock) if per_minute > 0 else None,
        parse_origins(config["RECOMMENDER_ALLOWED_ORIGINS"]),
        ClickCounter(store, flush_seconds),
    )
    app.extensions["recommender.popularity"] = popularity
    # At close (or exit: a worker that is stopped, not killed) it writes what it still holds.
    lifecycle_of(app).on_close(popularity.close)
    popularity.rankings.start()


def current_popularity() -> Popularity:
    return current_app.extensions["recommender.popularity"]
