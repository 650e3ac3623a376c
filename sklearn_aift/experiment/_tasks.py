"""Running a study's tasks: serially, on local processes or on a Dask cluster.

A task is one (method, seed) run, or one seed's full-data fit. Tasks are
independent and every one is seeded, so they can run anywhere and in any
order: the parent process stores their records as they come back, in the
same store a serial run writes, and the table is assembled in a fixed order
at the end. Where they run is joblib's choice, as for pool scoring
(:mod:`sklearn_aift.parallel`):

* serially in this process, with one activation cache shared by every run;
* ``n_jobs=N``: ``N`` local worker processes (joblib's ``loky`` backend, or
  the backend a surrounding :func:`joblib.parallel_config` selects);
* a surrounding ``joblib.parallel_config(backend="dask")``
  (:func:`sklearn_aift.parallel.dask_backend`): one Dask task per run,
  submitted on the backend's client; the study's data and its frozen
  activations are scattered to every worker once.

A single task runs in this process, whose pool scoring then follows the
backend (chunks on the cluster) as a learner's does.

Workers count their rounds on a queue, which the parent turns into the
progress bar. Before the tasks start, the frozen pass of the study is made
once (:mod:`._frozen`) and each worker starts its runs from it.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue as queue_module
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import joblib
import torch
from joblib import Parallel, delayed

from ..net import ActivationCache
from ..parallel import dask_client
from ._frozen import FrozenActivations, study_activations
from ._simulation import _method_estimator, _Study

logger = logging.getLogger(__name__)

Task = tuple  # (kind, method or None, seed)


def _caches(estimator: Any) -> bool:
    """Whether the estimator keeps frozen activations (an ``activation_cache`` not None)."""
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return params.get("activation_cache", None) is not None


def _shares_frozen_part(kind: str, method: str | None) -> bool:
    # Learning from Scratch has random frozen blocks, different for every seed
    return kind == "full_data" or method != "scratch"


def _frozen_passes(study: _Study, tasks: list[Task],
                   directory: Path | None) -> dict[int, FrozenActivations]:
    """The frozen pass of each seed's runs (one per distinct frozen part), by seed."""
    if not tasks or not _caches(study.estimator):
        return {}
    by_fingerprint: dict[str, FrozenActivations] = {}
    out: dict[int, FrozenActivations] = {}
    for seed in dict.fromkeys(seed for kind, method, seed in tasks
                              if _shares_frozen_part(kind, method)):
        probe = _method_estimator(study.estimator, "probe", seed, None, {})
        frozen = study_activations(probe, study.X_pool, study.X_test, directory,
                                   known=by_fingerprint)
        if frozen is None:
            return {}
        if frozen.fingerprint not in by_fingerprint:
            by_fingerprint[frozen.fingerprint] = frozen
            logger.info("frozen pass over %d candidates: %.1f s%s", len(frozen.keys),
                        frozen.seconds, " (read back)" if frozen.seconds == 0 else "")
        out[seed] = frozen
    return out


def _frozen_for(frozen: dict[int, FrozenActivations], task: Task) -> FrozenActivations | None:
    kind, method, seed = task
    return frozen.get(seed) if _shares_frozen_part(kind, method) else None


def _run_task(study: _Study, task: Task, frozen: FrozenActivations | None,
              threads: int | None, report: Any) -> tuple[Task, list[dict[str, Any]]]:
    """Run one task in a worker; its records, and one ``report.put(1)`` per round."""
    if threads is not None:
        torch.set_num_threads(threads)
    cache = None
    if _caches(study.estimator):
        cache = frozen.cache() if frozen is not None else ActivationCache(max_bytes=None)
    made = []
    for record in study.records(*task, cache):
        made.append(record)
        if report is not None and record.get("round"):
            report.put(1)
    return task, made


