"""The whole loop against an oracle (Alg. 1 until a stopping rule holds)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..candidates import check_candidate_labels
from ..utils import check_count
from ._validation import is_int, make_oracle

__all__ = ["OracleLoop"]


class OracleLoop:
    """:meth:`run` (mixed into :class:`ActiveLearner`)."""

    def run(
        self,
        oracle: Callable[[np.ndarray], Any] | Any,
        X_pool: Any,
        budget: int | None = None,
        batch_size: int = 1,
        until: Callable[[Any], bool] | None = None,
        only_new: bool = False,
        **query_kwargs: Any,
    ) -> Any:
        """Run Alg. 1 against an oracle until a stopping rule holds.

        Each round queries ``batch_size`` candidates, asks the oracle for their
        labels (recorded with annotator ``"oracle"``) and teaches them. The
        loop stops when ``L`` holds ``budget`` labels, when every candidate of
        ``X_pool`` is labeled, or when ``until(self)`` is true (checked before
        every round). Calling ``run`` again (e.g. after :meth:`load`)
        continues the same loop.

        Parameters
        ----------
        oracle : callable or array-like of shape (n_pool,)
            ``oracle(indices) -> labels`` for positions in ``X_pool``, or the
            true labels of the whole of ``X_pool``.
        X_pool : candidate array or CandidateSet
            The pool (see :meth:`query`).
        budget : int, default=None
            Total number of labeled candidates at which to stop (labels already
            held count). None: until the pool is exhausted.
        batch_size : int, default=1
            Candidates queried per round (``b``).
        until : callable, default=None
            ``until(learner) -> bool``: stop when true ("until classification
            performance is satisfactory").
        only_new : bool, default=False
            See :meth:`teach`.
        **query_kwargs
            Passed to :meth:`query`.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        TypeError
            If ``batch_size`` or ``budget`` is not an integer or ``until`` is
            not callable.
        ValueError
            If ``batch_size < 1``, ``budget < 0``, the oracle array does not
            match the pool, or the oracle returns the wrong number of labels.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        batch_size = check_count(batch_size, "batch_size")
        if budget is not None:
            if not is_int(budget):
                raise TypeError(
                    f"budget must be None or an integer; got {budget!r} of type "
                    f"{type(budget).__name__}."
                )
            if budget < 0:
                raise ValueError(f"budget must be None or a non-negative integer; got {budget}.")
        if until is not None and not callable(until):
            raise TypeError(
                f"until must be a callable until(learner) -> bool or None; got {until!r}."
            )
        pool = self._bind_pool(X_pool)
        ask = make_oracle(oracle, len(pool))
        while True:
            remaining = int(pool.queryable_mask(self._labeled).sum())
            if budget is not None:
                remaining = min(remaining, budget - len(self._labeled))
            if remaining <= 0 or (until is not None and until(self)):
                break
            idx, X_query = self.query(pool.X, n_instances=min(batch_size, remaining),
                                      **query_kwargs)
            y = check_candidate_labels(ask(idx), len(idx), name="oracle labels")
            self.teach(X_query, y, only_new=only_new, indices=idx, annotator="oracle")
        return self
