"""gunicorn settings for production; `make run` uses them too (with --bind and --workers on top).

Run: gunicorn -c deploy/gunicorn.conf.py 'service:create_app()'
"""

import glob
import logging
import multiprocessing
import os
import shutil
import tempfile

# Imported once here, in the master, so that every forked worker shares these libraries' memory
# (copy-on-write) instead of importing its own copy: about 40 MB less per worker. The app itself is
# not preloaded: each worker opens its own SQLite connections and starts its own watcher thread.
import flask  # noqa: F401
import numpy  # noqa: F401
import scipy.sparse  # noqa: F401
import sklearn.feature_extraction.text  # noqa: F401
import sklearn.pipeline  # noqa: F401
import Stemmer  # noqa: F401

bind = os.environ.get("BIND", "127.0.0.1:8000")
# The index's arrays are memory-mapped, so workers share them: one per core is cheap.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# Threads keep connections alive (sync workers close every one) and let a worker answer
# while another request waits on the network; a request itself is a lookup of microseconds.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# No preload: every worker must load the index itself and start its own watcher thread,
# which notices newly published versions (threads do not survive a fork).
preload_app = False
timeout = 30
graceful_timeout = 30  # a stopping worker finishes its requests and flushes its page views
keepalive = 5
# GUNICORN_REUSE_PORT=on gives each worker a listening socket of its own (SO_REUSEPORT), and the kernel
# spreads new connections over them. On the one shared socket, the worker that happens to be awake may
# accept every keep-alive connection of a client (wrk's, nginx's upstream pool), which then stay on it
# for good: under 2,000 views/s one worker ran a full core while the other idled. Off by default, because
# the kernel also routes connections to a worker that is still loading the index (seconds at a million
# articles) and resets those waiting on a worker that dies; the README has the numbers.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT") == "on"
# One line per request on stdout (the journal), as nginx's own access log usually makes it redundant:
# GUNICORN_ACCESS_LOG=off turns it off (bench/serve.py measures what it costs).
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG") == "off" else "-"
errorlog = "-"
# gunicorn 25.1+ serves a control socket for `gunicornc` at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl), from a thread of the master that is stopped and restarted around every
# fork of a worker. Nothing here uses it, and every instance on one host (blue/green, the tests, the
# benchmarks) would take that one path over from the others: off.
control_socket_disable = True

METRICS_DIR_PREFIX = "recommender-metrics-"


def _metrics_on() -> bool:
    return os.environ.get("RECOMMENDER_METRICS", "on").strip().lower() not in ("off", "0", "false", "no")


def on_starting(server):
    """Prometheus multiprocess mode: each worker counts in its own files in PROMETHEUS_MULTIPROC_DIR and a
    scrape of /metrics sums them. The variable must be set before a worker imports prometheus_client, and the
    directory must not hold an earlier run's counts: a temporary one when unset, emptied when set."""
    if not _metrics_on():
        return
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        directory = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        server.log.info("metrics of the workers in %s", directory)


def on_exit(server):
    """Remove the directory on_starting created; one named by the operator stays."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.path.basename(directory).startswith(METRICS_DIR_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)


def child_exit(server, worker):
    """A dead worker's gauges no longer count; its counters and histograms still add to the totals."""
    if _metrics_on() and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """The loggers of `recommender` and `service` write where gunicorn's error log does, at its level.
    Otherwise nobody configures them under gunicorn and the INFO lines naming the index version each worker
    loaded, switched to or refused are never seen."""
    error_log = worker.log.error_log
    for name in ("recommender", "service"):
        logger = logging.getLogger(name)
        logger.setLevel(error_log.level)
        for handler in error_log.handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
