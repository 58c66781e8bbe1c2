"""The build on a Dask cluster: the same index as a local build, and clean failures when the cluster is not there."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.harness import free_port
from recommender.cli import main
from recommender.errors import ClusterFailed
from recommender.indexing.corpus import load_corpus
from recommender.indexing.distributed import DaskExecutor, Executor, ProcessExecutor, dask_executor
from recommender.indexing.index import Index, build_index
from recommender.indexing.storage import load_index
from recommender.indexing.vectorize import vectorizer_idf, vectorizer_terms
from recommender.serving.publish import current_dir
from tests.conftest import BUNDLED_CORPUS


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskExecutor]:
    """A LocalCluster of two worker processes, closed when the module's tests are done."""
    pytest.importorskip("distributed")  # the dask extra (make install installs it)
    with dask_executor("local:2", timeout=30) as executor:
        yield executor
    assert executor.client.status == "closed"


class Counted:
    """An executor that delegates and counts the chunks of each call, to see the build really cut the corpus."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.chunks: list[int] = []

    @property
    def workers(self) -> int:
        return self.inner.workers

    def map_chunks(self, function: Callable[..., Any], chunks: Sequence[Any], *shared: Any, done: Any = None) -> Any:
        self.chunks.append(len(chunks))
        return self.inner.map_chunks(function, chunks, *shared, done=done)

    def scatter(self, value: Any) -> Any:
        return self.inner.scatter(value)


def assert_same_index(local: Index, distributed: Index) -> None:
    assert np.array_equal(local.neighbour_ids, distributed.neighbour_ids)
    assert np.array_equal(local.neighbour_scores, distributed.neighbour_scores)  # exactly, not approximately
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(local.matrix, part), getattr(distributed.matrix, part))
    assert vectorizer_terms(local.vectorizer) == vectorizer_terms(distributed.vectorizer)
    for name, idf in vectorizer_idf(local.vectorizer).items():
        assert np.array_equal(idf, vectorizer_idf(distributed.vectorizer)[name])
    assert local.words == distributed.words


def test_a_build_on_a_dask_cluster_is_the_same_index_as_a_local_build(cluster: DaskExecutor) -> None:
    corpus = load_corpus(BUNDLED_CORPUS)
    local = build_index(corpus, executor=Counted(ProcessExecutor(2)), parallel_from=0)
    counted = Counted(cluster)
    distributed = build_index(corpus, executor=counted, parallel_from=0)
    assert counted.chunks == [4 * 2, 4 * 2]  # the analysis, then the row blocks: four chunks per worker of the two
    assert_same_index(local, distributed)


def test_the_cli_builds_on_a_running_scheduler(
    cluster: DaskExecutor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = cluster.client.scheduler.address
    corpus = str(BUNDLED_CORPUS)
    assert main(["build", "--corpus", corpus, "--out", str(tmp_path / "local")]) == 0
    assert main(["build", "--corpus", corpus, "--out", str(tmp_path / "dask"), "--dask-scheduler", address]) == 0
    assert "published index" in capsys.readouterr().out
    assert_same_index(load_index(tmp_path / "local"), load_index(tmp_path / "dask"))


def test_workers_that_keep_dying_fail_the_build_with_a_clear_error(cluster: DaskExecutor) -> None:
    with pytest.raises(ClusterFailed, match="Dask workers died"):
        cluster.map_chunks(os._exit, [3])  # the worker process exits at once, as when it is killed
    assert cluster.map_chunks(abs, [-1, -2]) == [1, 2]  # the nanny restarted the workers


def test_an_unreachable_scheduler_exits_2_and_leaves_the_current_index(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    assert main(["build", "--corpus", str(small_corpus), "--index-root", str(root)]) == 0
    before = current_dir(root)
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    build = ["build", "--corpus", str(small_corpus), "--index-root", str(root), "--force"]
    assert main([*build, "--dask-scheduler", address, "--dask-timeout", "2"]) == 2
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert f"error: cannot reach the Dask scheduler at {address} within 2s" in err
    assert current_dir(root) == before
    assert len(list((root / "versions").iterdir())) == 1


WITHOUT_DASK = """
import sys
sys.modules["distributed"] = None  # what an installation without the dask extra looks like to an import
from recommender.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_dask_installed_the_flag_exits_2_with_the_install_command(small_corpus: Path, tmp_path: Path) -> None:
    args = ["build", "--corpus", str(small_corpus), "--out", str(tmp_path / "index"), "--dask-scheduler", "local:2"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DASK, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'recommender[dask]'" in done.stderr
    assert not (tmp_path / "index").exists()