@contextmanager
def _relay(drain: Callable[[], int], progress: Any) -> Iterator[None]:
    """Add the rounds ``drain()`` collects from the workers to ``progress`` until the end."""
    stop = threading.Event()

    def pump() -> None:
        while not stop.wait(0.2):
            try:
                progress.update(drain())
            except Exception:  # noqa: BLE001 - the channel closed: no more progress to show
                return

    thread = threading.Thread(target=pump, name="aift-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        try:
            progress.update(drain())
        except Exception:  # noqa: BLE001 - as above
            pass


def _drain_local(channel: Any) -> int:
    n = 0
    while True:
        try:
            n += channel.get_nowait()
        except queue_module.Empty:
            return n


def _drain_dask(channel: Any) -> int:
    size = channel.qsize()
    return sum(channel.get(batch=size)) if size else 0


def _execute(study: _Study, tasks: list[Task], frozen: dict[int, FrozenActivations],
             n_jobs: int | None, progress: Any, emit: Callable, finish: Callable) -> None:
    """Run ``tasks``: ``emit(record)`` for each record, ``finish(*task)`` after each task."""
    if not tasks:
        return
    client = dask_client()
    if len(tasks) > 1 and client is not None:
        _on_dask(client, study, tasks, frozen, progress, emit, finish)
    elif len(tasks) > 1 and joblib.effective_n_jobs(n_jobs) > 1:
        _on_processes(study, tasks, frozen, n_jobs, progress, emit, finish)
    else:
        _in_process(study, tasks, frozen, progress, emit, finish)


def _in_process(study: _Study, tasks: list[Task], frozen: dict[int, FrozenActivations],
                progress: Any, emit: Callable, finish: Callable) -> None:
    cache = None
    if _caches(study.estimator):
        # one cache for every run: an estimator's own instance (its clones share
        # it), else an unbounded one; either way holding the frozen passes
        own = study.estimator.get_params(deep=False)["activation_cache"]
        shared = own if isinstance(own, ActivationCache) else ActivationCache(max_bytes=None)
        for passed in {id(f): f for f in frozen.values()}.values():
            passed.cache(shared)
        cache = None if shared is own else shared
    for task in tasks:
        kind, method, seed = task
        progress.set_postfix_str("full data" if kind == "full_data" else method
                                 + f", seed {seed}")
        for record in study.records(kind, method, seed, cache):
            emit(record)
            if record.get("round"):
                progress.update(1)
        finish(*task)


def _on_processes(study: _Study, tasks: list[Task], frozen: dict[int, FrozenActivations],
                  n_jobs: int | None, progress: Any, emit: Callable, finish: Callable) -> None:
    n_workers = joblib.effective_n_jobs(n_jobs)
    # the cores are the workers': torch's threads are shared out among them
    threads = max(1, torch.get_num_threads() // n_workers)
    with multiprocessing.Manager() as manager:
        channel = manager.Queue()
        with _relay(lambda: _drain_local(channel), progress):
            finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_run_task)(study, task, _frozen_for(frozen, task), threads, channel)
                for task in tasks
            )
            for task, records in finished:
                for record in records:
                    emit(record)
                finish(*task)


def _on_dask(client: Any, study: _Study, tasks: list[Task],
             frozen: dict[int, FrozenActivations], progress: Any, emit: Callable,
             finish: Callable) -> None:
    """One Dask task per run, on the client of the active joblib Dask backend.

    Submitted on the client directly, as pool scoring does (joblib 1.6's Dask
    backend never returns when the scheduler gives up on a task, where
    ``Future.result`` raises).
    """
    from distributed import Queue, as_completed

    study_ref = client.scatter(study, broadcast=True, hash=False)
    passes = {id(f): f for f in frozen.values()}
    refs = {key: client.scatter(f, broadcast=True, hash=False) for key, f in passes.items()}
    token = uuid.uuid4().hex[:12]
    channel = Queue(f"aift-progress-{token}", client=client)
    futures = []
    for i, task in enumerate(tasks):
        passed = _frozen_for(frozen, task)
        futures.append(client.submit(
            _run_task, study_ref, task, None if passed is None else refs[id(passed)], None,
            channel, pure=False, key=f"aift-run-{token}-{i}",
        ))
    try:
        with _relay(lambda: _drain_dask(channel), progress):
            for future in as_completed(futures, loop=client.loop):
                task, records = future.result()
                for record in records:
                    emit(record)
                finish(*task)
    finally:
        client.cancel(futures + [study_ref, *refs.values()])

