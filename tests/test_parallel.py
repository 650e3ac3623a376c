"""Chunked pool scoring: in-process, joblib processes and a Dask LocalCluster."""

import functools
import os
import pickle
import signal
import threading
import time

import joblib
import numpy as np
import pytest
from PIL import Image

from sklearn_aift import AIFTNet, BoxProtocol, CandidateSet, candidate_scores
from sklearn_aift import dask_backend, pool_scores
from sklearn_aift._strategy_context import strategy_context
from sklearn_aift.parallel import _score_chunk
from sklearn_aift.strategies import entropy_diversity_quarter, mean_uncertainty

distributed = pytest.importorskip(
    "distributed", reason="the Dask tests need `distributed` (make install installs it)"
)

N_POOL = 2000
N_QUERY = 50


def _parallel_scoring_requested(learner, **kwargs):
    return strategy_context(learner).scores_in_chunks(**kwargs)


# --------------------------------------------------------------------------- helpers
class _MeanNet:
    """Patch probabilities from pixel means; no network, picklable."""

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs

    def predict_patch_proba(self, X):
        q = np.asarray(X, dtype=np.float64).mean(axis=(2, 3, 4)) / 255
        q = np.clip(q, 0.01, 0.99)
        return np.stack([1 - q, q], axis=-1)


_UNPICKLED = {"count": 0}


class _CountingNet(_MeanNet):
    """Counts how often it is unpickled in the current process."""

    def __setstate__(self, state):
        _UNPICKLED["count"] += 1
        self.__dict__.update(state)


def _unpickled_count():
    return _UNPICKLED["count"]


def _pid_scores(P):
    return np.full(len(P), float(os.getpid()))


def _thread_scores(P):
    return np.full(len(P), float(threading.get_ident()))


@pytest.fixture(scope="module")
def box_pool(tmp_path_factory):
    """2,000 box candidates on 50 PNG files, 2 patches of 32 px each (lazy)."""
    folder = tmp_path_factory.mktemp("sources")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(50):
        path = folder / f"image_{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    x0 = rng.integers(0, 40, N_POOL)
    y0 = rng.integers(0, 40, N_POOL)
    side = rng.integers(8, 24, N_POOL)
    boxes = np.stack([x0, y0, x0 + side, y0 + side], axis=1)
    protocol = BoxProtocol(patch_size=32, scales=(1.0,), shift=0.0, dihedral=2)
    return CandidateSet(paths, protocol, boxes, image_index=np.arange(N_POOL) % 50)


@pytest.fixture(scope="module")
def net():
    return AIFTNet(
        "mobilenet_v3_small", weights=None, input_size=32, batch_size=64, random_state=0,
        device="cpu",
    )


@pytest.fixture(scope="module")
def reference(net, box_pool):
    """The in-process selection (the strategies' unchanged path)."""
    return entropy_diversity_quarter(net, box_pool, N_QUERY)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


# --------------------------------------------------------------------------- in-process
def test_chunked_scores_equal_one_pass(tiny_candidates):
    X, _ = tiny_candidates
    score = functools.partial(candidate_scores, alpha=0.5, lambda1=1.0, lambda2=1.0)
    expected = score(_MeanNet().predict_patch_proba(X))
    for chunk_size in (1, 5, 12, 100):
        got = pool_scores(_MeanNet(), X, score, chunk_size=chunk_size)
        assert got.dtype == np.float64
        assert np.array_equal(got, expected)
    keep = np.array([11, 0, 3, 4, 5, 9])  # unsorted, with a contiguous run
    got = pool_scores(_MeanNet(), X, score, indices=keep, chunk_size=4)
    assert np.array_equal(got, expected[keep])


