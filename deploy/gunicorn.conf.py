"""gunicorn settings for production; `make run` uses them too (with --bind and --workers on top).

Run: gunicorn -c deploy/gunicorn.conf.py 'service:create_app()'
"""

import multiprocessing
import os

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
# One line per request on stdout (the journal), as nginx's own access log usually makes it redundant:
# GUNICORN_ACCESS_LOG=off turns it off (bench/serve.py measures what it costs).
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG") == "off" else "-"
errorlog = "-"
