"""Query strategies: which unlabeled candidates to send to the expert next.

Every strategy is a callable with the modAL signature::

    strategy(learner, X_pool, n_instances=1, random_state=None, *, exclude=None, **kwargs)
        -> (indices, scores)

It returns the indices of the ``n_instances`` best candidates of ``X_pool``
(best first) and their scores, always as a 2-tuple. Ties are broken in favour
of the lower pool index; asking for more candidates than are available returns
all of them, in score order. Pool indices listed in ``exclude`` (e.g. the
candidates already labeled) are never returned (a lazy pool is subset before
predicting; a NumPy pool is predicted whole, which is cheaper than copying it).
``n_jobs=`` and ``chunk_size=`` score the pool in chunks through joblib, on
local processes or a Dask cluster (:mod:`sklearn_aift.parallel`). Other keyword
arguments are accepted and ignored, so one call site can drive any strategy.

Patch probabilities ``(n, m, K)`` come from ``learner.predict_patch_proba(X)``,
or from ``learner.estimator.predict_patch_proba(X)`` for wrappers such as
modAL's ``ActiveLearner`` (see :func:`patch_proba`).

The strategies of the paper (Zhou et al., CVPR 2017, Table 1) are instances of
:class:`AIFTSampling`; ``_quarter`` means majority selection of a quarter of
the patches (``alpha = 1/4``), otherwise all patches are used:

========================== ======= ======= =======
strategy                   alpha   lambda1 lambda2
========================== ======= ======= =======
entropy                    1       1       0
entropy_quarter            1/4     1       0
diversity                  1       0       1
diversity_quarter          1/4     0       1
entropy_diversity          1       1       1
entropy_diversity_quarter  1/4     1       1
========================== ======= ======= =======

Baselines: :data:`random_sampling` (the paper's IFT Random) and
:data:`mean_uncertainty` (entropy of the candidate's mean prediction, the
plain uncertainty sampling a modAL user would start with).

**Cold start.** With zero labels M0's last layer is untrained, so ranking its
predictions picks candidates of one class and loses to random picks. The AIFT
strategies therefore return the batch :data:`random_sampling` would (same
seed, same batch; seed 0 when ``random_state`` is None) while the learner
holds fewer than ``cold_start_per_class`` (5) labels of some class, then rank
by the AIFT criterion. A representative k-means batch
(``cold_start="representative"``), TypiClust's typical batch
(``cold_start="typical"``) and TypiClust's batch for the first round only
(``cold_start="typical_first"``) are the alternatives;
``aift_sampling(..., cold_start=None)`` is the paper's pure behaviour. The
default was chosen by ``benchmarks/tune_cold_start.py`` on splits of the
training pools (see the user guide's cold-start page). A strategy called on
a bare estimator (no ``y_training``) does not know the labeled set and always
uses the AIFT criterion.
"""

from __future__ import annotations

import functools
import logging
import numbers
from typing import Any, Callable

import numpy as np

from ._batch import BATCH_MODES, select_batch
from ._cold_start import representative_order
from ._coverage import disagreement_share, neighbour_agreement, uncovered_typical
from ._density import typicality
from ._strategy_context import on_remaining, patch_proba, query_positions, strategy_context
from .candidates import candidate_keys
from .parallel import pool_scores
from .scoring import (
    _candidate_scores,
    _check_alpha,
    _check_lambdas,
    check_patch_proba,
    patch_entropy,
)
from .utils import check_random_state

__all__ = [
    "AIFTSampling",
    "BATCH_MODES",
    "COLD_START_POLICIES",
    "MeanUncertainty",
    "RandomSampling",
    "aift_sampling",
    "describe_strategy",
    "diversity",
    "diversity_quarter",
    "entropy",
    "entropy_diversity",
    "entropy_diversity_quarter",
    "entropy_quarter",
    "get_strategy",
    "mean_uncertainty",
    "patch_proba",
    "random_sampling",
    "STRATEGY_NAMES",
    "SWITCH_POLICIES",
]

logger = logging.getLogger(__name__)

#: Cold-start policies of the AIFT strategies (None: the paper's pure criterion).
COLD_START_POLICIES = ("random", "representative", "typical", "typical_first", None)

#: How a batch moves from covering the pool to the AIFT ranking after the cold
#: start (None: ranked from the first round after it, the paper's).
SWITCH_POLICIES = (None, "agreement")

