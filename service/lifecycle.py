"""What an app starts (threads, store connections), stopped by one ``close()``.

``create_app`` keeps a ``Lifecycle`` in ``app.extensions["recommender"]``. Each
part registers how to stop itself as it starts; ``close()`` runs those in
reverse order, once, whoever calls it first: the app's owner (a test, an
embedding program) or the interpreter at exit, so that a worker that is stopped,
not killed, still writes the views it holds. Exit means two hooks: atexit for a
gunicorn worker (a fork), and multiprocessing's exit finalizers for granian's
(deploy/recommender-events.service), a multiprocessing child, which leaves with
os._exit after those and never runs atexit. An explicit close unregisters both,
so a closed app is not kept alive until exit.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from multiprocessing.util import Finalize

from flask import Flask

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(self) -> None:
        self._closers: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)
        self._exit_finalizer = Finalize(None, self.close, exitpriority=0)

    @property
    def closed(self) -> bool:
        return self._closed

    def on_close(self, closer: Callable[[], object]) -> None:
        """Run ``closer`` at close, before what was registered earlier (which it may depend on)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the app is closed")
            self._closers.append(closer)

    def close(self) -> None:
        """Stop every thread, write what is buffered, close every connection; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            closers, self._closers = self._closers[::-1], []
        atexit.unregister(self.close)
        self._exit_finalizer.cancel()
        for closer in closers:
            try:
                closer()
            except Exception:  # the other parts still stop and write what they hold
                log.exception("closing the app: %r failed", closer)


def lifecycle_of(app: Flask) -> Lifecycle:
    return app.extensions["recommender"]
