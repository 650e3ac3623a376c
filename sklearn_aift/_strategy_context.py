"""What a query strategy may use of the learner it is given, decided in one place.

A strategy receives this package's :class:`~sklearn_aift.ActiveLearner`,
modAL's ``ActiveLearner`` (which has no ``predict_patch_proba``) or a bare
estimator such as :class:`~sklearn_aift.AIFTNet`. :func:`strategy_context`
reads from it in one order, the learner first, then its ``estimator``:

* the *model*, which predicts the patch probabilities, is the first of the
  two with ``predict_patch_proba``; ``embed``, ``n_jobs`` and the declared
  ``classes`` (or ``classes_``) are likewise the first found. The learner
  knows the classes the expert may give before the model has seen them all.
* the *labels so far* are ``learner.y_training``, or None when the learner
  does not keep them (a bare estimator: no cold start then).
* the *worker model* is the one exception to the order: parallel scoring
  sends the estimator to its workers when it can predict, since a learner
  that merely delegates to it would travel with its labeled set and store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["StrategyContext", "check_patch_proba_shape", "strategy_context"]


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
    """

    learner: Any
    model: Any
    worker_model: Any
    labels: np.ndarray | None
    classes: list | None
    n_jobs: Any
    embed: Callable | None

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
    labels = None
    if hasattr(learner, "y_training"):
        y = learner.y_training
        labels = np.asarray([] if y is None else y)
    return StrategyContext(learner=learner, model=model, worker_model=worker_model,
                           labels=labels, classes=classes, n_jobs=n_jobs, embed=embed)


def check_patch_proba_shape(P: Any, n: int, owner: Any) -> np.ndarray:
    """``P`` as float64, checked to hold one ``(n_patches, n_classes)`` row per candidate.

    Values are checked later, by the scoring.

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
        If ``P`` is not 3-D with ``n`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift._strategy_context import check_patch_proba_shape
    >>> check_patch_proba_shape(np.zeros((2, 3, 2)), 2, None).dtype
    dtype('float64')
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != n:
        raise ValueError(
            f"{type(owner).__name__}.predict_patch_proba returned an array of shape {P.shape} "
            f"for {n} candidates; expected shape ({n}, n_patches, n_classes)."
        )
    return P