# the paper's six variants: name -> (alpha, lambda1, lambda2)
_PAPER_VARIANTS = {
    "entropy": (1.0, 1.0, 0.0),
    "entropy_quarter": (0.25, 1.0, 0.0),
    "diversity": (1.0, 0.0, 1.0),
    "diversity_quarter": (0.25, 0.0, 1.0),
    "entropy_diversity": (1.0, 1.0, 1.0),
    "entropy_diversity_quarter": (0.25, 1.0, 1.0),
}


# --------------------------------------------------------------------------- #
# strategies
# --------------------------------------------------------------------------- #
class _Strategy:
    """Common ranking, ``n_instances`` and ``exclude`` handling."""

    __name__ = "strategy"
    # the keywords a call takes (the learner refuses others, e.g. a misspelt exclude=)
    query_keywords = ("random_state", "exclude", "n_jobs", "chunk_size")
    cold_start = None
    cold_start_per_class = 0

    def __call__(
        self,
        learner: Any,
        X_pool: Any,
        n_instances: int = 1,
        random_state: Any = None,
        *,
        exclude: Any = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Query the ``n_instances`` best candidates of ``X_pool``.

        :class:`AIFTSampling` ranks by the AIFT score, :class:`RandomSampling`
        by random priorities and :class:`MeanUncertainty` by the entropy of
        the candidate's mean prediction.

        Parameters
        ----------
        learner : object
            Provides ``predict_patch_proba`` itself or through
            ``learner.estimator`` (see :func:`patch_proba`); its labels so far
            (``y_training``) decide the cold start of :class:`AIFTSampling`.
            Not used by :class:`RandomSampling`.
        X_pool : candidate array or CandidateSet
            The unlabeled pool.
        n_instances : int, default=1
            How many candidates to return (all remaining ones when larger).
        random_state : None, int, RandomState or Generator, default=None
            The source of :class:`RandomSampling`'s priorities (scores in
            [0, 1)) and of :class:`AIFTSampling`'s cold-start batch (seed 0
            when None); the AIFT and mean-uncertainty scores are
            deterministic.
        exclude : array-like of int, default=None
            Pool indices never to return (e.g. already labeled candidates).
        **kwargs
            ``n_jobs`` and ``chunk_size`` make the strategies that predict
            score the pool in chunks through joblib
            (:func:`~sklearn_aift.parallel.pool_scores`, also on a Dask
            cluster); other keywords are accepted and ignored.

        Returns
        -------
        indices : ndarray of int
            Pool indices of the chosen candidates, best first.
        scores : ndarray of float
            Their scores, aligned with ``indices``.

        Raises
        ------
        TypeError
            If ``n_instances`` is not an integer or ``exclude`` does not hold
            integers.
        ValueError
            If ``n_instances < 1``, ``X_pool`` is empty, ``exclude`` holds
            indices outside the pool or covers all of it, the patch
            probabilities are invalid or ``random_state`` is not a valid seed.
        """
        n_instances, n_pool, keep, picked = self._start(learner, X_pool, n_instances,
                                                        random_state, exclude)
        if picked is not None:
            return picked
        scores = self._scores(
            learner, X_pool, keep, n_pool, random_state,
            n_jobs=kwargs.get("n_jobs"), chunk_size=kwargs.get("chunk_size"),
        )
        # stable sort on -score: ties keep the pool order, i.e. the lower index wins
        order = self._batch(learner, X_pool, keep, n_pool, scores, n_instances, random_state)
        return keep[order], scores[order]

    def _batch(self, learner, X_pool, keep, n_pool, scores, n_instances, random_state):
        """Positions in ``scores`` of the batch: the top ``n_instances``."""
        return np.argsort(-scores, kind="stable")[:n_instances]

    def _start(self, learner, X_pool, n_instances, random_state, exclude):
        """The checked ``n_instances``, the pool size, the positions left, the cold-start batch.

        The batch is None once the cold start is over (or the strategy has none).
        Nothing is checked twice: under ``ActiveLearner.query`` the arguments
        arrive validated (see :func:`~sklearn_aift._strategy_context.query_positions`).
        """
        n_instances, n_pool, keep = query_positions(X_pool, n_instances, exclude)
        picked = None
        if (self.cold_start is not None
                and strategy_context(learner).in_cold_start(self.cold_start_per_class)):
            picked = self._cold_start_batch(learner, X_pool, keep, n_pool, n_instances,
                                            random_state)
        return n_instances, n_pool, keep, picked

    def _scores(
        self, learner, X_pool, keep, n_pool, random_state, n_jobs=None, chunk_size=None
    ) -> np.ndarray:
        raise NotImplementedError

    def _cold_start_batch(self, learner, X_pool, keep, n_pool, n_instances, random_state):
        """The cold-start policy's batch, or None to rank by the strategy's own scores."""
        # None seeds the cold start with 0: a cold-start batch is reproducible by default
        seed = 0 if random_state is None else random_state
        context = strategy_context(learner)
        policy = self.start_policy(len(context.labels))
        if policy == "random":
            # the priorities random_sampling draws: with the same seed, the same batch
            scores = check_random_state(seed).random(n_pool)[keep]
            order = np.argsort(-scores, kind="stable")[:n_instances]
            return keep[order], scores[order]
        embed = context.embed
        if embed is None:
            logger.warning(
                "%s: the learner's estimator has no embed(X), so the cold start cannot pick a "
                "%s batch; ranking by the AIFT criterion instead.", self.__name__, policy,
            )
            return None
        features = on_remaining(lambda X: np.asarray(embed(X), dtype=np.float64), X_pool, keep,
                                 n_pool)
        if policy == "typical":
            labeled, _ = _labeled_features(context, features.shape[1])
            order, scores = uncovered_typical(features, labeled, n_instances,
                                              check_random_state(seed))
            return keep[order], scores
        order, shares = representative_order(features, n_instances, check_random_state(seed))
        return keep[order], shares

    def start_policy(self, n_labeled: int) -> str | None:
        """The kind of batch the cold start picks with ``n_labeled`` labels so far.

        ``cold_start`` itself, except that "typical_first" picks TypiClust's
        batch ("typical") while nothing is labeled and random picks after.

        Parameters
        ----------
        n_labeled : int
            Labels the learner holds.

        Returns
        -------
        policy : {"random", "representative", "typical"} or None
            None when the strategy has no cold start.

        Examples
        --------
        >>> from sklearn_aift.strategies import aift_sampling
        >>> strategy = aift_sampling(cold_start="typical_first")
        >>> strategy.start_policy(0), strategy.start_policy(10)
        ('typical', 'random')
        """
        if self.cold_start == "typical_first":
            return "random" if n_labeled else "typical"
        return self.cold_start

    def get_params(self) -> dict[str, Any]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return {}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))


class AIFTSampling(_Strategy):
    """AIFT query strategy: rank candidates by the sum of ``R_i`` (Alg. 1).

    Scores every candidate with :func:`~sklearn_aift.scoring.candidate_scores`
    (majority selection of ``alpha`` of its patches, entropy weighted by
    ``lambda1`` plus pairwise symmetric KL diversity weighted by ``lambda2``)
    and returns the highest. Instances are picklable, compare equal when their
    parameters are equal, and are named after the paper's variant when they
    are one (``entropy_diversity_quarter`` ...).

    Parameters
    ----------
    alpha : float, default=0.25
        Fraction of each candidate's patches kept by majority selection, in
        (0, 1].
    lambda1 : float, default=1.0
        Weight of the entropy term, >= 0.
    lambda2 : float, default=1.0
        Weight of the diversity term, >= 0; not both 0.
    cold_start : {"random", "representative", "typical", "typical_first", None}, \
            default="random"
        The cold-start policy, used while some class has fewer than
        ``cold_start_per_class`` labels: "random" returns the candidates
        :data:`random_sampling` would (the same batch for the same seed;
        scores are the random priorities), "representative" the candidates
        nearest to k-means centres of the pool's features (larger clusters
        first; scores are the clusters' shares of the pool), "typical"
        TypiClust's batch (the pool and the labeled candidates clustered
        together into ``n_labeled + n_instances`` k-means clusters; from the
        largest clusters without a label, the most typical candidate, i.e.
        the one with the densest ``embed`` neighbourhood within its cluster;
        scores are the clusters' shares of the pool), "typical_first"
        TypiClust's batch while nothing is labeled and random picks
        afterwards; None always ranks by the AIFT criterion, as in the paper.
        The default was chosen on splits of the training pools (see the user
        guide's cold-start page).
    cold_start_per_class : int, default=5
        Labels of every class the learner must hold before the AIFT
        criterion takes over (the classes are the learner's or estimator's
        ``classes``, else at least two labelled classes are required).
    batch : {"top", "randomized", "diverse"}, default="top"
        How the batch is taken from the ranking: "top" the ``n_instances``
        best (the paper); "randomized" drawn uniformly from the
        ``omega * n_instances`` best distinct candidates (ACFT's randomised
        selection); "diverse" a k-center greedy batch over ``embed``
        features among them, starting from the best (see
        :mod:`sklearn_aift._batch`). Both skip candidates whose content
        equals a better-ranked one's, "diverse" also near-copies.
    omega : float, default=4.0
        Shortlist size factor of the batch-aware modes, >= 1.
    duplicate_tol : float, default=0.1
        With ``batch="diverse"``: candidates whose features are closer than
        ``duplicate_tol`` times the median distance between two pool
        candidates count as one, >= 0.
    density : float, default=0.0
        Exponent of the typicality weight: each AIFT score is multiplied by
        the candidate's typicality (inverse mean distance to its 20 nearest
        pool neighbours in ``embed`` features, at most 1) to this power, so
        that informative candidates of dense regions come before outliers
        (information density). 0 is the paper's unweighted score, >= 0.
    switch : {None, "agreement"}, default=None
        When the cold start is over, how the batch moves from covering the
        pool to the AIFT ranking. None: all of it by the ranking (the
        paper). "agreement": a share of the batch goes to the ranking (taken
        from it as ``batch`` says) that grows with the agreement between the network's classes of the
        unlabeled candidates and the vote of their 5 nearest labeled
        candidates in ``embed`` features (all of it from ``switch_at`` on,
        none at chance agreement); the rest covers the pool with the most
        typical candidate of each large cluster holding no label
        (TypiClust's choice; see :mod:`sklearn_aift._coverage`). Needs
        ``embed`` and the learner's labeled set (``X_training``,
        ``y_training``).
    switch_at : float, default=0.9
        The agreement in (0, 1] from which the whole batch is ranked.

    Attributes
    ----------
    __name__ : str
        The paper's name of the variant, or
        ``"aift_sampling(alpha=..., lambda1=..., lambda2=...)"``, suffixed
        with ``"(cold_start=None)"`` etc. when the cold start differs from the
        default.

    Raises
    ------
    TypeError, ValueError
        If a parameter is invalid (see :func:`aift_sampling`).

    See Also
    --------
    aift_sampling : The factory.
    sklearn_aift.scoring.candidate_scores : The score.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.strategies import AIFTSampling
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         q = np.array([[0.9, 0.9], [0.5, 0.4], [0.1, 0.9]])[: len(X)]
    ...         return np.stack([1 - q, q], axis=-1)
    >>> strategy = AIFTSampling(alpha=1.0, lambda1=1.0, lambda2=1.0)
    >>> strategy.__name__
    'entropy_diversity'
    >>> indices, scores = strategy(Net(), np.zeros((3, 2, 3, 8, 8)), n_instances=2)
    >>> indices
    array([2, 1])
    """

    def __init__(self, alpha: float = 0.25, lambda1: float = 1.0, lambda2: float = 1.0,
                 cold_start: str | None = "random", cold_start_per_class: int = 5,
                 batch: str = "top", omega: float = 4.0, duplicate_tol: float = 0.1,
                 density: float = 0.0, switch: str | None = None, switch_at: float = 0.9):
        self.alpha = _check_alpha(alpha)
        self.lambda1, self.lambda2 = _check_lambdas(lambda1, lambda2)
        self.cold_start = _check_cold_start(cold_start)
        self.cold_start_per_class = _check_per_class(cold_start_per_class)
        self.batch, self.omega, self.duplicate_tol = _check_batch(batch, omega, duplicate_tol)
        self.density = _check_density(density)
        self.switch, self.switch_at = _check_switch(switch, switch_at)
        params = (self.alpha, self.lambda1, self.lambda2)
        names = [name for name, value in _PAPER_VARIANTS.items() if value == params]
        suffix = ""
        if (self.cold_start, self.cold_start_per_class) != ("random", 5):
            suffix = f"(cold_start={self.cold_start!r}"
            if self.cold_start is not None:
                suffix += f", cold_start_per_class={self.cold_start_per_class}"
            suffix += ")"
        if self.density:
            suffix += f"(density={self.density!r})"
        if self.switch is not None:
            suffix += f"(switch={self.switch!r}, switch_at={self.switch_at!r})"
        if self.batch != "top":
            suffix += (f"(batch={self.batch!r}, omega={self.omega!r}"
                       + (f", duplicate_tol={self.duplicate_tol!r})" if self.batch == "diverse"
                          else ")"))
        self.__name__ = (
            names[0] + suffix
            if names
            else f"aift_sampling(alpha={self.alpha!r}, lambda1={self.lambda1!r}, "
            f"lambda2={self.lambda2!r}){suffix}"
        )

    def get_params(self) -> dict[str, float]:
        """Parameters of the strategy.

        Returns
        -------
        params : dict
            ``alpha``, ``lambda1``, ``lambda2``, ``cold_start`` and
            ``cold_start_per_class``; ``batch``, ``omega`` and
            ``duplicate_tol`` too when ``batch`` is not "top", and
            ``density`` when it is not 0, ``switch`` and ``switch_at`` when
            ``switch`` is not None (so that the paper's selection is
            described as before and stored comparisons and sessions stay
            valid).
        """
        params = {"alpha": self.alpha, "lambda1": self.lambda1, "lambda2": self.lambda2,
                  "cold_start": self.cold_start,
                  "cold_start_per_class": self.cold_start_per_class}
        if self.batch != "top":
            params.update(batch=self.batch, omega=self.omega, duplicate_tol=self.duplicate_tol)
        if self.density:
            params["density"] = self.density
        if self.switch is not None:
            params.update(switch=self.switch, switch_at=self.switch_at)
        return params

    def _batch(self, learner, X_pool, keep, n_pool, scores, n_instances, random_state):
        if self.switch is not None:
            covering = self._covering_rows(learner, X_pool, keep, n_pool, n_instances,
                                           random_state)
            if len(covering):
                # the rest of the batch is taken from the ranking as ``batch`` says
                rest = np.flatnonzero(~np.isin(np.arange(len(keep)), covering))
                n_ranked = n_instances - len(covering)
                ranked = self._ranked_batch(learner, X_pool, keep[rest], n_pool, scores[rest],
                                            n_ranked, random_state) if n_ranked else []
                return np.concatenate([covering, rest[ranked]]).astype(np.intp)
        return self._ranked_batch(learner, X_pool, keep, n_pool, scores, n_instances,
                                  random_state)

    def _ranked_batch(self, learner, X_pool, keep, n_pool, scores, n_instances, random_state):
        """Positions in ``scores`` of ``n_instances`` taken from the ranking by ``batch``."""
        if self.batch == "top":
            return super()._batch(learner, X_pool, keep, n_pool, scores, n_instances,
                                  random_state)
        embed = strategy_context(learner).embed if self.batch == "diverse" else None
        if self.batch == "diverse" and embed is None:
            raise TypeError(
                f"batch='diverse' needs candidate features: learner must have an embed(X) "
                f"method or an `estimator` that has one (e.g. sklearn_aift.AIFTNet); got "
                f"{type(learner).__name__}."
            )
        pool_keys = candidate_keys(X_pool)
        return select_batch(
            scores, n_instances, mode=self.batch, omega=self.omega,
            rng=check_random_state(0 if random_state is None else random_state),
            keys=lambda positions: pool_keys[keep[positions]],
            features=lambda: on_remaining(lambda X: np.asarray(embed(X), dtype=np.float64),
                                           X_pool, keep, n_pool),
            duplicate_tol=self.duplicate_tol,
        )

    def _covering_rows(self, learner, X_pool, keep, n_pool, n_instances, random_state):
        """Positions of the batch's covering part (empty once the evidence says rank)."""
        context = strategy_context(learner)
        if context.embed is None or context.labeled_data is None:
            raise TypeError(
                f"switch={self.switch!r} needs candidate features and the labeled set: "
                f"learner must have X_training, y_training and an embed(X) method (or an "
                f"`estimator` with embed, e.g. sklearn_aift.AIFTNet); got "
                f"{type(learner).__name__}."
            )
        P = on_remaining(context.patch_proba, X_pool, keep, n_pool)
        classes = np.asarray(context.classes if context.classes is not None
                             else np.unique(context.labels))
        if len(context.labels) == 0 or len(classes) != P.shape[-1]:
            return np.zeros(0, dtype=np.intp)
        embed = context.embed
        pool_features = on_remaining(lambda X: np.asarray(embed(X), dtype=np.float64),
                                      X_pool, keep, n_pool)
        labeled_features, labels = _labeled_features(context, pool_features.shape[1])
        if len(labels) == 0:
            return np.zeros(0, dtype=np.intp)
        agreement = neighbour_agreement(pool_features, classes[P.mean(axis=1).argmax(axis=1)],
                                        labeled_features, labels)
        share = disagreement_share(agreement, len(classes), self.switch_at)
        n_covering = n_instances - int(round(share * n_instances))
        logger.debug("%s: agreement %.3f with the labeled neighbours, %d of %d covering",
                     self.__name__, agreement, n_covering, n_instances)
        rng = check_random_state(0 if random_state is None else random_state)
        return uncovered_typical(pool_features, labeled_features, n_covering, rng)[0]

    def _scores(
        self, learner, X_pool, keep, n_pool, random_state, n_jobs=None, chunk_size=None
    ):
        scores = self._aift_scores(learner, X_pool, keep, n_pool, n_jobs, chunk_size)
        if not self.density:
            return scores
        embed = strategy_context(learner).embed
        if embed is None:
            raise TypeError(
                f"density > 0 needs candidate features: learner must have an embed(X) method "
                f"or an `estimator` that has one (e.g. sklearn_aift.AIFTNet); got "
                f"{type(learner).__name__}."
            )
        features = on_remaining(lambda X: np.asarray(embed(X), dtype=np.float64), X_pool, keep,
                                 n_pool)
        return scores * typicality(features) ** self.density

    def _aift_scores(self, learner, X_pool, keep, n_pool, n_jobs, chunk_size):
        context = strategy_context(learner)
        if context.scores_in_chunks(n_jobs, chunk_size):
            score = functools.partial(
                _candidate_scores, alpha=self.alpha, lambda1=self.lambda1, lambda2=self.lambda2
            )
            return pool_scores(
                learner, X_pool, score, indices=keep, n_jobs=n_jobs, chunk_size=chunk_size
            )
        P = on_remaining(context.patch_proba, X_pool, keep, n_pool)
        return _candidate_scores(P, self.alpha, self.lambda1, self.lambda2)

