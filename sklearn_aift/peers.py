"""The strategies of other active-learning libraries, computed from an AIFT network.

A researcher choosing a tool compares AIFT with what scikit-activeml and baal
give them. These strategies run those libraries' selection code on the
outputs of the same network AIFT fine-tunes (an
:class:`~sklearn_aift.net.AIFTNet`, or anything with the methods named
below), so that a comparison differs only in the query criterion:

=================== ============================================= ==========================
strategy            criterion                                     computed by
=================== ============================================= ==========================
one_view_entropy    entropy of the prediction on one view         scikit-activeml
one_view_margin     margin between the two most likely classes    scikit-activeml
bald                BALD over T = 20 MC-dropout passes (one view) baal (``patch_module``,
                                                                  ``heuristics.BALD``)
coreset             k-center greedy on ``embed`` features         scikit-activeml
typiclust_margin    TypiClust during the cold start, then margin  scikit-activeml
badge               k-means++ on gradient embeddings (one view)   scikit-activeml
=================== ============================================= ==========================

*One view* is one patch of every candidate (``view=0``: with
:class:`~sklearn_aift.augment.FrameProtocol`'s pyramid the whole frame, with
:class:`~sklearn_aift.augment.BoxProtocol` the box at its first scale,
unrotated): the image a user of those libraries would feed their network.

**Cold start.** Every model-based peer gets AIFT's default cold start: while
the learner holds fewer than ``cold_start_per_class`` (5) labels of some
class it returns the batch :data:`~sklearn_aift.strategies.random_sampling`
would (seed 0 when ``random_state`` is None), so that a comparison is about
the criterion. ``typiclust_margin``'s cold start is TypiClust itself.
``cold_start=None`` applies the criterion from the first round.

The libraries are an optional extra: ``pip install "sklearn-aift[peers]"``
(baal with ``--no-deps`` plus ``structlog<23 torchmetrics
lightning-utilities``, see the installation notes). Calling a peer without
its library raises an :class:`ImportError` that says what to install.

Every strategy follows the package's contract::

    strategy(learner, X_pool, n_instances=1, random_state=None, *, exclude=None, **kwargs)
        -> (indices, scores)
"""

from __future__ import annotations

import importlib
import numbers
from typing import Any

import numpy as np

from ._strategy_context import on_remaining, patch_proba, strategy_context
from .candidates import iter_candidate_batches
from .strategies import _check_cold_start, _check_per_class, _Strategy
from .utils import check_random_state

__all__ = [
    "BADGESampling",
    "BALDSampling",
    "CoreSetSampling",
    "OneViewUncertainty",
    "PEER_STRATEGIES",
    "TypiClustMargin",
    "badge",
    "bald",
    "coreset",
    "one_view_entropy",
    "one_view_margin",
    "typiclust_margin",
]

_PEERS_EXTRA = (
    'pip install "scikit-activeml>=1.0" and, for BALD, pip install --no-deps "baal>=2.1" '
    '"structlog<23" torchmetrics lightning-utilities (the [peers] extra)'
)


def _library(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"this peer strategy calls {name.split('.')[0]}, which is not installed: "
            f"{_PEERS_EXTRA}."
        ) from exc


