"""What every query strategy does with its inputs: checks, exclusions, patch probabilities."""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from ._strategy_context import strategy_context

__all__ = ["patch_proba"]


def patch_proba(learner: Any, X_pool: Any) -> np.ndarray:
    """Patch probabilities of a learner on a pool, shape-checked.

    Uses ``learner.estimator.predict_patch_proba(X_pool)`` when the learner
    wraps an estimator that has it (this package's or modAL's
    ``ActiveLearner`` around an :class:`~sklearn_aift.net.AIFTNet`), else
    ``learner.predict_patch_proba(X_pool)`` (a bare estimator); see
    ``_strategy_context.py``.

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
        If the returned array is not 3-D or does not have one row per
        candidate of ``X_pool``.

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


def _check_n_instances(n_instances: Any) -> int:
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(
            f"n_instances must be a positive integer; got {n_instances!r} "
            f"({type(n_instances).__name__})."
        )
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1; got {n_instances}.")
    return int(n_instances)


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


def _on_remaining(compute: Callable[[Any], np.ndarray], X_pool: Any, keep: np.ndarray,
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