class RandomSampling(_Strategy):
    """Random queries: the paper's IFT Random baseline.

    Each candidate gets a random priority drawn from ``random_state`` (one per
    pool candidate, so a seed fixes the whole ranking) and the highest
    priorities are returned. The learner is never asked for predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.strategies import random_sampling
    >>> X_pool = np.zeros((10, 4, 3, 8, 8))
    >>> a, _ = random_sampling(None, X_pool, n_instances=3, random_state=0)
    >>> b, _ = random_sampling(None, X_pool, n_instances=3, random_state=0)
    >>> bool((a == b).all()), len(a)
    (True, 3)
    """

    __name__ = "random_sampling"

    def _scores(
        self, learner, X_pool, keep, n_pool, random_state, n_jobs=None, chunk_size=None
    ):
        # one priority per pool candidate, so exclusions do not shift the others
        return check_random_state(random_state).random(n_pool)[keep]

class MeanUncertainty(_Strategy):
    """Uncertainty sampling on the candidate's mean prediction.

    The score is the entropy (natural log, probabilities floored at
    :data:`~sklearn_aift.scoring.EPS` inside the log) of the mean of the
    candidate's patch probabilities, the candidate-level prediction of the
    paper (sec. 4.3). No majority selection, no diversity.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.strategies import mean_uncertainty
    >>> class Net:
    ...     def predict_patch_proba(self, X):
    ...         q = np.array([[0.9, 0.9], [0.1, 0.9], [0.6, 0.7]])
    ...         return np.stack([1 - q, q], axis=-1)
    >>> mean_uncertainty(Net(), np.zeros((3, 2, 3, 8, 8)), n_instances=3)[0]
    array([1, 2, 0])
    """

    __name__ = "mean_uncertainty"

    def _scores(
        self, learner, X_pool, keep, n_pool, random_state, n_jobs=None, chunk_size=None
    ):
        if strategy_context(learner).scores_in_chunks(n_jobs, chunk_size):
            return pool_scores(
                learner, X_pool, _mean_entropy, indices=keep, n_jobs=n_jobs,
                chunk_size=chunk_size,
            )
        return _mean_entropy(on_remaining(lambda X: patch_proba(learner, X), X_pool, keep,
                                           n_pool))