def test_score_chunk_checks_shapes():
    X = np.zeros((6, 2, 1, 4, 4), dtype=np.uint8)
    assert _score_chunk(_MeanNet(), X, np.array([4, 1]), lambda P: P[:, 0, 1]).shape == (2,)
    with pytest.raises(ValueError, match=r"score returned an array of shape \(3, 2\)"):
        _score_chunk(_MeanNet(), X, slice(0, 3), lambda P: P[:, :, 0])

    class Bad:
        def predict_patch_proba(self, X):
            return np.zeros((1, 2, 2))

    with pytest.raises(ValueError, match=r"returned an array of shape \(1, 2, 2\) for 3"):
        _score_chunk(Bad(), X, slice(0, 3), lambda P: P[:, 0, 0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_jobs": 0}, r"n_jobs must be None or a non-zero integer .* got 0"),
        ({"n_jobs": 1.5}, r"n_jobs .* got 1.5"),
        ({"chunk_size": 0}, r"chunk_size must be None or a positive integer; got 0"),
        ({"chunk_size": True}, r"chunk_size .* got True"),
        ({"indices": [0, 12]}, r"indices must lie in \[0, 12\) .* \[0, 12\]"),
        ({"indices": [[0]]}, r"indices must be a 1-D array"),
    ],
)
def test_pool_scores_rejects_bad_arguments(tiny_candidates, kwargs, match):
    X, _ = tiny_candidates
    with pytest.raises(ValueError, match=match):
        pool_scores(_MeanNet(), X, _pid_scores, **kwargs)


def test_pool_scores_needs_predict_patch_proba(tiny_candidates):
    with pytest.raises(TypeError, match="predict_patch_proba"):
        pool_scores(object(), tiny_candidates[0], _pid_scores)


def test_parallel_path_only_when_asked():
    assert not _parallel_scoring_requested(_MeanNet())
    assert _parallel_scoring_requested(_MeanNet(), chunk_size=10)
    assert _parallel_scoring_requested(_MeanNet(), n_jobs=2)
    assert _parallel_scoring_requested(_MeanNet(n_jobs=2))
    with joblib.parallel_config(backend="threading", n_jobs=2):
        assert _parallel_scoring_requested(_MeanNet())


def test_n_jobs_is_read_from_the_estimator(tiny_candidates):
    X, _ = tiny_candidates

    class Learner:
        estimator = _MeanNet(n_jobs=2)

    here = float(threading.get_ident())
    with joblib.parallel_config(backend="threading"):
        threads = pool_scores(Learner(), X, _thread_scores, chunk_size=3)
        assert here not in set(threads.tolist())
        # the call's n_jobs wins over the estimator's
        threads = pool_scores(Learner(), X, _thread_scores, chunk_size=3, n_jobs=1)
        assert set(threads.tolist()) == {here}


# --------------------------------------------------------------------------- real backbone
def test_candidate_set_travels_without_pixels(box_pool):
    pixels = box_pool.shape[0] * int(np.prod(box_pool.shape[1:]))
    assert len(pickle.dumps(box_pool)) < pixels / 20


@pytest.mark.slow
def test_processes_same_selection_as_in_process(box_pool, reference):
    # an unfitted net with random_state=None draws its head on first use: the
    # parallel query comes first, so every worker must get the client's head
    X = np.asarray(box_pool)
    fresh = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, batch_size=64)
    parallel = entropy_diversity_quarter(fresh, X[:256], 20, n_jobs=2)
    serial = entropy_diversity_quarter(fresh, X[:256], 20)
    assert np.array_equal(parallel[0], serial[0])
    assert np.allclose(parallel[1], serial[1], rtol=1e-12, atol=0)

    indices, scores = entropy_diversity_quarter(
        AIFTNet("mobilenet_v3_small", weights=None, input_size=32, batch_size=64,
                random_state=0, device="cpu"),
        X, N_QUERY, n_jobs=2,
    )
    assert np.array_equal(indices, reference[0])
    assert np.allclose(scores, reference[1], rtol=1e-12, atol=0)


@pytest.mark.slow
def test_dask_same_selection_as_in_process(client, net, box_pool, reference):
    with joblib.parallel_config(backend="dask", client=client):
        indices, scores = entropy_diversity_quarter(net, box_pool, N_QUERY)
    assert np.array_equal(indices, reference[0])
    assert np.allclose(scores, reference[1], rtol=1e-12, atol=0)


@pytest.mark.slow
def test_dask_mean_uncertainty_with_exclusions(client, tiny_candidates):
    X = np.repeat(tiny_candidates[0], 10, axis=0)
    X[::7] = X[0]  # exact ties: the lower pool index must win
    exclude = np.arange(0, 120, 5)
    serial = mean_uncertainty(_MeanNet(), X, 40, exclude=exclude)
    with joblib.parallel_config(backend="dask", client=client):
        on_dask = mean_uncertainty(_MeanNet(), X, 40, exclude=exclude, chunk_size=7)
    assert np.array_equal(on_dask[0], serial[0])
    assert np.array_equal(on_dask[1], serial[1])
    assert not np.isin(on_dask[0], exclude).any()


