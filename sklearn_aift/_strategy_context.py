"""A query strategy's inputs: what it may use of its learner, and which pool positions it ranks.

A strategy receives this package's :class:`~sklearn_aift.ActiveLearner`,
modAL's ``ActiveLearner`` (which has no ``predict_patch_proba``) or a bare
estimator such as :class:`~sklearn_aift.AIFTNet`. :func:`strategy_context`
reads from it in one order, the learner first, then its ``estimator``:

* the *model*, which predicts the patch probabilities, is the first of the
  two with ``predict_patch_proba``; ``embed``, ``n_jobs`` and the declared
  ``classes`` (or ``classes_``) are likewise the first found. The learner
  knows the classes the expert may give before the model has seen them all.
* the *labels so far* are ``learner.y_training`` (and the labeled candidates
  ``learner.X_training``, read only when a strategy asks), or None when the learner
  does not keep them (a bare estimator: no cold start then).
* the *worker model* is the one exception to the order: parallel scoring
  sends the estimator to its workers when it can predict, since a learner
  that merely delegates to it would travel with its labeled set and store.

The context also says whether the pool is scored in chunks (``n_jobs``,
``chunk_size`` or a joblib Dask backend; :mod:`sklearn_aift.parallel` then
does it) and holds the one shape check of the patch probabilities.
:func:`query_positions` checks what a strategy is called with, unless the
caller validated it already (:func:`sklearn_aift.utils.validated_inputs`, as
``ActiveLearner.query`` does).
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import joblib
import numpy as np

from .utils import check_count, inputs_validated

__all__ = [
    "StrategyContext",
    "check_chunk_size",
    "check_n_jobs",
    "check_patch_proba_shape",
    "dask_backend_active",
    "in_cold_start",
    "on_remaining",
    "patch_proba",
    "query_positions",
    "strategy_context",
]


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may use of its learner (see :func:`strategy_context`).

    Attributes
    ----------
    learner : object
        The object the strategy was called with.
    model : object or None
        The object that predicts patch probabilities.
    worker_model : object or None
        What parallel scoring sends to its workers (the estimator first).
    labels : ndarray or None
        The labels given so far, None when the learner does not keep them.
    classes : list or None
        The classes the labels may take, None when nobody declares them.
    n_jobs : object
        The learner's (else its estimator's) ``n_jobs`` attribute, unchecked.
    embed : callable or None
        The learner's (else its estimator's) ``embed(X) -> (n, d)``.
    labeled_data : callable or None
        Returns the labeled candidates that can be read now and their labels,
        ``(X, y)``, when called (``learner.training_data()``, else
        ``(learner.X_training, labels)``); None when the learner does not keep
        them. A callable, because stacking the labeled set costs memory that
        most strategies never need.
    """

    learner: Any
    model: Any
    worker_model: Any
    labels: np.ndarray | None
    classes: list | None
    n_jobs: Any
    embed: Callable | None
    labeled_data: Callable | None = None

    def require_model(self, *, for_workers: bool = False) -> Any:
        """The model (or worker model), or a TypeError saying what the learner lacks.

        Parameters
        ----------
        for_workers : bool, default=False
            Return :attr:`worker_model` instead of :attr:`model`.

        Returns
        -------
        model : object
            Has a callable ``predict_patch_proba``.

        Raises
        ------
        TypeError
            If neither the learner nor its ``estimator`` can predict patch
            probabilities.
        """
        model = self.worker_model if for_workers else self.model
        if model is None:
            raise TypeError(
                f"learner must have a predict_patch_proba(X) method returning patch "
                f"probabilities of shape (n_candidates, n_patches, n_classes), or an "
                f"`estimator` attribute that has one (e.g. sklearn_aift.AIFTNet); got "
                f"{type(self.learner).__name__}."
            )
        return model

    def patch_proba(self, X: Any) -> np.ndarray:
        """The model's patch probabilities of ``X``, as float64, shape-checked.

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates to predict.

        Returns
        -------
        P : ndarray of shape (len(X), n_patches, n_classes)

        Raises
        ------
        TypeError
            If there is no model (see :meth:`require_model`).
        ValueError
            If the model's array does not have that shape.
        """
        model = self.require_model()
        return check_patch_proba_shape(model.predict_patch_proba(X), len(X), model)

    def in_cold_start(self, min_per_class: int) -> bool:
        """Whether some class has fewer than ``min_per_class`` labels.

        A learner that does not expose its labels is never in the cold start:
        a strategy called on a bare estimator does not know what is labeled.
        """
        if self.labels is None:
            return False
        y = self.labels
        values, counts = np.unique(y, return_counts=True) if len(y) else ([], [])
        held = dict(zip(np.asarray(values).tolist(), np.asarray(counts).tolist()))
        if self.classes is None or len(self.classes) < 2:
            return len(held) < 2 or min(held.values()) < min_per_class
        return any(held.get(c, 0) < min_per_class for c in np.asarray(self.classes).tolist())

    def scores_in_chunks(self, n_jobs: Any = None, chunk_size: Any = None) -> bool:
        """Whether to score the pool in chunks through :func:`~sklearn_aift.parallel.pool_scores`.

        True when a chunk size is given, when ``n_jobs`` (the call's, else
        the learner's or estimator's attribute) asks for more than one job, or
        when a surrounding :func:`joblib.parallel_config` selects a parallel
        backend such as Dask. Otherwise the strategy scores in-process.

        Raises
        ------
        ValueError
            If ``n_jobs`` or ``chunk_size`` is invalid.
        """
        if check_chunk_size(chunk_size) is not None or dask_backend_active():
            return True
        return joblib.effective_n_jobs(self.resolved_n_jobs(n_jobs)) != 1

    def resolved_n_jobs(self, n_jobs: Any = None) -> int | None:
        """``n_jobs`` as given, else the learner's (or its estimator's), checked."""
        return check_n_jobs(self.n_jobs if n_jobs is None else n_jobs)


