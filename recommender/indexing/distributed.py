"""Where the build's chunked work runs: threads, worker processes on this machine, or a Dask cluster.

The build hands its chunks to an ``Executor`` instead of calling joblib or dask
itself, so a local and a distributed build run the same functions on the same
chunks and write the same index. dask is an optional extra: it is imported only
when a cluster is asked for, and a build without it works as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from recommender.errors import ClusterFailed, ClusterUnavailable

R = TypeVar("R")
Done = Callable[[int], None]

INSTALL_DASK = "pip install 'recommender[dask]' (in a checkout: pip install -e '.[dask]')"
DEFAULT_TIMEOUT_SECONDS = 10.0
# A task that raises is retried this often (a flaky worker); one whose worker dies is rerun by the scheduler,
# until it has killed distributed.scheduler.allowed-failures workers (default 3).
RETRIES = 2
_LOCAL = re.compile(r"local:(\d+)")


class Executor(Protocol):
    """Runs ``function(chunk, *shared)`` for every chunk; ``scatter`` ships a large shared value once."""

    @property
    def workers(self) -> int: ...

    def map_chunks(
        self, function: Callable[..., R], chunks: Sequence[Any], *shared: Any, done: Done | None = None
    ) -> list[R]: ...

    def scatter(self, value: Any) -> Any: ...


class ThreadExecutor:
    """Chunks on a thread pool: for code that releases the GIL (the numba kernels)."""

    def __init__(self, pool: ThreadPoolExecutor, workers: int) -> None:
        self.pool = pool
        self._workers = workers

    @property
    def workers(self) -> int:
        return self._workers

    def map_chunks(
        self, function: Callable[..., R], chunks: Sequence[Any], *shared: Any, done: Done | None = None
    ) -> list[R]:
        jobs = {self.pool.submit(function, chunk, *shared): number for number, chunk in enumerate(chunks)}
        return _in_order(((jobs[job], job.result()) for job in as_completed(jobs)), len(chunks), done)

    def scatter(self, value: Any) -> Any:
        return value  # threads share memory


class ProcessExecutor:
    """Chunks in joblib worker processes: for pure Python that holds the GIL (text analysis)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    @property
    def workers(self) -> int:
        return self.jobs

    def map_chunks(
        self, function: Callable[..., R], chunks: Sequence[Any], *shared: Any, done: Done | None = None
    ) -> list[R]:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=self.jobs, return_as="generator")(delayed(function)(c, *shared) for c in chunks)
        return _in_order(enumerate(results), len(chunks), done)

    def scatter(self, value: Any) -> Any:
        return value  # joblib pickles arguments per task; large arrays are memory-mapped by it


class DaskExecutor:
    """Chunks as tasks on a dask.distributed cluster; shared values scattered to every worker once."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        return max(1, int(sum(self.client.nthreads().values())))

    def map_chunks(
        self, function: Callable[..., R], chunks: Sequence[Any], *shared: Any, done: Done | None = None
    ) -> list[R]:
        import dask
        from distributed import KilledWorker
        from distributed import as_completed as completed

        try:
            # The chunks travel inside the tasks, not scattered: the scheduler can then rerun a task whose
            # worker died, where a scattered chunk would have died with it. So dask's warning is moot.
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GiB"}):
                futures = [self.client.submit(function, c, *shared, retries=RETRIES, pure=False) for c in chunks]
            number = {future.key: position for position, future in enumerate(futures)}
            return _in_order(((number[f.key], f.result()) for f in completed(futures)), len(chunks), done)
        except KilledWorker as error:
            raise ClusterFailed(
                f"Dask workers died running a build task, on every retry (killed? out of memory?): {error}"
            ) from error
        except (CancelledError, OSError, TimeoutError) as error:
            raise ClusterFailed(
                f"the Dask cluster failed during the build ({type(error).__name__}: {error})"
            ) from error

    def scatter(self, value: Any) -> Any:
        try:
            return self.client.scatter(value, broadcast=True)
        except (OSError, TimeoutError) as error:
            raise ClusterFailed(f"could not send the build's data to the Dask workers: {error}") from error


def _in_order(finished: Iterator[tuple[int, R]], count: int, done: Done | None) -> list[R]:
    """Results by chunk number, from (number, result) pairs in the order they finished."""
    results: list[R | None] = [None] * count
    for number, result in finished:
        results[number] = result
        if done is not None:
            done(number)
    return results  # type: ignore[return-value]  # every slot was filled above


@contextmanager
def dask_executor(address: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Iterator[DaskExecutor]:
    """A client of the scheduler at ``address``, or of a LocalCluster of N processes for ``local:N``.

    Raises ClusterUnavailable when dask is not installed or the scheduler cannot be
    reached within ``timeout`` seconds; closes what it started on the way out.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise ClusterUnavailable(
            f"--dask-scheduler needs dask.distributed, which is not installed: {INSTALL_DASK}"
        ) from error
    local = _LOCAL.fullmatch(address)
    cluster = None
    try:
        if local is not None:
            workers = int(local.group(1))
            if workers < 1:
                raise ClusterUnavailable(f"{address}: a local cluster needs at least one worker")
            # The scheduler's HTTP server on a free port: two builds on one machine never collide on 8787.
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
            )
            client = Client(cluster, timeout=f"{timeout}s")
        else:
            client = Client(address, timeout=f"{timeout}s")
    # ValueError: not an address; RuntimeError: a local worker failed to start.
    except (OSError, TimeoutError, RuntimeError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} within {timeout:g}s ({error}); nothing was built"
        ) from error
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