def _seed(random_state: Any) -> int:
    """An int seed for the libraries (which want one) from any random_state."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _one_view(X: Any, view: int) -> np.ndarray:
    """Patch ``view`` of every candidate, shape (n, C, H, W)."""
    shape = X.shape
    if len(shape) == 4:
        return np.asarray(X)
    if not -shape[1] <= view < shape[1]:
        raise ValueError(
            f"view must index a patch of the candidates (0 <= view < {shape[1]}); got {view}."
        )
    if isinstance(X, np.ndarray):
        return X[:, view]
    parts = [batch[:, view] for _, batch in iter_candidate_batches(X, 256)]
    return np.concatenate(parts)


def _embed(learner: Any, X: Any) -> np.ndarray:
    embed = strategy_context(learner).embed
    if embed is None:
        raise TypeError(
            f"learner must have an embed(X) method returning candidate features, or an "
            f"`estimator` attribute that has one (e.g. sklearn_aift.AIFTNet); got "
            f"{type(learner).__name__}."
        )
    return np.asarray(embed(X), dtype=np.float64)


def _skactiveml_classifier(n_classes: int) -> Any:
    """A scikit-activeml classifier over precomputed rows ``[embedding..., proba...]``.

    scikit-activeml's strategies call ``clf.predict_proba(X)`` (and BADGE
    ``clf.predict_proba(X, return_embeddings=True)``); this classifier reads
    both from the row itself, so the libraries select from our network's
    outputs with ``fit_clf=False``.
    """
    base = _library("skactiveml.base")

    class _Precomputed(base.SkactivemlClassifier):
        def __init__(self, n_classes=2, missing_label=np.nan):
            super().__init__(classes=np.arange(n_classes), missing_label=missing_label)
            self.n_classes = n_classes

        def fit(self, X, y, sample_weight=None):  # pragma: no cover - fit_clf=False
            return self

        def predict_proba(self, X, return_embeddings=False):
            X = np.asarray(X, dtype=np.float64)
            proba = X[:, -self.n_classes:]
            if return_embeddings:
                return proba, X[:, :-self.n_classes]
            return proba

    return _Precomputed(n_classes=n_classes)


def _utilities_of(indices: np.ndarray, utilities: np.ndarray) -> np.ndarray:
    """The utility each pick had when it was picked (scikit-activeml's batch layout)."""
    return np.asarray([utilities[i, j] for i, j in enumerate(indices)], dtype=np.float64)


class _PeerStrategy(_Strategy):
    """Cold start, ``n_instances`` and ``exclude`` handling shared by the peers.

    Subclasses implement ``_select(learner, X_pool, keep, n_pool, n, seed)``
    returning positions in ``keep`` and their scores, best (or first picked)
    first.
    """

    def __init__(self, cold_start: str | None = "random", cold_start_per_class: int = 5,
                 view: int = 0):
        self.cold_start = _check_cold_start(cold_start)
        self.cold_start_per_class = _check_per_class(cold_start_per_class)
        self.view = _check_view(view)

    def get_params(self) -> dict[str, Any]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            ``cold_start``, ``cold_start_per_class`` and ``view``.
        """
        return {"cold_start": self.cold_start,
                "cold_start_per_class": self.cold_start_per_class, "view": self.view}

    def __call__(self, learner, X_pool, n_instances=1, random_state=None, *, exclude=None,
                 **kwargs):
        """Query ``n_instances`` candidates of ``X_pool`` by a peer library's criterion.

        :class:`OneViewUncertainty` ranks by the entropy or margin of one view's
        prediction, :class:`BALDSampling` by BALD over MC-dropout passes,
        :class:`CoreSetSampling` picks a k-center greedy batch in ``embed``
        space, :class:`TypiClustMargin` typical candidates during the cold
        start and the smallest margins after it, and :class:`BADGESampling` a
        k-means++ batch of gradient embeddings; during the cold start the
        model-based peers return :data:`~sklearn_aift.strategies.random_sampling`'s
        batch.

        Parameters
        ----------
        learner : object
            Provides ``predict_patch_proba`` and ``embed`` itself or through
            ``learner.estimator`` (an :class:`~sklearn_aift.AIFTNet`; BALD
            also uses the network itself); its labels so far (``y_training``)
            decide the cold start.
        X_pool : candidate array or CandidateSet
            The unlabeled pool.
        n_instances : int, default=1
            How many candidates to return (all remaining ones when larger).
        random_state : None, int, RandomState or Generator, default=None
            Seeds the cold start and the library's tie-breaking and sampling
            (seed 0 when None).
        exclude : array-like of int, default=None
            Pool indices never to return (e.g. already labeled candidates).
        **kwargs
            Accepted and ignored (``n_jobs``, ``chunk_size``).

        Returns
        -------
        indices : ndarray of int
            Pool indices of the chosen candidates, best (or first picked) first.
        scores : ndarray of float
            Their scores (the library's utilities), aligned with ``indices``.

        Raises
        ------
        ImportError
            If the peer's library (the ``[peers]`` extra) is not installed.
        TypeError
            If ``n_instances`` is not an integer, ``exclude`` does not hold
            integers or the learner has no ``embed`` where one is needed.
        ValueError
            If ``n_instances < 1``, ``X_pool`` is empty, ``exclude`` holds
            indices outside the pool or covers all of it, or the network's
            outputs are invalid.
        """
        n_instances, n_pool, keep, picked = self._start(learner, X_pool, n_instances,
                                                        random_state, exclude)
        if picked is not None:
            return picked
        seed = 0 if random_state is None else _seed(random_state)
        n = min(n_instances, len(keep))
        positions, scores = self._select(learner, X_pool, keep, n_pool, n, seed)
        positions = np.asarray(positions, dtype=np.intp)
        return keep[positions], np.asarray(scores, dtype=np.float64)

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        raise NotImplementedError


class OneViewUncertainty(_PeerStrategy):
    """Uncertainty sampling on one view of each candidate (scikit-activeml).

    The network predicts one patch per candidate (``view``) and
    scikit-activeml's ``UncertaintySampling`` picks the most uncertain:
    ``method="entropy"`` the highest entropy of the prediction,
    ``"margin"`` the smallest gap between the two most likely classes
    (scikit-activeml's ``"margin_sampling"``), the plain uncertainty sampling
    of scikit-activeml and modAL users.

    Parameters
    ----------
    method : {"entropy", "margin"}, default="entropy"
        The uncertainty measure.
    cold_start : {"random", None}, default="random"
        The cold-start policy (see the module description); None ranks by
        the criterion from the first round.
    cold_start_per_class : int, default=5
        Labels of every class needed before the criterion takes over.
    view : int, default=0
        The patch of each candidate the network predicts.

    Raises
    ------
    ValueError
        If ``method``, ``cold_start`` or ``view`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.peers import OneViewUncertainty
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         q = np.array([0.9, 0.55, 0.3])[: len(X)]
    ...         return np.stack([1 - q, q], axis=-1)[:, None, :]
    >>> strategy = OneViewUncertainty("margin")
    >>> strategy(Net(), np.zeros((3, 4, 3, 8, 8)), n_instances=2)[0]
    array([1, 2])
    """

    _METHODS = {"entropy": "entropy", "margin": "margin_sampling"}

    def __init__(self, method: str = "entropy", cold_start: str | None = "random",
                 cold_start_per_class: int = 5, view: int = 0):
        if method not in self._METHODS:
            raise ValueError(f"method must be 'entropy' or 'margin'; got {method!r}.")
        self.method = method
        super().__init__(cold_start, cold_start_per_class, view)
        self.__name__ = f"one_view_{method}" + _suffix(self)

    def get_params(self) -> dict[str, Any]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            ``method``, ``cold_start``, ``cold_start_per_class`` and ``view``.
        """
        return {"method": self.method, **super().get_params()}

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        P = on_remaining(lambda X: patch_proba(learner, _one_view(X, self.view)), X_pool, keep,
                          n_pool)[:, 0]
        return _uncertainty_query(P, self._METHODS[self.method], n, seed)



def _uncertainty_query(P: np.ndarray, method: str, n: int, seed: int):
    pool = _library("skactiveml.pool")
    clf = _skactiveml_classifier(P.shape[1])
    y = np.full(len(P), np.nan)
    indices, utilities = pool.UncertaintySampling(method=method, random_state=seed).query(
        P, y, clf, fit_clf=False, batch_size=n, return_utilities=True)
    indices = np.asarray(indices, dtype=np.intp)
    return indices, _utilities_of(indices, utilities)


class BALDSampling(_PeerStrategy):
    """BALD over Monte Carlo dropout samples (baal).

    The network's dropout layers (for the torchvision backbones, the
    classifier's dropout) are switched on at prediction by baal's
    ``patch_module`` on a copy of the network; ``n_samples`` stochastic
    passes over one view of every candidate give predictions of shape
    ``(n, K, T)``, and baal's ``heuristics.BALD`` scores them (the mutual
    information between the prediction and the weights). The learner's own
    network is not changed.

    Parameters
    ----------
    n_samples : int, default=20
        Stochastic forward passes ``T``.
    cold_start : {"random", None}, default="random"
        The cold-start policy (see the module description).
    cold_start_per_class : int, default=5
        Labels of every class needed before the criterion takes over.
    view : int, default=0
        The patch of each candidate the network predicts.

    Raises
    ------
    ValueError
        If a parameter is invalid.

    Examples
    --------
    >>> from sklearn_aift.peers import BALDSampling
    >>> BALDSampling(n_samples=10).__name__
    'bald(n_samples=10)'
    """

    def __init__(self, n_samples: int = 20, cold_start: str | None = "random",
                 cold_start_per_class: int = 5, view: int = 0):
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
                or n_samples < 2:
            raise ValueError(f"n_samples must be an integer >= 2; got {n_samples!r}.")
        self.n_samples = n_samples
        super().__init__(cold_start, cold_start_per_class, view)
        name = "bald" if n_samples == 20 else f"bald(n_samples={n_samples})"
        self.__name__ = name + _suffix(self)

    def get_params(self) -> dict[str, Any]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            ``n_samples``, ``cold_start``, ``cold_start_per_class`` and ``view``.
        """
        return {"n_samples": self.n_samples, **super().get_params()}

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        from .net import mc_dropout_proba

        dropout = _library("baal.bayesian.dropout")
        heuristics = _library("baal.active.heuristics")
        estimator = _estimator_of(learner)

        def predict(X):
            return mc_dropout_proba(estimator, _one_view(X, self.view),
                                    lambda m: dropout.patch_module(m, inplace=True),
                                    n_samples=self.n_samples, random_state=seed)[:, 0]

        predictions = on_remaining(predict, X_pool, keep, n_pool)  # (n, K, T)
        scores = np.asarray(heuristics.BALD().compute_score(predictions), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")[:n]
        return order, scores[order]



class CoreSetSampling(_PeerStrategy):
    """CoreSet: k-center greedy on the network's features (scikit-activeml).

    scikit-activeml's ``CoreSet`` picks, one after another, the unlabeled
    candidate farthest from every labeled or already picked one, in the
    space of ``learner.embed`` features (for :class:`~sklearn_aift.net.AIFTNet`
    the last layer's input averaged over the candidate's patches). Only
    which candidates are labeled matters, not their labels. Scores are each
    pick's distance to its nearest centre when it was picked.

    Parameters
    ----------
    cold_start : {"random", None}, default="random"
        The cold-start policy (see the module description).
    cold_start_per_class : int, default=5
        Labels of every class needed before the criterion takes over.
    view : int, default=0
        Not used (the features average all patches); kept for a common
        signature.

    Examples
    --------
    >>> from sklearn_aift.peers import coreset
    >>> coreset.__name__
    'coreset'
    """

    def __init__(self, cold_start: str | None = "random", cold_start_per_class: int = 5,
                 view: int = 0):
        super().__init__(cold_start, cold_start_per_class, view)
        self.__name__ = "coreset" + _suffix(self)

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        pool = _library("skactiveml.pool")
        features = _embed(learner, X_pool)
        y = _labeled_marks(keep, n_pool)
        indices, utilities = pool.CoreSet(random_state=seed).query(
            features, y, batch_size=n, return_utilities=True)
        indices = np.asarray(indices, dtype=np.intp)
        return _positions(keep, indices), _utilities_of(indices, utilities)



class TypiClustMargin(_PeerStrategy):
    """TypiClust while the labels are few, then margin on one view (scikit-activeml).

    During the cold start (some class with fewer than
    ``cold_start_per_class`` labels) scikit-activeml's ``TypiClust`` picks the
    most typical candidate of the largest clusters not yet covered by a label
    (k-means on ``learner.embed`` features; Hacohen et al., ICML 2022); then
    :class:`OneViewUncertainty` with ``method="margin"`` takes over.

    Parameters
    ----------
    cold_start_per_class : int, default=5
        Labels of every class needed before margin sampling takes over.
    view : int, default=0
        The patch of each candidate the network predicts for the margin.

    Examples
    --------
    >>> from sklearn_aift.peers import typiclust_margin
    >>> typiclust_margin.__name__
    'typiclust_margin'
    """

    def __init__(self, cold_start_per_class: int = 5, view: int = 0):
        super().__init__("random", cold_start_per_class, view)
        self.__name__ = "typiclust_margin" + (
            "" if self.cold_start_per_class == 5 and self.view == 0
            else f"(cold_start_per_class={self.cold_start_per_class}, view={self.view})")

    def get_params(self) -> dict[str, Any]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            ``cold_start_per_class`` and ``view``.
        """
        return {"cold_start_per_class": self.cold_start_per_class, "view": self.view}

    def _cold_start_batch(self, learner, X_pool, keep, n_pool, n_instances, random_state):
        pool = _library("skactiveml.pool")
        seed = 0 if random_state is None else _seed(random_state)
        features = _embed(learner, X_pool)
        y = _labeled_marks(keep, n_pool)
        n = min(n_instances, len(keep))
        indices, utilities = pool.TypiClust(random_state=seed).query(
            features, y, batch_size=n, return_utilities=True)
        indices = np.asarray(indices, dtype=np.intp)
        return indices, _utilities_of(indices, utilities)

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        P = on_remaining(lambda X: patch_proba(learner, _one_view(X, self.view)), X_pool, keep,
                          n_pool)[:, 0]
        return _uncertainty_query(P, "margin_sampling", n, seed)



class BADGESampling(_PeerStrategy):
    """BADGE: k-means++ seeding on gradient embeddings (scikit-activeml).

    For one view of every candidate, the network's last-layer input ``h``
    (``learner.embed``) and prediction ``p`` give the gradient embedding
    ``(p - onehot(argmax p)) x h`` that scikit-activeml's ``Badge`` seeds
    k-means++ on (Ash et al., ICLR 2020): candidates that are uncertain and
    different from each other.

    Parameters
    ----------
    cold_start : {"random", None}, default="random"
        The cold-start policy (see the module description).
    cold_start_per_class : int, default=5
        Labels of every class needed before the criterion takes over.
    view : int, default=0
        The patch of each candidate the network sees.

    Examples
    --------
    >>> from sklearn_aift.peers import badge
    >>> badge.__name__
    'badge'
    """

    def __init__(self, cold_start: str | None = "random", cold_start_per_class: int = 5,
                 view: int = 0):
        super().__init__(cold_start, cold_start_per_class, view)
        self.__name__ = "badge" + _suffix(self)

    def _select(self, learner, X_pool, keep, n_pool, n, seed):
        pool = _library("skactiveml.pool")

        one_view = lambda X: _one_view(X, self.view)  # noqa: E731
        features = on_remaining(lambda X: _embed(learner, one_view(X)), X_pool, keep, n_pool)
        P = on_remaining(lambda X: patch_proba(learner, one_view(X)), X_pool, keep,
                          n_pool)[:, 0]
        X = np.hstack([features, P])
        clf = _skactiveml_classifier(P.shape[1])
        indices, utilities = pool.Badge(clf_embedding_flag_name="return_embeddings",
                                        random_state=seed).query(
            X, np.full(len(X), np.nan), clf, fit_clf=False, batch_size=n,
            return_utilities=True)
        indices = np.asarray(indices, dtype=np.intp)
        return indices, _utilities_of(indices, utilities)



def _suffix(strategy: _PeerStrategy) -> str:
    if (strategy.cold_start, strategy.cold_start_per_class, strategy.view) == ("random", 5, 0):
        return ""
    return (f"(cold_start={strategy.cold_start!r}, "
            f"cold_start_per_class={strategy.cold_start_per_class}, view={strategy.view})")


def _check_view(view: Any) -> int:
    if isinstance(view, bool) or not isinstance(view, numbers.Integral):
        raise TypeError(f"view must be an integer patch index; got {view!r}.")
    return int(view)


def _labeled_marks(keep: np.ndarray, n_pool: int) -> np.ndarray:
    """scikit-activeml's ``y``: NaN for the candidates left, 0 for the others (labeled)."""
    y = np.zeros(n_pool)
    y[keep] = np.nan
    return y


def _positions(keep: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Positions in ``keep`` of pool indices."""
    return np.searchsorted(keep, indices)


def _estimator_of(learner: Any) -> Any:
    for owner in (learner, getattr(learner, "estimator", None)):
        if owner is not None and hasattr(owner, "predict_patch_proba") \
                and hasattr(owner, "_device"):
            return owner
    raise TypeError(
        f"BALD needs the network itself: learner must be an AIFTNet or hold one as "
        f"`estimator`; got {type(learner).__name__}."
    )


one_view_entropy = OneViewUncertainty("entropy")
one_view_margin = OneViewUncertainty("margin")
bald = BALDSampling()
coreset = CoreSetSampling()
typiclust_margin = TypiClustMargin()
badge = BADGESampling()

#: The peers by method name, in the order of the comparison tables.
PEER_STRATEGIES = {
    "one_view_entropy": one_view_entropy,
    "one_view_margin": one_view_margin,
    "bald": bald,
    "coreset": coreset,
    "typiclust_margin": typiclust_margin,
    "badge": badge,
}