def _has_method(owner: Any, name: str) -> bool:
    return owner is not None and callable(getattr(owner, name, None))


def _declared_classes(owner: Any) -> list | None:
    for name in ("classes", "classes_"):
        value = getattr(owner, name, None)
        if value is not None and not callable(value):
            try:
                return np.unique(np.asarray(value)).tolist()
            except TypeError:  # pragma: no cover - unorderable labels
                continue
    return None


def strategy_context(learner: Any) -> StrategyContext:
    """Resolve what a strategy may use of ``learner``, in the module's one order.

    Parameters
    ----------
    learner : object or None
        What the strategy was called with: a learner, an estimator or None
        (random sampling needs nothing).

    Returns
    -------
    context : StrategyContext

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift._strategy_context import strategy_context
    >>> class Net:
    ...     classes = [0, 1]
    ...     def predict_patch_proba(self, X):
    ...         return np.full((len(X), 2, 2), 0.5)
    >>> class Learner:
    ...     estimator = Net()
    ...     y_training = [1]
    >>> context = strategy_context(Learner())
    >>> type(context.model).__name__, context.labels, context.classes
    ('Net', array([1]), [0, 1])
    """
    owners = [o for o in (learner, getattr(learner, "estimator", None)) if o is not None]
    predictors = [o for o in owners if _has_method(o, "predict_patch_proba")]
    model = predictors[0] if predictors else None
    worker_model = predictors[-1] if predictors else None
    embed = next((o.embed for o in owners if _has_method(o, "embed")), None)
    n_jobs = next((o.n_jobs for o in owners if getattr(o, "n_jobs", None) is not None), None)
    classes = next((c for c in map(_declared_classes, owners) if c is not None), None)
    labels = labeled_data = None
    if hasattr(learner, "y_training"):
        y = learner.y_training
        labels = np.asarray([] if y is None else y)
        # looked up without reading it: X_training is a property that stacks the set
        own = getattr(learner, "__dict__", {})
        if _has_method(learner, "training_data"):
            labeled_data = learner.training_data
        elif hasattr(type(learner), "X_training") or "X_training" in own:
            labeled_data = functools.partial(_modal_training_data, learner, labels)
    return StrategyContext(learner=learner, model=model, worker_model=worker_model,
                           labels=labels, classes=classes, n_jobs=n_jobs, embed=embed,
                           labeled_data=labeled_data)