def _labeled_features(context: Any, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``embed`` features of the labeled candidates that can be read, and their labels.

    None kept (or none labeled): no rows.
    """
    if context.labeled_data is None or not len(context.labels):
        return np.zeros((0, n_features)), np.asarray(context.labels)[:0]
    X, y = context.labeled_data()
    if not len(y):
        return np.zeros((0, n_features)), np.asarray(y)
    return np.asarray(context.embed(X), dtype=np.float64), np.asarray(y)


def _mean_entropy(P: np.ndarray) -> np.ndarray:
    """Entropy of each candidate's mean patch prediction (module level: picklable)."""
    return patch_entropy(check_patch_proba(P).mean(axis=1))


def aift_sampling(alpha: float = 0.25, lambda1: float = 1.0, lambda2: float = 1.0,
                  cold_start: str | None = "random",
                  cold_start_per_class: int = 5, batch: str = "top", omega: float = 4.0,
                  duplicate_tol: float = 0.1, density: float = 0.0,
                  switch: str | None = None, switch_at: float = 0.9) -> AIFTSampling:
    """Make an AIFT query strategy with the given parameters.

    Parameters
    ----------
    alpha : float, default=0.25
        Fraction of each candidate's patches kept by majority selection, in
        (0, 1].
    lambda1 : float, default=1.0
        Weight of the entropy term, >= 0.
    lambda2 : float, default=1.0
        Weight of the diversity term, >= 0; not both 0.
    cold_start : {"random", "representative", "typical", "typical_first", None}, \
            default="random"
        The cold-start policy (see :class:`AIFTSampling`); None is the
        paper's pure criterion from the first round.
    cold_start_per_class : int, default=5
        Labels of every class needed before the AIFT criterion takes over.
    batch : {"top", "randomized", "diverse"}, default="top"
        How the batch is taken from the ranking (see :class:`AIFTSampling`);
        "top" is the paper's.
    omega : float, default=4.0
        Shortlist size factor of the batch-aware modes.
    duplicate_tol : float, default=0.1
        Near-copy tolerance of ``batch="diverse"``.
    density : float, default=0.0
        Exponent of the typicality weight of the scores (0: unweighted, the
        paper's).
    switch : {None, "agreement"}, default=None
        How the batch moves from covering the pool to the AIFT ranking after
        the cold start (see :class:`AIFTSampling`); None is the paper's.
    switch_at : float, default=0.9
        The agreement from which the whole batch is ranked, in (0, 1].

    Returns
    -------
    strategy : AIFTSampling
        A named, picklable strategy; equal to the paper's variant of the same
        parameters (``aift_sampling(0.25, 1, 1) == entropy_diversity_quarter``).

    Raises
    ------
    TypeError
        If a parameter is not a real number, or ``cold_start_per_class`` not
        an integer.
    ValueError
        If ``alpha`` is outside (0, 1], a lambda is negative or both are 0,
        ``cold_start`` is unknown, ``cold_start_per_class < 1``, ``batch``
        is unknown, ``omega < 1``, ``duplicate_tol < 0``, ``density < 0``,
        ``switch`` is unknown or ``switch_at`` is outside (0, 1].

    Examples
    --------
    >>> from sklearn_aift.strategies import aift_sampling
    >>> aift_sampling(alpha=0.5, lambda1=1.0, lambda2=2.0).__name__
    'aift_sampling(alpha=0.5, lambda1=1.0, lambda2=2.0)'
    >>> aift_sampling(alpha=0.25, lambda1=1, lambda2=0).__name__
    'entropy_quarter'
    >>> aift_sampling(alpha=0.25, lambda1=0, lambda2=1, cold_start=None).__name__
    'diversity_quarter(cold_start=None)'
    """
    return AIFTSampling(alpha=alpha, lambda1=lambda1, lambda2=lambda2, cold_start=cold_start,
                        cold_start_per_class=cold_start_per_class, batch=batch, omega=omega,
                        duplicate_tol=duplicate_tol, density=density, switch=switch,
                        switch_at=switch_at)


def _check_cold_start(cold_start: Any) -> str | None:
    if cold_start not in COLD_START_POLICIES:
        raise ValueError(
            f"cold_start must be one of {COLD_START_POLICIES}; got {cold_start!r}."
        )
    return cold_start


def _check_batch(batch: Any, omega: Any, duplicate_tol: Any) -> tuple[str, float, float]:
    if batch not in BATCH_MODES:
        raise ValueError(f"batch must be one of {BATCH_MODES}; got {batch!r}.")
    for name, value, low in (("omega", omega, 1.0), ("duplicate_tol", duplicate_tol, 0.0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number; got {value!r}.")
        if not value >= low:
            raise ValueError(f"{name} must be >= {low:g}; got {value!r}.")
    return batch, float(omega), float(duplicate_tol)


def _check_switch(switch: Any, switch_at: Any) -> tuple[str | None, float]:
    if switch not in SWITCH_POLICIES:
        raise ValueError(f"switch must be one of {SWITCH_POLICIES}; got {switch!r}.")
    if isinstance(switch_at, bool) or not isinstance(switch_at, numbers.Real):
        raise TypeError(f"switch_at must be a real number; got {switch_at!r}.")
    if not 0 < switch_at <= 1:
        raise ValueError(f"switch_at must be in (0, 1]; got {switch_at!r}.")
    return switch, float(switch_at)


def _check_density(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"density must be a real number; got {value!r}.")
    if not value >= 0:
        raise ValueError(f"density must be >= 0; got {value!r}.")
    return float(value)


def _check_per_class(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"cold_start_per_class must be a positive integer; got {value!r}.")
    if value < 1:
        raise ValueError(f"cold_start_per_class must be >= 1; got {value}.")
    return int(value)


entropy = AIFTSampling(*_PAPER_VARIANTS["entropy"])
entropy_quarter = AIFTSampling(*_PAPER_VARIANTS["entropy_quarter"])
diversity = AIFTSampling(*_PAPER_VARIANTS["diversity"])
diversity_quarter = AIFTSampling(*_PAPER_VARIANTS["diversity_quarter"])
entropy_diversity = AIFTSampling(*_PAPER_VARIANTS["entropy_diversity"])
entropy_diversity_quarter = AIFTSampling(*_PAPER_VARIANTS["entropy_diversity_quarter"])
random_sampling = RandomSampling()
mean_uncertainty = MeanUncertainty()

# the strategies known by name to the command line, the labeling page, the
# experiments and resumed sessions
_BY_NAME = {
    strategy.__name__: strategy
    for strategy in (entropy, entropy_quarter, diversity, diversity_quarter, entropy_diversity,
                     entropy_diversity_quarter, random_sampling, mean_uncertainty)
}
#: The names :func:`get_strategy` knows.
STRATEGY_NAMES = tuple(_BY_NAME)


def get_strategy(name: str) -> _Strategy:
    """The strategy of this module called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGY_NAMES`: a paper variant
        (``entropy_diversity_quarter`` ...), ``random_sampling`` or
        ``mean_uncertainty``.

    Returns
    -------
    strategy : AIFTSampling, RandomSampling or MeanUncertainty
        The module's instance of that name.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If no strategy has that name.

    Examples
    --------
    >>> from sklearn_aift.strategies import get_strategy
    >>> get_strategy("diversity_quarter").get_params()["alpha"]
    0.25
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a strategy name (str); got {name!r}.")
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"name must be one of {', '.join(STRATEGY_NAMES)}; got {name!r}."
        ) from None


# --------------------------------------------------------------------------- #
# description
# --------------------------------------------------------------------------- #
def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def describe_strategy(strategy: Callable) -> dict[str, Any]:
    """A JSON-serialisable description identifying a strategy and its parameters.

    Used to check that a resumed session queries with the same strategy.

    Parameters
    ----------
    strategy : callable
        A strategy of this module, or any callable.

    Returns
    -------
    description : dict
        For this module's strategies: ``class`` (its qualified class name),
        ``name`` (the module attribute for the paper's variants and the
        baselines), ``params`` and, for :class:`AIFTSampling`, ``factory``
        (``"aift_sampling"``, which rebuilds it from ``params``). For other
        callables: ``module`` and ``qualname`` (of the class for callable
        objects), plus ``params`` when the object has ``get_params()``, or
        ``args``/``keywords`` for a :func:`functools.partial` (non-JSON
        values by their ``repr``).

    Raises
    ------
    TypeError
        If ``strategy`` is not callable.

    Examples
    --------
    >>> from sklearn_aift.strategies import describe_strategy, entropy_quarter
    >>> describe_strategy(entropy_quarter)["params"]["alpha"]
    0.25
    >>> def my_strategy(learner, X_pool, n_instances=1, random_state=None):
    ...     pass
    >>> sorted(describe_strategy(my_strategy))
    ['module', 'qualname']
    """
    if not callable(strategy):
        raise TypeError(f"strategy must be callable; got {strategy!r}.")
    if isinstance(strategy, _Strategy):
        description = {
            "class": f"{type(strategy).__module__}.{type(strategy).__qualname__}",
            "name": strategy.__name__,
            "params": _jsonable(strategy.get_params()),
        }
        if isinstance(strategy, AIFTSampling):
            description["factory"] = "aift_sampling"
        return description
    if isinstance(strategy, functools.partial):
        description = describe_strategy(strategy.func)
        description["args"] = _jsonable(list(strategy.args))
        description["keywords"] = _jsonable(dict(strategy.keywords))
        return description
    target = strategy if hasattr(strategy, "__qualname__") else type(strategy)
    description = {
        "module": getattr(target, "__module__", None),
        "qualname": target.__qualname__,
    }
    get_params = getattr(strategy, "get_params", None)
    if target is type(strategy) and callable(get_params):
        description["params"] = _jsonable(get_params())
    return description
