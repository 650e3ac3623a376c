"""Calling a query strategy and checking its answer."""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable

import numpy as np

__all__ = ["accepts", "call_strategy", "check_exclude", "check_query_kwargs", "strategy_name"]


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


def check_query_kwargs(strategy: Callable, kwargs: dict[str, Any]) -> None:
    """Raise a TypeError for keywords the strategy does not take.

    A strategy takes its explicit parameters and, when it declares them, the
    names in its ``query_keywords`` attribute (this package's strategies); one
    with only ``**kwargs`` and no declaration takes anything.
    """
    try:
        parameters = inspect.signature(strategy).parameters
    except (TypeError, ValueError):
        return
    declared = getattr(strategy, "query_keywords", None)
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if open_ended and declared is None:
        return
    named = {name for name, p in parameters.items()
             if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)}
    known = named - {"learner", "X_pool", "n_instances"} | set(declared or ())
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(
            f"query() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}: the "
            f"query strategy {strategy_name(strategy)} takes {sorted(known)}."
        )


def check_exclude(exclude: Any, n_pool: int) -> np.ndarray:
    """``exclude`` as positions in a pool of ``n_pool``, or an error naming it."""
    array = np.asarray(exclude).ravel()
    if array.size == 0:
        return np.empty(0, dtype=np.intp)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"exclude must hold integer positions in X_pool; got {exclude!r} "
            f"(dtype {array.dtype})."
        )
    if array.min() < 0 or array.max() >= n_pool:
        raise ValueError(
            f"exclude must hold positions in [0, {n_pool}) of X_pool; got "
            f"{array[(array < 0) | (array >= n_pool)].tolist()}."
        )
    return array.astype(np.intp)


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