def _modal_training_data(learner: Any, labels: np.ndarray) -> tuple[Any, np.ndarray]:
    return learner.X_training, labels


def in_cold_start(learner: Any, min_per_class: int) -> bool:
    """Whether some class has fewer than ``min_per_class`` labels in ``learner``.

    See :meth:`StrategyContext.in_cold_start`.
    """
    return strategy_context(learner).in_cold_start(min_per_class)


def patch_proba(learner: Any, X_pool: Any) -> np.ndarray:
    """Patch probabilities of a learner on a pool, shape-checked.

    Uses ``learner.predict_patch_proba(X_pool)`` when the learner has it,
    else ``learner.estimator.predict_patch_proba(X_pool)`` (modAL's
    ``ActiveLearner`` around an :class:`~sklearn_aift.net.AIFTNet`); see
    :func:`strategy_context`.

    Parameters
    ----------
    learner : object
        Has ``predict_patch_proba`` itself or through ``learner.estimator``.
    X_pool : candidate array or CandidateSet
        The candidates to predict.

    Returns
    -------
    P : ndarray of shape (len(X_pool), n_patches, n_classes)
        The probabilities as returned, converted to float64 (values are
        checked later, by the scoring).

    Raises
    ------
    TypeError
        If neither ``learner`` nor ``learner.estimator`` has a callable
        ``predict_patch_proba``.
    ValueError
        If the returned array is not 3-D, does not have one row per
        candidate of ``X_pool``, holds no patch or fewer than 2 classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.strategies import patch_proba
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         return np.full((len(X), 4, 2), 0.5)
    >>> class Wrapper:
    ...     estimator = Net()
    >>> patch_proba(Wrapper(), np.zeros((3, 4, 3, 8, 8))).shape
    (3, 4, 2)
    """
    return strategy_context(learner).patch_proba(X_pool)


def check_patch_proba_shape(P: Any, n: int, owner: Any) -> np.ndarray:
    """``P`` as float64, checked to hold one ``(n_patches, n_classes)`` row per candidate.

    The one shape check of a model's patch probabilities, for the serial and
    the parallel paths; the values are checked by the scoring, in its pass.

    Parameters
    ----------
    P : array-like
        What ``owner.predict_patch_proba`` returned.
    n : int
        The number of candidates it was asked about.
    owner : object
        The model, named in the error message.

    Returns
    -------
    P : ndarray of shape (n, n_patches, n_classes), float64

    Raises
    ------
    ValueError
        If ``P`` is not 3-D with ``n`` rows, at least one patch and at
        least two classes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift._strategy_context import check_patch_proba_shape
    >>> check_patch_proba_shape(np.zeros((2, 3, 2)), 2, None).dtype
    dtype('float64')
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != n or P.shape[1] < 1 or P.shape[2] < 2:
        raise ValueError(
            f"{type(owner).__name__}.predict_patch_proba returned an array of shape {P.shape} "
            f"for {n} candidates; expected shape ({n}, n_patches, n_classes) with at least "
            f"one patch and two classes."
        )
    return P


def check_n_jobs(n_jobs: Any) -> int | None:
    """``n_jobs`` as None or a non-zero int (-1 for all CPUs), or a ValueError."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be None or a non-zero integer (-1 for all CPUs); got {n_jobs!r}."
        )
    return int(n_jobs)


