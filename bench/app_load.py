"""One worker's start, memory and hot reload on a built index, in a process of its own.

bench/memory.py runs this as a child, so that the memory it reads is this process's alone:

- ``create_app_seconds``: ``create_app()`` from the environment, as a gunicorn worker calls it (the
  index checked against its manifest and mapped, the stores opened; bench/memory.py reads the index's files
  just before, for a warm page cache); ``lists_prepared_seconds``: from its
  start until the background thread has prepared the likeliest lists (bench/memory.py's figures are taken
  after that, a worker's steady state);
- ``anonymous_mib``: the process's own memory (its heap: Anonymous in smaps_rollup) after
  ``create_app()``, then after serving ``/recommendations`` for every sampled article (their records
  decoded and cached). ``private_mib`` (Private_Clean + Private_Dirty) adds the pages of the index's
  files that only this process maps: page cache, which every other worker shares once it maps them;
- ``related_median_us``: ``/related`` through the Flask test client, the median over the sample of the
  second request of each article (the first one re-ranks, then the snapshot's memo answers);
- a hot reload: ``current`` switched to a second version (the same files under another name) and the
  holder refreshed, as the watcher thread does; ``reload_peak_added_mib`` is the highest anonymous
  memory sampled every 5 ms during it, less that before it.

Usage: ``python -m bench.app_load ROOT SCRATCH IDS_FILE`` (ROOT: an index root whose ``current`` can be
switched to ``versions/b``); prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

from bench.procfs import smaps

MIB = 1024  # smaps reads KiB


def private_mib() -> float:
    fields = smaps(os.getpid())
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / MIB


def anonymous_mib() -> float:
    return smaps(os.getpid())["Anonymous"] / MIB


class PeakSampler(threading.Thread):
    """The highest anonymous memory of this process while it runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = anonymous_mib()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, anonymous_mib())

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, anonymous_mib())


def main() -> None:
    root, scratch, ids_file = (Path(arg) for arg in sys.argv[1:4])
    environ = {
        "RECOMMENDER_INDEX": str(root),
        "RECOMMENDER_POPULARITY_URL": f"sqlite:///{scratch / 'views.sqlite3'}",
        "RECOMMENDER_CHANGES": str(scratch / "changes.sqlite3"),
        "RECOMMENDER_RELOAD_INTERVAL_SECONDS": "0",  # the reload below is the only one
    }
    from service import create_app  # imported before the clock starts: a worker imports at boot too

    before_app = anonymous_mib()
    started = time.perf_counter()
    app = create_app(environ=environ)
    create_app_seconds = time.perf_counter() - started
    after_app = anonymous_mib()
    client = app.test_client()
    # What follows measures a worker in its steady state: after its background thread has prepared the lists
    # of the likeliest articles (RECOMMENDER_WARM_ARTICLES), which competes for the GIL until then.
    health = client.get("/healthz").get_json()
    expected = min(health["article_count"], app.config["WARM_ARTICLES"])
    while client.get("/healthz").get_json()["lists_prepared"] < expected:
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"fewer than {expected} lists prepared after 10 minutes")
        time.sleep(0.05)
    lists_prepared_seconds = time.perf_counter() - started
    paths = [urllib.parse.quote(line, safe="") for line in ids_file.read_text(encoding="utf-8").splitlines()]
    for path in paths:
        assert client.get(f"/api/v1/articles/{path}/recommendations").status_code == 200
    timings = []
    for path in paths:
        client.get(f"/api/v1/articles/{path}/related")
        started = time.perf_counter_ns()
        response = client.get(f"/api/v1/articles/{path}/related")
        timings.append((time.perf_counter_ns() - started) / 1000)
        assert response.status_code == 200
    warmed, warmed_private = anonymous_mib(), private_mib()

    holder = app.extensions["recommender.holder"]
    (root / "current.next").symlink_to(Path("versions") / "b")
    os.replace(root / "current.next", root / "current")
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    holder.refresh()
    reload_seconds = time.perf_counter() - started
    peak = sampler.stop()
    assert holder.live.directory is not None and holder.live.directory.name == "b", "the reload did not happen"
    for path in paths[:200]:
        assert client.get(f"/api/v1/articles/{path}/recommendations").status_code == 200
    app.extensions["recommender"].close()
    print(
        json.dumps(
            {
                "anonymous_mib_after_imports": round(before_app, 1),
                "create_app_seconds": round(create_app_seconds, 3),
                "lists_prepared": expected,
                "lists_prepared_seconds": round(lists_prepared_seconds, 2),
                "anonymous_mib_after_create_app": round(after_app, 1),
                "anonymous_mib_after_requests": round(warmed, 1),
                "private_mib_after_requests": round(warmed_private, 1),
                "related_median_us": round(statistics.median(timings), 1),
                "reload_seconds": round(reload_seconds, 3),
                "reload_peak_added_mib": round(peak - warmed, 1),
                "anonymous_mib_after_reload": round(anonymous_mib(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
