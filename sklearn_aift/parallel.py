"""Pool scoring in chunks through joblib, on local processes or a Dask cluster.

Each round of AIFT scores the whole unlabeled pool: ``m`` patches per
candidate through the network, then Eqs. 1-4. :func:`pool_scores` splits the
pool into chunks of candidates and runs one task per chunk through
:class:`joblib.Parallel`; a task predicts its chunk's patch probabilities and
reduces them to one score per candidate, so only ``8`` bytes per candidate
come back, never the ``n x m x K`` probabilities. The strategies of
:mod:`sklearn_aift.strategies` then rank the scores with ties broken by pool
index, so the selection does not depend on how the pool was split or where the
chunks ran.

Where the tasks run is joblib's choice, set by the caller:

* nothing configured and ``n_jobs`` None or 1: in-process, unchanged (the
  strategies do not even go through this module: their strategy context
  says whether to, see ``StrategyContext.scores_in_chunks``);
* ``n_jobs=N``: ``N`` local worker processes (joblib's ``loky`` backend), or
  whatever backend a surrounding :func:`joblib.parallel_config` selects;
* ``joblib.parallel_config(backend="dask")`` with a :class:`distributed.Client`
  (see :func:`dask_backend`): the tasks run on the Dask cluster, which
  reschedules the tasks of a worker that dies. They are submitted on the
  backend's client directly (``client.map``/``client.gather``) rather than
  through :class:`joblib.Parallel`, whose Dask backend (joblib 1.6) never
  returns when the scheduler gives up on a task; ``gather`` raises instead
  (``distributed.KilledWorker``).

``n_jobs`` is the ``n_jobs=`` keyword of the strategy call (``learner.query(X,
n, n_jobs=4)`` passes it on), else the ``n_jobs`` attribute of the estimator
(an ``AIFTNet(..., n_jobs=4)``), else None. Under the Dask backend joblib uses
every worker thread of the cluster whatever ``n_jobs`` says.

What travels to the workers, per round:

* the estimator, once per worker: under Dask it is scattered
  (``client.scatter(..., broadcast=True)``), not sent with each task; other
  process backends pickle it with each task. Pickling an
  :class:`~sklearn_aift.net.AIFTNet` drops the entries of its activation
  cache, so a worker recomputes them.
* a :class:`~sklearn_aift.candidates.CandidateSet` pool travels as its
  description (source paths or images, regions, protocol, seed), scattered
  once under Dask; the workers read the images and make the patches
  themselves. A pool of file paths therefore moves a few bytes per candidate;
  a pool built on an in-memory image stack carries the stack.
* an in-memory candidate array travels chunk by chunk, each chunk inside the
  task that scores it (so a rescheduled task still has it).
* each task carries the positions of its chunk's candidates and sends back
  their scores (float64).

The Dask modules are imported only by :func:`dask_backend` (install them with
``pip install "sklearn-aift[dask]"``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import uuid
from typing import Any, Callable, Iterator

import joblib
import numpy as np
from joblib import Parallel, delayed

from ._strategy_context import (
    check_chunk_size,
    check_patch_proba_shape,
    dask_backend_active,
    strategy_context,
)

__all__ = ["dask_backend", "dask_client", "pool_scores"]

logger = logging.getLogger(__name__)

#: Largest default chunk, in candidates: bounds a task's memory (its patch
#: probabilities) and the work lost when a worker dies.
MAX_DEFAULT_CHUNK = 4096

#: Default number of chunks per worker, for load balancing.
CHUNKS_PER_WORKER = 4


# --------------------------------------------------------------------------- #
# argument checks
# --------------------------------------------------------------------------- #
def _check_indices(indices: Any, n_pool: int) -> np.ndarray:
    if indices is None:
        return np.arange(n_pool, dtype=np.intp)
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError(
            f"indices must be a 1-D array of integer pool positions; got an array of shape "
            f"{idx.shape} and dtype {idx.dtype}."
        )
    if idx.size and (idx.min() < 0 or idx.max() >= n_pool):
        raise ValueError(
            f"indices must lie in [0, {n_pool}) (the pool has {n_pool} candidates); got values "
            f"in [{idx.min()}, {idx.max()}]."
        )
    return idx.astype(np.intp, copy=False)


def dask_client() -> Any:
    """The client of the active joblib Dask backend, or None under any other backend.

    Pool scoring and the experiment runner submit their tasks on this client
    directly (see the module documentation).

    Returns
    -------
    client : distributed.Client or None
        The client given to ``joblib.parallel_config(backend="dask")``
        around the call, else None.

    Examples
    --------
    >>> from sklearn_aift.parallel import dask_client
    >>> print(dask_client())  # no Dask backend configured
    None
    """
    if not dask_backend_active():
        return None
    backend, _ = joblib.parallel.get_active_backend()
    return getattr(backend, "client", None)


# --------------------------------------------------------------------------- #
# chunks and tasks
# --------------------------------------------------------------------------- #
def _inference_batch(estimator: Any, n_patches: int) -> int:
    """Candidates per inference batch of an estimator with a ``batch_size`` in patches."""
    batch_size = getattr(estimator, "batch_size", None)
    if isinstance(batch_size, numbers.Integral) and batch_size > 0:
        return max(1, int(batch_size) // max(1, n_patches))
    return 1


def _default_chunk_size(n: int, n_workers: int, per_batch: int) -> int:
    """About ``CHUNKS_PER_WORKER`` chunks per worker, whole inference batches each.

    Chunks made of whole inference batches keep the batches the network sees
    identical to in-process scoring, so the scores are the same numbers.
    """
    size = math.ceil(n / max(1, CHUNKS_PER_WORKER * n_workers))
    size = max(per_batch, min(size, MAX_DEFAULT_CHUNK))
    return per_batch * math.ceil(size / per_batch)


def _chunk_positions(indices: np.ndarray, chunk_size: int) -> Iterator[Any]:
    """Consecutive chunks of ``indices``; a contiguous run travels as a slice."""
    for start in range(0, len(indices), chunk_size):
        chunk = indices[start : start + chunk_size]
        first, last = int(chunk[0]), int(chunk[-1])
        if last - first + 1 == len(chunk) and np.array_equal(
            chunk, np.arange(first, last + 1)
        ):
            yield slice(first, last + 1)
        else:
            yield chunk


def _take(X_pool: Any, positions: Any) -> Any:
    if isinstance(X_pool, (list, tuple)):
        if isinstance(positions, slice):
            return list(X_pool[positions])
        return [X_pool[i] for i in positions]
    return X_pool[positions]


def _n_candidates(positions: Any) -> int:
    if isinstance(positions, slice):
        return positions.stop - positions.start
    return len(positions)


def _score_chunk(estimator: Any, X_pool: Any, positions: Any, score: Callable) -> np.ndarray:
    """Scores of one chunk of a pool: what one task computes.

    Parameters
    ----------
    estimator : object
        Has ``predict_patch_proba(X) -> (n, m, K)``.
    X_pool : candidate array, list or CandidateSet
        The pool, or just the chunk (then ``positions`` is ``slice(0, len)``).
    positions : slice or ndarray of int
        The chunk's candidates in ``X_pool``.
    score : callable
        Maps the chunk's patch probabilities ``(n, m, K)`` to ``n`` scores.

    Returns
    -------
    scores : ndarray of shape (n,), float64

    Raises
    ------
    ValueError
        If the estimator's probabilities or the scores have the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.parallel import _score_chunk
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         return np.full((len(X), 2, 2), 0.5)
    >>> _score_chunk(Net(), np.zeros((5, 2, 3, 8, 8)), slice(1, 4), lambda P: P.sum(axis=(1, 2)))
    array([2., 2., 2.])
    """
    chunk = _take(X_pool, positions)
    n = _n_candidates(positions)
    P = check_patch_proba_shape(estimator.predict_patch_proba(chunk), n, estimator)
    scores = np.asarray(score(P), dtype=np.float64)
    if scores.shape != (n,):
        raise ValueError(
            f"score returned an array of shape {scores.shape} for {n} candidates; expected "
            f"({n},)."
        )
    return scores


def _travels_by_chunk(X_pool: Any) -> bool:
    """In-memory candidates travel chunk by chunk; a CandidateSet as a whole."""
    return isinstance(X_pool, (np.ndarray, list, tuple))


def _task_data(X_pool: Any, positions: Any) -> tuple[Any, Any]:
    """What one task receives of the pool: ``(pool or chunk, positions in it)``."""
    if _travels_by_chunk(X_pool):
        return _take(X_pool, positions), slice(0, _n_candidates(positions))
    return X_pool, positions


def _score_on_dask(client: Any, estimator: Any, X_pool: Any, chunks: list, score: Callable):
    """One Dask task per chunk, on the client of the active joblib Dask backend.

    The tasks are submitted on that client directly rather than through
    ``joblib.Parallel``: joblib 1.6's Dask backend never returns when a task
    fails on the scheduler's side (a ``KilledWorker`` after too many worker
    deaths), where ``client.gather`` raises. The estimator (and a
    CandidateSet's description) are scattered to every worker once, so they
    survive the loss of a worker; chunks of in-memory arrays travel inside
    their tasks.
    """
    by_chunk = _travels_by_chunk(X_pool)
    shared = [estimator] if by_chunk else [estimator, X_pool]
    shared_refs = client.scatter(shared, broadcast=True, hash=False)
    if by_chunk:
        # inside the tasks (through the scheduler), not scattered: data scattered
        # to a single worker is lost with it, a task's own data is not
        data = [_task_data(X_pool, positions) for positions in chunks]
        pool_args = [part for part, _ in data]
        positions_list = [where for _, where in data]
    else:
        pool_args = [shared_refs[1]] * len(chunks)
        positions_list = chunks
    token = uuid.uuid4().hex[:12]
    futures = client.map(
        _score_chunk,
        [shared_refs[0]] * len(chunks),
        pool_args,
        positions_list,
        [score] * len(chunks),
        key=[f"aift-score-chunk-{token}-{i}" for i in range(len(chunks))],
    )
    try:
        return client.gather(futures)
    finally:
        client.cancel(futures + list(shared_refs))


def _prepare_for_copy(estimator: Any, X_pool: Any, first: int) -> None:
    """Run the estimator once in-process before it is copied to workers.

    An estimator that builds its model on first use (an unfitted ``AIFTNet``
    draws its fresh last layer then, from ``random_state``, which may be None)
    would otherwise build a different model in every worker.
    """
    estimator.predict_patch_proba(_take(X_pool, slice(first, first + 1)))


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def pool_scores(
    learner: Any,
    X_pool: Any,
    score: Callable[[np.ndarray], np.ndarray],
    *,
    indices: Any = None,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Score a pool chunk by chunk through joblib; only the scores come back.

    Each chunk is one joblib task: ``estimator.predict_patch_proba(chunk)``
    then ``score`` on the result. Under
    ``joblib.parallel_config(backend="dask")`` the estimator, and a
    :class:`~sklearn_aift.candidates.CandidateSet` pool's description, are
    scattered to every worker once per call rather than sent with each task.

    Parameters
    ----------
    learner : object
        An estimator with ``predict_patch_proba``, or a learner whose
        ``estimator`` has it (that estimator is what the workers receive).
    X_pool : candidate array, list of candidates or CandidateSet
        The pool.
    score : callable
        Maps patch probabilities ``(n, m, K)`` to ``n`` float scores, e.g.
        ``functools.partial(sklearn_aift.candidate_scores, alpha=0.25)``.
        Must be picklable (a module-level function or a partial of one) for
        process and Dask backends.
    indices : array-like of int, default=None
        Pool positions to score (all when None), in the order of the result.
    n_jobs : int or None, default=None
        Number of joblib jobs; None reads ``learner.estimator.n_jobs`` or
        ``learner.n_jobs`` and otherwise follows :func:`joblib.parallel_config`
        (1 outside any). Ignored by the Dask backend, which uses every worker.
    chunk_size : int or None, default=None
        Candidates per task. None: about four chunks per job, at most
        4,096 (``MAX_DEFAULT_CHUNK``), rounded up to whole inference batches of
        the estimator (``batch_size // m`` candidates) so that the network
        sees the same batches as in-process scoring.

    Returns
    -------
    scores : ndarray of shape (len(indices),), float64
        The score of each candidate of ``indices``.

    Raises
    ------
    TypeError
        If ``learner`` has no ``predict_patch_proba``.
    ValueError
        If ``n_jobs``, ``chunk_size`` or ``indices`` is invalid, the pool is
        empty, or the estimator or ``score`` return arrays of the wrong shape.

    See Also
    --------
    dask_backend : Run the tasks on a Dask cluster.

    Examples
    --------
    >>> import functools
    >>> import numpy as np
    >>> from sklearn_aift import candidate_scores
    >>> from sklearn_aift.parallel import pool_scores
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         q = np.asarray(X, dtype=float).mean(axis=(2, 3, 4)) / 255
    ...         return np.stack([1 - q, q], axis=-1)
    >>> X = np.random.default_rng(0).integers(0, 256, (10, 4, 1, 8, 8), dtype=np.uint8)
    >>> score = functools.partial(candidate_scores, alpha=1.0, lambda1=1.0, lambda2=0.0)
    >>> chunked = pool_scores(Net(), X, score, chunk_size=3)
    >>> bool(np.array_equal(chunked, score(Net().predict_patch_proba(X))))
    True
    """
    context = strategy_context(learner)
    estimator = context.require_model(for_workers=True)
    n_jobs = context.resolved_n_jobs(n_jobs)
    chunk_size = check_chunk_size(chunk_size)
    try:
        n_pool = len(X_pool)
    except TypeError:
        raise TypeError(
            f"X_pool must be a candidate array, list or CandidateSet (with len()); got "
            f"{type(X_pool).__name__}."
        ) from None
    if n_pool == 0:
        raise ValueError("X_pool is empty: there is no candidate to score.")
    indices = _check_indices(indices, n_pool)
    if len(indices) == 0:
        return np.empty(0, dtype=np.float64)

    client = dask_client()
    n_workers = joblib.effective_n_jobs(n_jobs)
    shape = getattr(X_pool, "shape", None)
    n_patches = int(shape[1]) if shape is not None and len(shape) == 5 else 1
    if chunk_size is None:
        per_batch = _inference_batch(estimator, n_patches)
        chunk_size = _default_chunk_size(len(indices), n_workers, per_batch)
    chunks = list(_chunk_positions(indices, chunk_size))

    in_process = client is None and n_workers == 1
    logger.info(
        "scoring %d candidates in %d chunks of up to %d on %s",
        len(indices), len(chunks), chunk_size,
        "a Dask cluster" if client is not None else f"{n_workers} joblib job(s)",
    )
    if in_process:
        parts = [_score_chunk(estimator, X_pool, positions, score) for positions in chunks]
    else:
        _prepare_for_copy(estimator, X_pool, int(indices[0]))
        if client is not None:
            parts = _score_on_dask(client, estimator, X_pool, chunks, score)
        else:
            # chunks are already coarse: one task each, no joblib auto-batching
            parts = Parallel(n_jobs=n_jobs, batch_size=1)(
                delayed(_score_chunk)(estimator, *_task_data(X_pool, positions), score)
                for positions in chunks
            )
    return np.concatenate(parts).astype(np.float64, copy=False)


def _check_scheduler(scheduler: Any) -> str | None:
    if scheduler is None:
        return None
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            f"scheduler must be the address of a Dask scheduler such as "
            f"'tcp://10.0.0.5:8786'; got {scheduler!r}."
        )
    return scheduler.strip()