def check_chunk_size(chunk_size: Any) -> int | None:
    """``chunk_size`` as None or a positive int, or a ValueError."""
    if chunk_size is None:
        return None
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, numbers.Integral)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be None or a positive integer; got {chunk_size!r}.")
    return int(chunk_size)


def dask_backend_active() -> bool:
    """Whether joblib's active backend is Dask's (set by :func:`joblib.parallel_config`)."""
    backend, _ = joblib.parallel.get_active_backend()
    return type(backend).__name__ == "DaskDistributedBackend"


def query_positions(X_pool: Any, n_instances: Any, exclude: Any) -> tuple[int, int, np.ndarray]:
    """The checked ``n_instances``, the pool size and the sorted positions not excluded.

    The arguments are checked here, once, unless the caller validated them
    (:func:`~sklearn_aift.utils.validated_inputs`).

    Raises
    ------
    TypeError
        If ``n_instances`` is not an integer, ``X_pool`` has no ``len()`` or
        ``exclude`` does not hold integers.
    ValueError
        If ``n_instances < 1``, the pool is empty, or ``exclude`` holds
        positions outside the pool or covers all of it.
    """
    if inputs_validated():
        n_pool = len(X_pool)
        keep = np.ones(n_pool, dtype=bool)
        if exclude is not None:
            keep[exclude] = False
        return n_instances, n_pool, np.flatnonzero(keep)
    n_instances = check_count(n_instances, "n_instances")
    n_pool = _pool_size(X_pool)
    return n_instances, n_pool, _remaining(exclude, n_pool)


def _pool_size(X_pool: Any) -> int:
    try:
        n = len(X_pool)
    except TypeError:
        raise TypeError(
            f"X_pool must be a candidate array or CandidateSet (with len()); got "
            f"{type(X_pool).__name__}."
        ) from None
    if n == 0:
        raise ValueError("X_pool is empty: there is no candidate to query.")
    return n


def _remaining(exclude: Any, n_pool: int) -> np.ndarray:
    """Sorted pool indices not in ``exclude``."""
    if exclude is None:
        return np.arange(n_pool)
    excluded = np.asarray(exclude)
    if excluded.size == 0:
        return np.arange(n_pool)
    if excluded.dtype.kind not in "iu":
        raise TypeError(
            f"exclude must hold integer pool indices; got an array of dtype {excluded.dtype}."
        )
    excluded = excluded.ravel()
    if excluded.min() < 0 or excluded.max() >= n_pool:
        bad = excluded[(excluded < 0) | (excluded >= n_pool)]
        raise ValueError(
            f"exclude must hold pool indices in [0, {n_pool}); got {bad[:5].tolist()}."
        )
    keep = np.ones(n_pool, dtype=bool)
    keep[excluded] = False
    if not keep.any():
        raise ValueError(
            f"exclude covers every candidate of X_pool ({n_pool}); nothing is left to query."
        )
    return np.flatnonzero(keep)


def _subset(X_pool: Any, keep: np.ndarray, n_pool: int) -> Any:
    if len(keep) == n_pool:
        return X_pool
    if isinstance(X_pool, (list, tuple)):
        return [X_pool[i] for i in keep]
    return X_pool[keep]


def on_remaining(compute: Callable[[Any], np.ndarray], X_pool: Any, keep: np.ndarray,
                 n_pool: int) -> np.ndarray:
    """``compute`` on the candidates ``keep`` of the pool, rows aligned with ``keep``.

    A NumPy pool is passed whole and the rows are picked afterwards: copying
    the remaining candidates into a new array would cost more than predicting
    the few labeled ones, and would make the net digest a new pool every round.
    Lazy pools are subset (cheap, and they keep their candidate keys).
    """
    if isinstance(X_pool, np.ndarray) and len(keep) < n_pool:
        return np.asarray(compute(X_pool))[keep]
    return np.asarray(compute(_subset(X_pool, keep, n_pool)))

