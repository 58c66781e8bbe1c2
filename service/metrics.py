"""Prometheus metrics at /metrics, for the operators' scraper (behind the proxy, never public).

Under gunicorn every worker counts in its own files in ``PROMETHEUS_MULTIPROC_DIR``
(deploy/gunicorn.conf.py provides one) and a scrape, answered by any one worker,
sums them all. Without that variable (the Flask test client, ``flask run``) the
app's metrics live in a registry of its own: nothing is shared between apps and
nothing is created at import. ``RECOMMENDER_METRICS=off`` turns all of it off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from recommender.observe import Observer, ignore
from service.errors import error_response

KEY = "recommender.metrics"
VIEW_OUTCOMES = ("accepted", "bot", "rate_limited", "dropped", "flushed", "rejected")
UNMATCHED = "unmatched"  # the endpoint label of a request no route took: never its path
# An answer takes microseconds (kept) to a few milliseconds (computed): prometheus_client's default buckets
# start at 5 ms, which put every request of a healthy worker in the first one.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's series; in multiprocess mode they belong to no registry, since a scrape reads the files."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        own = None if multiprocess_dir else self.registry
        self.requests = Counter(
            "recommender_http_requests", "Requests answered, by Flask endpoint and status", ["endpoint", "status"],
            registry=own,
        )  # fmt: skip
        self.duration = Histogram(
            "recommender_http_request_duration_seconds", "Time to answer a request, by Flask endpoint", ["endpoint"],
            buckets=DURATION_BUCKETS, registry=own,
        )  # fmt: skip
        self.views = Counter(
            "recommender_views",
            "Page views: accepted, ignored as a bot, rate_limited (any event), dropped on overflow, rejected by "
            "the store, flushed (written to the store)",
            ["outcome"],
            registry=own,
        )
        self.flush_errors = Counter("recommender_flush_errors", "Page-view flushes that failed", registry=own)
        self.reload_failures = Counter(
            "recommender_index_reload_failures", "Index versions refused or unreadable, and failed checks", registry=own
        )
        self.popular_refresh = Histogram(
            "recommender_popular_refresh_seconds", "Time to recompute the Popular rankings", registry=own
        )
        self.popular_refresh_errors = Counter(
            "recommender_popular_refresh_errors", "Popular refreshes that failed", registry=own
        )
        self.box_events = Counter(
            "recommender_box_events", "Impressions and clicks of the boxes, no bots", ["kind", "box"], registry=own
        )
        self.lists_prepared = Counter(
            "recommender_lists_prepared",
            "More like this lists computed ahead of readers after an index change",
            registry=own,
        )
        for outcome in VIEW_OUTCOMES:  # every series exists from the start, so a rate() sees its first increase
            self.views.labels(outcome)

    def observe(self, event: str, amount: float) -> None:
        """The observer handed to the core objects (see recommender/observe.py)."""
        if event in VIEW_OUTCOMES:
            self.views.labels(event).inc(amount)
        elif event == "flush_error":
            self.flush_errors.inc(amount)
        elif event == "reload_failure":
            self.reload_failures.inc(amount)
        elif event == "refresh_seconds":
            self.popular_refresh.observe(amount)
        elif event == "refresh_error":
            self.popular_refresh_errors.inc(amount)
        elif event == "lists_prepared":
            self.lists_prepared.inc(amount)

    def exposition(self, manifest: dict[str, Any]) -> bytes:
        """Every worker's series (or this app's), and the age of the index this worker serves, as of now."""
        scrape = CollectorRegistry()
        if self.multiprocess_dir:
            MultiProcessCollector(scrape, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
        else:
            scrape.register(self.registry)
        scrape.register(IndexAge(manifest))
        return generate_latest(scrape)


class IndexAge:
    """``recommender_index_age_seconds``, computed when scraped: a nightly build that stopped shows as growth."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def collect(self) -> Iterator[Metric]:
        stamp = self.manifest.get("built_at") or self.manifest.get("corpus", {}).get("exported_at")
        if stamp:
            age = time.time() - datetime.fromisoformat(stamp).timestamp()
            yield GaugeMetricFamily(
                "recommender_index_age_seconds", "Age of the served index version, from its manifest", value=age
            )


def enabled(config: Any) -> bool:
    return str(config.get("RECOMMENDER_METRICS", "on")).strip().lower() not in ("off", "0", "false", "no")


def observer(app: Flask) -> Observer:
    metrics = app.extensions.get(KEY)
    return metrics.observe if metrics is not None else ignore


def count_view(app: Flask, outcome: str) -> None:
    metrics = app.extensions.get(KEY)
    if metrics is not None:
        metrics.views.labels(outcome).inc()


def count_box_event(app: Flask, kind: str, box: str) -> None:
    metrics = app.extensions.get(KEY)
    if metrics is not None:
        metrics.box_events.labels(kind, box).inc()


def count_request(app: Flask, endpoint: str, status: int, started: float | None) -> None:
    """One answered request; ``started`` is its time.perf_counter() on arrival, None when unknown."""
    metrics = app.extensions.get(KEY)
    if metrics is not None:
        metrics.requests.labels(endpoint, str(status)).inc()
        if started is not None:
            metrics.duration.labels(endpoint).observe(time.perf_counter() - started)


def init_app(app: Flask) -> None:
    """Before the index and the popularity objects, which take ``observer(app)``."""
    app.add_url_rule("/metrics", "metrics", _scrape)
    if not enabled(app.config):
        return
    metrics = Metrics(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None)
    app.extensions[KEY] = metrics

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count_answered(response: Response) -> Response:
        count_request(app, request.endpoint or UNMATCHED, response.status_code, g.pop("metrics_started", None))
        return response


def _scrape() -> Response:
    metrics = current_app.extensions.get(KEY)
    if metrics is None:
        return error_response(404, "not_found", "metrics are off (RECOMMENDER_METRICS=off)")
    manifest = current_app.extensions["recommender.holder"].live.manifest
    response = Response(metrics.exposition(manifest), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