def _check_n_workers(n_workers: Any, name: str = "n_workers") -> int | None:
    if n_workers is None:
        return None
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"{name} must be None or a positive integer; got {n_workers!r}.")
    return int(n_workers)


@contextlib.contextmanager
def dask_backend(
    scheduler: str | None = None,
    n_workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    dashboard_address: str | None = ":8787",
) -> Iterator[Any]:
    """Run the pool scoring inside the block on a Dask cluster.

    Connects a :class:`distributed.Client` to an existing scheduler, or starts
    a :class:`distributed.LocalCluster` of ``n_workers`` worker processes on
    this machine, and makes it joblib's backend
    (``joblib.parallel_config(backend="dask")``) inside the block. The client
    (and a cluster it started) is closed on exit. With neither argument
    nothing changes: the block runs in-process and ``None`` is yielded.

    Parameters
    ----------
    scheduler : str or None, default=None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    n_workers : int or None, default=None
        Start a LocalCluster with this many worker processes instead.
    threads_per_worker : int, default=1
        Threads of each LocalCluster worker (torch inference is already
        multi-threaded; one thread per worker process avoids oversubscription).
    dashboard_address : str or None, default=":8787"
        Where a LocalCluster serves its dashboard (needs ``bokeh``); None for
        none.

    Yields
    ------
    client : distributed.Client or None
        The connected client; None when neither argument is given.

    Raises
    ------
    ValueError
        If both ``scheduler`` and ``n_workers`` are given, or one is invalid.
    ImportError
        If ``distributed`` is not installed.

    Examples
    --------
    >>> from sklearn_aift.parallel import dask_backend
    >>> with dask_backend() as client:  # no cluster asked for: in-process
    ...     print(client)
    None

    On a cluster (not run here)::

        with dask_backend(n_workers=2) as client:  # or scheduler="tcp://host:8786"
            indices, X_query = learner.query(X_pool, n_instances=10)
    """
    scheduler = _check_scheduler(scheduler)
    n_workers = _check_n_workers(n_workers)
    threads_per_worker = _check_n_workers(threads_per_worker, "threads_per_worker")
    if scheduler is not None and n_workers is not None:
        raise ValueError(
            f"give either scheduler (an existing cluster) or n_workers (a local cluster), not "
            f"both; got scheduler={scheduler!r} and n_workers={n_workers!r}."
        )
    if scheduler is None and n_workers is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError(
            "running on a Dask cluster needs the `distributed` package: "
            "pip install 'sklearn-aift[dask]'"
        ) from exc
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(Client(scheduler, set_as_default=False))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    processes=True,
                    dashboard_address=dashboard_address,
                )
            )
            client = stack.enter_context(Client(cluster, set_as_default=False))
        logger.info("Dask client %s (dashboard: %s)", client, client.dashboard_link)
        with joblib.parallel_config(backend="dask", client=client):
            yield client