@pytest.mark.slow
def test_dask_sends_the_estimator_once_per_worker(client, tiny_candidates):
    X, _ = tiny_candidates
    X = np.repeat(X, 20, axis=0)  # 240 candidates
    score = functools.partial(candidate_scores, alpha=1.0, lambda1=1.0, lambda2=0.0)
    before = client.run(_unpickled_count)
    with joblib.parallel_config(backend="dask", client=client):
        got = pool_scores(_CountingNet(), X, score, chunk_size=10)  # 24 tasks
    after = client.run(_unpickled_count)
    assert np.array_equal(got, score(_MeanNet().predict_patch_proba(X)))
    unpickled = {w: after[w] - before.get(w, 0) for w in after}
    assert sum(unpickled.values()) >= 1
    assert all(count <= 1 for count in unpickled.values()), unpickled


@pytest.mark.slow
def test_killed_worker_gives_the_same_selection(client, net, box_pool, reference):
    pids_before = client.run(os.getpid)
    killed = {}

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                pid = pids_before.get(busy[0])
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed["pid"] = pid
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    with joblib.parallel_config(backend="dask", client=client):
        killer.start()
        indices, scores = entropy_diversity_quarter(net, box_pool, N_QUERY, chunk_size=128)
    killer.join()
    assert "pid" in killed, "no worker was busy: the kill did not happen during the query"
    assert killed["pid"] not in client.run(os.getpid).values()
    assert np.array_equal(indices, reference[0])
    assert np.allclose(scores, reference[1], rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- dask_backend
def test_dask_backend_without_arguments_changes_nothing():
    with dask_backend() as client:
        assert client is None
        assert not _parallel_scoring_requested(_MeanNet())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scheduler": "tcp://h:8786", "n_workers": 2}, r"either scheduler .* not both"),
        ({"scheduler": ""}, r"scheduler must be the address .* got ''"),
        ({"n_workers": 0}, r"n_workers must be None or a positive integer; got 0"),
        ({"n_workers": 2, "threads_per_worker": 0}, r"threads_per_worker .* got 0"),
    ],
)
def test_dask_backend_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        with dask_backend(**kwargs):
            pass  # pragma: no cover


# --------------------------------------------------------------------------- command line
def test_cli_cluster_options_are_exclusive_and_checked(capsys):
    from sklearn_aift.cli import main

    base = ["compare", "--dataset", "synthetic"]
    assert main(base + ["--scheduler", "tcp://h:8786", "--workers", "2"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(base + ["--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_unreachable_scheduler_is_one_line(capsys, tmp_path):
    import dask

    from sklearn_aift.cli import main

    argv = ["compare", "--dataset", "synthetic", "--n-candidates", "20", "--rounds", "1",
            "--batch-size", "2", "--seeds", "1", "--out", str(tmp_path / "out"),
            "--scheduler", "tcp://127.0.0.1:9"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sklearn-aift compare: error: cannot use the Dask cluster: Timed out")
    assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_cli_compare_scores_on_the_scheduler(client, tmp_path, capsys):
    from sklearn_aift.cli import main

    argv = ["compare", "--dataset", "synthetic", "--n-candidates", "40", "--rounds", "1",
            # the paper's criterion from round 1: the default would pick its first batches at
            # random (the cold start) and score nothing
            "--batch-size", "4", "--seeds", "1", "--methods", "diversity_quarter_paper",
            "--backbone", "mobilenet_v3_small", "--weights", "none", "--input-size", "32",
            "--patch-size", "32", "--epochs", "1", "--epochs-incremental", "1", "--quiet",
            "--out", str(tmp_path / "out"), "--scheduler", client.scheduler.address]
    with distributed.get_task_stream(client=client) as stream:
        assert main(argv) == 0
    assert "Scoring the pool on a Dask cluster" in capsys.readouterr().out
    keys = [str(task["key"]) for task in stream.data]
    assert any(key.startswith("aift-score-chunk-") for key in keys), keys[:5]
