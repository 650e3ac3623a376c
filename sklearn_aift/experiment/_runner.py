"""run_comparison: every method from zero labels against an oracle, over several seeds."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..candidates import check_candidate_labels, check_candidates, find_duplicates
from ..strategies import describe_strategy
from ..utils import check_int
from ._methods import METHODS, _strategy_for
from ._results import ResultsTable, _json_safe
from ._simulation import _Study
from ._tasks import _execute, _frozen_passes
from ._store import _STORE_VERSION, _data_fingerprint, _estimator_signature, _ResultStore, _stable_repr

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------

def _check_methods(methods: Any) -> dict[str, Callable]:
    """Method names mapped to their query strategies."""
    if isinstance(methods, str):
        methods = [methods]
    if isinstance(methods, Mapping):
        for name, strategy in methods.items():
            if not isinstance(name, str) or not callable(strategy):
                raise ValueError(
                    f"methods maps names (str) to query strategies (callables); got "
                    f"{name!r}: {strategy!r}."
                )
        if not methods:
            raise ValueError("methods is empty; give at least one method.")
        return dict(methods)
    methods = list(methods)
    if not methods:
        raise ValueError("methods is empty; give at least one of " + ", ".join(METHODS) + ".")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)}.")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods lists a method twice: {methods}.")
    return {m: _strategy_for(m) for m in methods}


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = range(check_int(seeds, "seeds"))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; give a number of seeds or a list of integer seeds.")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative integers; got {s!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds lists a seed twice: {seeds}.")
    return [int(s) for s in seeds]


def _readable(X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """The candidates whose source images can be read (a CandidateSet warns naming the rest)."""
    readable = getattr(X, "readable_mask", None)
    if not callable(readable):
        return X, y
    mask = np.asarray(readable(), dtype=bool)
    if mask.all():
        return X, y
    return X[np.flatnonzero(mask)], y[mask]


def run_comparison(
    estimator: Any,
    X_pool: Any,
    y_pool: Any,
    X_test: Any,
    y_test: Any,
    *,
    methods: Sequence[str] = ("entropy_diversity_quarter", "diversity_quarter", "ift_random"),
    n_rounds: int = 10,
    batch_size: int = 10,
    seeds: int | Sequence[int] = 3,
    full_data: bool = False,
    scratch_params: Mapping[str, Any] | None = None,
    patch_proba_rounds: Sequence[int] = (1, 3),
    positive_label: Any = None,
    out_dir: str | os.PathLike | None = None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    n_jobs: int | None = None,
    verbose: int = 1,
) -> ResultsTable:
    """Simulate annotation with several methods and seeds against an oracle.

    For every seed and method, an :class:`~sklearn_aift.learner.ActiveLearner`
    starts from a clone of ``estimator`` and an empty labeled set and runs
    ``n_rounds`` rounds of Alg. 1: query ``batch_size`` candidates of the pool,
    get their labels from ``y_pool`` (the oracle), fine-tune. After every round
    the model's candidate-level AUC and accuracy on the test set are recorded
    with the labels used, the positives and negatives among the queried
    candidates and the time spent scoring, training and evaluating.

    Methods (:data:`METHODS`): the six AIFT variants of the paper (strategies
    of the same names in :mod:`sklearn_aift.strategies`); ``"ift_random"``
    (continuous fine-tuning with random queries); ``"scratch"`` (Learning from
    Scratch: the same estimator with ``weights=None``, random queries); and
    ``"mean_uncertainty"``. Within a seed every method starts from the same
    network (``random_state=seed`` for the estimator and the strategy), so
    differences come from the queries.

    **One frozen pass per study.** When the estimator keeps frozen-prefix
    activations (an ``activation_cache`` parameter that is not None, and
    frozen blocks), the activations of the pool and the test set are computed
    once, before any run, and every method and seed starts from them, in
    this process or in a worker. With ``out_dir`` they are kept in
    ``out_dir/activations/`` (one file per frozen part, named by its
    fingerprint) and read back when the study is run again, with more methods
    or seeds. Learning from Scratch is the exception: its frozen blocks are
    random and differ per seed, so each of its runs makes its own pass. Pass
    ``activation_cache=None`` in the estimator to switch caching off.

    **Parallel runs.** The (method, seed) runs are independent and seeded:
    with ``n_jobs`` they run on that many local processes (joblib), and under
    ``joblib.parallel_config(backend="dask")`` (see
    :func:`sklearn_aift.parallel.dask_backend`) one Dask task per run on the
    cluster. The results are those of a serial run; rows are stored when their
    run finishes, and the progress bar counts the rounds done by all workers.

    **Resuming.** With ``out_dir``, every row is appended to a store in
    ``out_dir/store/`` (one JSON-lines file per configuration, named by a hash
    of the estimator's parameters, the data, ``batch_size``, ``scratch_params``,
    ``patch_proba_rounds`` and ``positive_label``) as soon as it is made. Run
    again with the same arguments, finished (method, seed) runs are read back
    and an interrupted one is recomputed from its start, which gives the same
    rows as an uninterrupted run (every fit and query is seeded). Adding
    methods or seeds reuses the stored ones. At the end the table is written
    to ``out_dir/results.csv`` and ``out_dir/results.json``.

    Candidates whose source image files cannot be read (truncated, corrupt)
    are left out of the pool and the test set with a warning naming the
    files. Candidates with identical content count once (the learner never
    queries a copy; a round that gets fewer new labels than ``batch_size`` is
    logged); identical candidates with different labels in ``y_pool`` are
    refused, listing them.

    Parameters
    ----------
    estimator : estimator object
        A classifier over candidates with ``predict_patch_proba``, ``fit``,
        ``predict_proba``, ``get_params``/``set_params`` and ``random_state``,
        usually :class:`~sklearn_aift.net.AIFTNet` (with ``warm_start=True`` for
        continuous fine-tuning). It is cloned, never fitted itself.
    X_pool : candidate array or CandidateSet
        The unlabeled training pool the methods query from.
    y_pool : array-like of shape (n_pool,)
        The oracle's labels of the pool.
    X_test : candidate array or CandidateSet
        Held-out candidates the AUC is measured on (never queried).
    y_test : array-like of shape (n_test,)
        Their labels.
    methods : sequence of str or dict, default=("entropy_diversity_quarter", "diversity_quarter", "ift_random")
        Methods to run, from :data:`METHODS`; or a dict mapping names of
        one's own to query strategies (a ``"scratch"`` name still gets
        ``scratch_params``).
    n_rounds : int, default=10
        Rounds per method and seed (the label budget is
        ``n_rounds * batch_size``).
    batch_size : int, default=10
        Candidates queried per round (``b``).
    seeds : int or sequence of int, default=3
        The seeds, or their number (``range(seeds)``).
    full_data : bool, default=False
        Also fine-tune once per seed on the whole labeled pool and record the
        test AUC in the ``full_data_auc`` column (a reference for
        :func:`annotation_saving`'s ``full_data_fraction``).
    scratch_params : dict, default=None
        ``set_params`` overrides of the ``"scratch"`` estimator; None means
        ``{"weights": None}`` (the same architecture and settings, random
        initial weights; a frozen prefix stays frozen at its random values).
    patch_proba_rounds : sequence of int, default=(1, 3)
        Rounds for which the patch predictions of the queried candidates (the
        ones the strategy ranked) are kept in the ``patch_proba`` column, for
        :func:`~sklearn_aift.plotting.plot_selected_candidates`.
    positive_label : label, default=None
        The positive class for the AUC; None takes the greatest label.
    out_dir : str or path-like, default=None
        Folder for the store and the results; None keeps everything in memory
        (nothing is resumable).
    callback : callable, default=None
        ``callback(row)`` after each round's row is stored.
    n_jobs : int or None, default=None
        Local processes running the (method, seed) runs through joblib; None
        means 1 unless a surrounding :func:`joblib.parallel_config` says
        otherwise; -1 uses every core. Under a Dask backend the runs go to the
        cluster whatever ``n_jobs`` says. Each process runs torch with its
        share of this process's threads.
    verbose : int, default=1
        0 is silent; 1 shows a tqdm progress bar over methods x seeds x rounds.

    Returns
    -------
    results : ResultsTable
        One row per method, seed and round (see :class:`ResultsTable`).

    Raises
    ------
    ValueError
        For an unknown method, a bad number, labels that do not match the
        candidates, a single-class pool, a budget larger than the pool's
        distinct candidates, or identical pool candidates with different
        labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift import AIFTNet
    >>> from sklearn_aift.experiment import run_comparison
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(40) % 2
    >>> X = rng.integers(0, 120, size=(40, 3, 3, 32, 32)).astype(np.uint8)
    >>> X[y == 1] += 100
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
    ...               max_epochs_incremental=1, batch_size=32, freeze=8)
    >>> results = run_comparison(net, X[:30], y[:30], X[30:], y[30:], methods=["entropy",
    ...                          "ift_random"], n_rounds=2, batch_size=4, seeds=1, verbose=0)
    >>> len(results), results["n_labels"].tolist()  # round 0 is M0, before any label
    (6, [0, 4, 8, 0, 4, 8])
    """
    strategies_of = _check_methods(methods)
    methods = list(strategies_of)
    seeds = _check_seeds(seeds)
    n_rounds = check_int(n_rounds, "n_rounds")
    batch_size = check_int(batch_size, "batch_size")
    X_pool = check_candidates(X_pool, name="X_pool")
    X_test = check_candidates(X_test, name="X_test")
    y_pool = check_candidate_labels(y_pool, len(X_pool), name="y_pool")
    y_test = check_candidate_labels(y_test, len(X_test), name="y_test")
    X_pool, y_pool = _readable(X_pool, y_pool)  # unreadable files: skipped, with a warning
    X_test, y_test = _readable(X_test, y_test)
    classes = np.unique(y_pool)
    if len(classes) < 2:
        raise ValueError(f"y_pool holds a single class ({classes[0]!r}); two are needed.")
    unseen = np.setdiff1d(np.unique(y_test), classes)
    if unseen.size:
        raise ValueError(f"y_test holds labels absent from y_pool: {unseen.tolist()}.")
    if positive_label is None:
        positive = classes[-1]
    elif positive_label in classes.tolist():
        positive = classes[classes.tolist().index(positive_label)]
    else:
        raise ValueError(
            f"positive_label={positive_label!r} is not a pool label; labels: {classes.tolist()}."
        )
    duplicates = find_duplicates(X_pool, y_pool)
    duplicates.keep(on_conflict="raise")  # conflicting oracle labels: refused, listed
    # (the learner warns once that identical candidates are queried once)
    budget = n_rounds * batch_size
    n_distinct = len(X_pool) - duplicates.n_duplicates
    if budget > n_distinct:
        raise ValueError(
            f"the budget n_rounds * batch_size = {n_rounds} * {batch_size} = {budget} exceeds "
            f"the pool of {n_distinct} candidates"
            + (f" ({len(X_pool)} with {duplicates.n_duplicates} identical ones)."
               if duplicates else ".")
        )
    scratch_params = {"weights": None} if scratch_params is None else dict(scratch_params)
    rounds_kept = {int(r) for r in patch_proba_rounds}
    if n_jobs is not None and (isinstance(n_jobs, bool)
                               or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero integer; got {n_jobs!r}.")

    store = None
    records: list[dict[str, Any]] = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        # the methods are not part of the key: one store holds every method run on this
        # configuration, so that adding a method to a comparison reuses the others' runs
        config = {
            "store_version": _STORE_VERSION,
            "estimator": _estimator_signature(estimator),
            "pool": _data_fingerprint(X_pool, y_pool),
            "test": _data_fingerprint(X_test, y_test),
            "batch_size": batch_size,
            "scratch_params": _stable_repr(scratch_params),
            "patch_proba_rounds": sorted(rounds_kept),
            "positive_label": _stable_repr(_json_safe(positive)),
        }
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        store = _ResultStore(out_dir / "store" / f"{key}.jsonl", key, config)
        records = store.load_for({m: describe_strategy(f) for m, f in strategies_of.items()})

    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    done: set[tuple[str, int]] = set()
    full: dict[int, dict[str, Any]] = {}
    for rec in records:
        kind = rec.get("type")
        if kind == "round":
            rows.setdefault((rec["method"], rec["seed"]), []).append(rec)
        elif kind == "done" and rec.get("n_rounds", 0) >= n_rounds:
            done.add((rec["method"], rec["seed"]))
        elif kind == "full_data":
            full[rec["seed"]] = rec
    # (method, seed) runs without a "done" mark at this length start again from round 1
    stale = [pair for pair in rows if pair not in done and pair[0] in methods and pair[1] in seeds]
    if stale and store is not None:
        logger.info("recomputing interrupted runs %s", stale)
        for pair in stale:
            del rows[pair]
        store.rewrite(
            r for r in records
            if not (r.get("type") == "round" and (r["method"], r["seed"]) in stale)
        )

    # what is left to compute, in the order of a serial run
    tasks: list[tuple[str, str | None, int]] = []
    for seed in seeds:
        if full_data and seed not in full:
            tasks.append(("full_data", None, seed))
        tasks += [("run", method, seed) for method in methods if (method, seed) not in done]
    study = _Study(estimator, X_pool, y_pool, X_test, y_test, classes, positive, n_rounds,
                   batch_size, rounds_kept, scratch_params, strategies_of)
    frozen = _frozen_passes(study, tasks, None if out_dir is None else out_dir / "activations")

    def emit(record: dict[str, Any]) -> None:
        if store is not None:
            store.append(record)
        if record["type"] == "full_data":
            full[record["seed"]] = record
            return
        rows.setdefault((record["method"], record["seed"]), []).append(record)
        logger.info("%s seed %d round %d: %d labels, AUC %.4f", record["method"],
                    record["seed"], record["round"], record["n_labels"], record["auc"])
        if callback is not None:
            callback({k: v for k, v in record.items() if k != "type"})

    def finish(kind: str, method: str | None, seed: int) -> None:
        if kind == "run":
            done.add((method, seed))
            if store is not None:
                store.append({"type": "done", "method": method, "seed": seed,
                              "n_rounds": n_rounds})

    n_done = sum(1 for m in methods for s in seeds if (m, s) in done)
    progress = tqdm(
        total=len(methods) * len(seeds) * n_rounds,
        initial=n_done * n_rounds,
        disable=not verbose,
        desc="rounds",
        unit="round",
    )
    try:
        _execute(study, tasks, frozen, n_jobs, progress, emit, finish)
    finally:
        progress.close()

    table_rows = []
    for method in methods:
        for seed in seeds:
            for rec in rows.get((method, seed), []):
                if rec["round"] > n_rounds:
                    continue
                row = {k: v for k, v in rec.items() if k != "type"}
                row["full_data_auc"] = full[seed]["auc"] if seed in full else float("nan")
                table_rows.append(row)
    results = ResultsTable(table_rows)
    if out_dir is not None:
        results.to_csv(out_dir / "results.csv")
        results.to_json(out_dir / "results.json")
    return results

