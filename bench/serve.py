"""Serving throughput and latency against the floor, measured side by side in one run.

The floor is ``bench/floor.py``: a bare WSGI app that answers the very bytes (and
headers) the service answered for each path, under the same gunicorn config, so
the gap is the service's own work per request. Load comes from wrk (Debian package
``wrk``; C, two threads, keep-alive connections), rotating through the lists of
1,000 BBC articles (../shared/corpora/bbc; the bundled Wikinews corpus when
../shared is absent, and the report says so).

For each gunicorn config (the production one, ``deploy/gunicorn.conf.py``: gthread
workers with the access log; then without the access log; then sync workers) it
alternates floor and service, ``--rounds`` times, and reports the median req/s,
p50 and p99 of each, and the service's share of the floor. The last two blocks repeat
``/recommendations`` with the production config while a second wrk posts 2,000 page
views per second, each from a simulated reader of its own (``bench/events.py`` uses the
same load): to the same server (the floor accepts them with an empty 202), then, as
deployed, to the beacons' own workers (``bench.harness.beacons_server``: the real app
under granian, at a lower CPU share), the same for both sides. The service is measured in
its steady state: from when each worker has prepared its likeliest lists in the background
(``RECOMMENDER_WARM_ARTICLES``), which takes a few seconds after a start or a new index, and
after 2 s of the same load on each endpoint, which leaves every answer kept.

Rerun: ``.venv/bin/python -m bench.serve [--seconds 10] [--rounds 2]``; results go to
``bench/results/serve.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.harness import beacons_server, gunicorn
from bench.wrk import capture, wrk, wrk_views
from recommender.indexing.corpus import Corpus, load_corpus
from recommender.indexing.index import build_index
from recommender.indexing.storage import save_index

REPO = Path(__file__).resolve().parent.parent
BBC = REPO.parent / "shared" / "corpora" / "bbc" / "articles.jsonl"
BUNDLED = REPO / "corpus" / "wikinews.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = {
    "production (gthread, access log)": {"worker_class": "gthread", "access_log": True},
    "gthread, no access log": {"worker_class": "gthread", "access_log": False},
    "sync, no access log": {"worker_class": "sync", "access_log": False},
}
ROTATE = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local position = 0
request = function()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end
"""


def corpus(articles: int) -> tuple[Corpus, str]:
    if BBC.exists():
        loaded = load_corpus(BBC, max_bad_fraction=1.0)
        return Corpus(loaded.articles[:articles], loaded.problems, loaded.checksum, articles, loaded.path), "BBC"
    return load_corpus(BUNDLED), "bundled Wikinews (../shared absent)"


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in ("requests_per_second", "p50_ms", "p99_ms")}


def measure(
    index: Path, work: Path, app: str, config: dict[str, Any], endpoints: dict[str, Path], args: argparse.Namespace,
    script: Path, ids: list[str] | None = None, floor_file: Path | None = None, views_apart: bool = False,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """``ids``: page views of these articles at ``args.views_rate`` meanwhile, to the same server, or with
    ``views_apart`` to the beacons' own workers."""
    with ExitStack() as stack:
        server = stack.enter_context(
            gunicorn(
                index,
                work,
                app=app,
                worker_class=config["worker_class"],
                access_log=config["access_log"],
                FLOOR_RESPONSES=str(floor_file or ""),
            )
        )
        if floor_file is None:  # the service, measured in its steady state: each worker's likeliest lists ready
            server.wait_for_prepared_lists(2, 120)
        views_base = stack.enter_context(beacons_server(index, work)).base if ids and views_apart else server.base
        results = {}
        for endpoint, paths_file in endpoints.items():
            wrk(server.base, script, 2, args.connections, {"WRK_PATHS": str(paths_file)})  # warm up: every answer kept
            with ExitStack() as views:
                if ids:
                    views.enter_context(
                        wrk_views(views_base, ids, [1.0] * len(ids), args.views_rate, args.seconds + 3, work)
                    )
                env = {"WRK_PATHS": str(paths_file)}
                results[endpoint] = wrk(server.base, script, args.seconds, args.connections, env)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--views-rate", type=float, default=2000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    articles, source = corpus(args.articles)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temporary:
        work = Path(temporary)
        index = save_index(build_index(articles), work / "index")
        ids = [article.id for article in articles.articles]
        quoted = [urllib.parse.quote(article_id, safe="") for article_id in ids]
        endpoints = {}
        for endpoint in ("related", "recommendations"):
            paths = [f"/api/v1/articles/{article_id}/{endpoint}" for article_id in quoted]
            endpoints[f"/{endpoint}"] = work / f"{endpoint}.txt"
            endpoints[f"/{endpoint}"].write_text("\n".join(paths) + "\n")
        script = work / "rotate.lua"
        script.write_text(ROTATE)
        floor_file = work / "floor.json"
        with gunicorn(index, work) as server:
            floor_file.write_text(
                json.dumps(
                    {k: v for e in endpoints.values() for k, v in capture(server.base, e.read_text().split()).items()}
                )
            )
        report: dict[str, Any] = {"corpus": source, "articles": len(ids), "seconds": args.seconds,
                                  "rounds": args.rounds, "connections": args.connections, "configs": {}}  # fmt: skip
        production = CONFIGS["production (gthread, access log)"]
        blocks: list[tuple[str, dict[str, Any], list[str] | None, bool]] = [
            *((name, config, None, False) for name, config in CONFIGS.items()),
            (f"production, {args.views_rate:g} views/s", production, ids, False),
            (f"production, {args.views_rate:g} views/s apart", production, ids, True),
        ]
        for name, config, views, apart in blocks:
            chosen = endpoints if views is None else {"/recommendations": endpoints["/recommendations"]}
            runs: dict[str, dict[str, list]] = {"floor": {}, "service": {}}
            for _ in range(args.rounds):
                for app, floor in (("bench.floor:make_app()", floor_file), ("service:create_app()", None)):
                    side = "floor" if floor else "service"
                    measured = measure(index, work, app, config, chosen, args, script, views, floor, apart)
                    for endpoint, result in measured.items():
                        runs[side].setdefault(endpoint, []).append(result)
            block = {}
            for endpoint in chosen:
                floor_median, service_median = median_of(runs["floor"][endpoint]), median_of(runs["service"][endpoint])
                block[endpoint] = {
                    "floor": floor_median,
                    "service": service_median,
                    "share_of_floor": round(
                        service_median["requests_per_second"] / floor_median["requests_per_second"], 3
                    ),
                    "p99_ratio": round(service_median["p99_ms"] / floor_median["p99_ms"], 2),
                    "errors": sum(r["non_2xx"] for r in runs["service"][endpoint]),
                }
                print(
                    f"{name:<36} {endpoint:<17} floor {floor_median['requests_per_second']:7.0f} req/s "
                    f"p50 {floor_median['p50_ms']:5.2f} p99 {floor_median['p99_ms']:6.2f} ms | service "
                    f"{service_median['requests_per_second']:7.0f} req/s p50 {service_median['p50_ms']:5.2f} "
                    f"p99 {service_median['p99_ms']:6.2f} ms | {block[endpoint]['share_of_floor']:.0%} of floor, "
                    f"p99 x{block[endpoint]['p99_ratio']:.2f}",
                    flush=True,
                )
            report["configs"][name] = block
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
