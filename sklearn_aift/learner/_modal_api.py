"""modAL's surface of the learner: delegation to the estimator and the labeled set.

What query strategies read of the learner, ``y_training`` and
``predict_patch_proba``, is defined with ``query`` in ``_active_learner.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


__all__ = ["ModALAPI"]


class ModALAPI:
    """``predict``, ``predict_proba``, ``score`` and ``X_training`` as in modAL.

    Mixed into :class:`ActiveLearner`, which provides ``estimator``,
    ``classes`` and its labeled set.
    """

    estimator: Any

    def predict_proba(self, X: Any) -> np.ndarray:
        """Candidate probabilities of the current model (``estimator.predict_proba``).

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates.

        Returns
        -------
        proba : ndarray of shape (n, K)
        """
        return self.estimator.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Candidate labels predicted by the current model (``estimator.predict``).

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates.

        Returns
        -------
        y_pred : ndarray of shape (n,)
        """
        return self.estimator.predict(X)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy of the current model (``estimator.score``).

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates.
        y : array-like of shape (n,)
            Their true labels.

        Returns
        -------
        score : float
        """
        return self.estimator.score(X, y)

    # -- labeled set ------------------------------------------------------------------------
    @property
    def _n_labels(self) -> int:
        return len(self._labeled) if self._initialized else 0

    @property
    def X_training(self) -> np.ndarray:
        """The labeled candidates ``L``, stacked; shape ``(0, ...)`` before any label."""
        if self._n_labels:
            return self._labeled.stack(range(len(self._labeled)))
        return self._no_candidates()

    def _no_candidates(self) -> np.ndarray:
        """An empty candidate array shaped like the pool's candidates."""
        pool = self._pool.X if self._initialized and self._pool is not None else None
        if pool is None:
            return np.zeros((0, 0, 0, 0, 0), dtype=np.uint8)
        shape = tuple(pool.shape[1:]) if len(pool.shape) == 5 else (1, *pool.shape[1:])
        return np.zeros((0, *shape), dtype=getattr(pool, "dtype", np.uint8))

    def training_data(self) -> tuple[Any, np.ndarray]:
        """The labeled candidates that can be read now, and their labels.

        With the pixels kept (the default), :attr:`X_training` and
        :attr:`y_training`. A session opened with ``keep_pixels=False`` reads
        the candidates from the pool last passed to :meth:`query`, :meth:`run`
        or :meth:`open`, by key; labeled candidates that pool no longer holds
        are left out of both arrays (their labels are kept in the session).
        Query strategies that need the labeled candidates (TypiClust's cold
        start, the agreement switch) use this.

        Returns
        -------
        X : candidate array or CandidateSet
            The readable labeled candidates (an empty array before any label).
        y : ndarray of shape (n,)
            Their labels, aligned with ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import ActiveLearner, AIFTNet
        >>> learner = ActiveLearner(AIFTNet(), classes=[0, 1])
        >>> X, y = learner.training_data()
        >>> len(X), len(y)
        (0, 0)
        """
        if not self._n_labels:
            return self._no_candidates(), np.asarray([])
        X, y, _ = self._readable_labeled(list(range(len(self._labeled))))
        return (X if X is not None else self._no_candidates()), y

    @property
    def labeled_keys_(self) -> list[str]:
        """Keys of the labeled candidates in the order first taught."""
        return list(self._labeled.keys) if self._initialized else []

    @property
    def labels_(self) -> list[dict[str, Any]]:
        """The current label of each labeled candidate, for export.

        Each dict holds ``candidate_key``, ``label``, ``round`` (the round of
        the latest label), ``annotator`` and ``labeled_at`` (UTC ISO 8601).
        The whole audit trail, relabels included, is
        :meth:`SessionStore.read_label_history` of the session store.
        """
        return self._labeled.records() if self._initialized else []

    @property
    def labeled_indices_(self) -> np.ndarray:
        """Positions of the labeled candidates in the last pool seen, in the order taught."""
        if not self._initialized or self._pool is None:
            return np.zeros(0, dtype=np.intp)
        return self._pool.labeled_positions(self._labeled)


    def fit(self, X: Any, y: Any, only_new: bool = False) -> Any:
        """Teach an initial labeled set (modAL's ``fit``).

        Labels are never discarded, so unlike modAL this only works while
        ``L`` is empty; afterwards use :meth:`teach`.

        Parameters
        ----------
        X : candidate array or CandidateSet
            Labeled candidates.
        y : array-like of shape (n,)
            Their labels.
        only_new : bool, default=False
            See :meth:`teach`.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        ValueError
            If the learner already holds labels.
        """
        self._initialize()
        if self._n_labels:
            raise ValueError(
                f"the learner already holds {self._n_labels} labels; fit() would discard "
                f"them. Use teach(X, y) to add labels."
            )
        return self.teach(X, y, only_new=only_new, annotator="import")
