"""Calling a query strategy and checking its answer."""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import numpy as np

__all__ = ["accepts", "call_strategy", "strategy_name"]


def strategy_name(strategy: Any) -> str:
    """The strategy's ``__name__``, or its repr."""
    name = getattr(strategy, "__name__", None)
    return name if isinstance(name, str) else repr(strategy)


def accepts(strategy: Callable, name: str) -> bool:
    """Whether ``strategy`` has an explicit parameter ``name``."""
    try:
        return name in inspect.signature(strategy).parameters
    except (TypeError, ValueError):
        return False


def _check_answer(
    result: Any, name: str, n_pool: int, exclude: np.ndarray, direct: bool
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(
            f"query_strategy {name} must return a 2-tuple (indices, scores); got "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple) else "")
            + "."
        )
    indices = np.asarray(result[0])
    scores = np.asarray(result[1], dtype=float) if result[1] is not None else None
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(
            f"query_strategy {name} returned indices that are not a 1-D integer array: "
            f"{result[0]!r}."
        )
    indices = indices.astype(np.intp)
    if scores is None or scores.shape != indices.shape:
        raise ValueError(
            f"query_strategy {name} returned scores of shape "
            f"{None if scores is None else scores.shape}; expected one score per index "
            f"{indices.shape}."
        )
    if indices.size and (indices.min() < 0 or indices.max() >= n_pool):
        raise ValueError(
            f"query_strategy {name} returned indices outside [0, {n_pool}): {indices.tolist()}."
        )
    if len(np.unique(indices)) != len(indices):
        raise ValueError(f"query_strategy {name} returned repeated indices: {indices.tolist()}.")
    if direct and np.isin(indices, exclude).any():
        raise ValueError(
            f"query_strategy {name} returned excluded (labeled) candidates "
            f"{indices[np.isin(indices, exclude)].tolist()}; it must honour exclude=."
        )
    return indices, scores


def call_strategy(
    learner: Any,
    strategy: Callable,
    X_pool: Any,
    n_instances: int,
    exclude: np.ndarray,
    kwargs: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, float]:
    """Run ``strategy`` on ``X_pool`` without the ``exclude`` positions.

    A strategy with an ``exclude`` parameter gets the positions there; any
    other is asked for more candidates and the excluded ones are dropped.

    Returns
    -------
    indices, scores : ndarray
        At most ``n_instances`` positions in ``X_pool`` and their scores.
    elapsed : float
        Seconds the strategy ran.
    """
    direct = accepts(strategy, "exclude")
    n_ask = n_instances if direct else min(len(X_pool), n_instances + len(exclude))
    start = time.perf_counter()
    if direct:
        result = strategy(learner, X_pool, n_instances=n_ask, exclude=exclude, **kwargs)
    else:
        result = strategy(learner, X_pool, n_instances=n_ask, **kwargs)
    elapsed = time.perf_counter() - start
    indices, scores = _check_answer(result, strategy_name(strategy), len(X_pool), exclude, direct)
    keep = ~np.isin(indices, exclude)
    return indices[keep][:n_instances], scores[keep][:n_instances], elapsed
