"""The AIFT loop (Alg. 1 of Zhou et al., CVPR 2017) with durable labeling sessions."""

from __future__ import annotations

import inspect
import logging
import os
import time
from typing import Any, Callable

import numpy as np

from ..candidates import check_candidate_labels, check_candidates, materialize
from ..strategies import entropy_diversity_quarter
from ..utils import check_count, validated_inputs
from . import _resume
from ._labeled import LabeledSet, LastQuery, PoolView, identify
from ._modal_api import ModALAPI
from ._persistence import SessionPersistence
from ._rounds import PendingRound, RoundKeeping
from ._run import OracleLoop
from ._session import SessionStore
from ._validation import (
    apply_classes,
    check_annotator,
    check_classes,
    check_estimator,
    check_labels,
    is_fitted,
    is_int,
    label_value,
)

__all__ = ["ActiveLearner"]

_logger = logging.getLogger("sklearn_aift.learner")


class ActiveLearner(ModALAPI, SessionPersistence, OracleLoop, RoundKeeping):
    """Active incremental fine-tuning (AIFT) from zero labels, with durable sessions.

    Runs Alg. 1 of the paper: ``query`` ranks the unlabeled candidates of a
    pool with ``query_strategy`` using the current model, the expert labels the
    top ones, ``teach`` records them in the labeled set ``L`` and fine-tunes
    the current model on ``L`` (``M_t <- F(L, M_{t-1})``). :meth:`run` drives
    the whole loop against an oracle.

    Candidates are known by their content (a
    :class:`~sklearn_aift.candidates.CandidateSet`'s keys, or the digest of
    their pixels; see :func:`~sklearn_aift.candidates.candidate_keys`), not
    by their position, so any pool works on any call: the same pool, one
    shrunk with ``np.delete`` as in modAL's loop, one grown with new
    candidates, or a new one. Query indices refer to the ``X_pool`` of that
    call. Labeled candidates (``X_training``'s included) are never proposed
    again, wherever they sit.

    Parameters
    ----------
    estimator : estimator object
        The model, usually :class:`~sklearn_aift.net.AIFTNet`. It needs
        ``predict_patch_proba(X) -> (n, m, K)`` and ``fit(X, y)``; with
        ``warm_start=True`` each fit continues from the current weights. For
        ``autosave`` and :meth:`save` it also needs ``save_checkpoint(path)``
        and ``load_checkpoint(path)``. The learner fine-tunes it in place.
    query_strategy : callable, default=entropy_diversity_quarter
        ``strategy(learner, X_pool, n_instances=1, random_state=None, **kw)
        -> (indices, scores)``, e.g. one of :mod:`sklearn_aift.strategies`.
        When it accepts ``exclude``, the positions of the labeled candidates in
        ``X_pool`` are passed there; otherwise the learner asks for more
        candidates and drops them.
    X_training : candidate array, default=None
        Optional initial labeled candidates, taught (annotator ``"import"``)
        as the first round at the first call to ``query``, ``teach``, ``run``
        or ``save``. The paper's setting is None: start from zero labels.
    y_training : array-like of shape (n_training,), default=None
        Labels of ``X_training``.
    classes : array-like of shape (n_classes,), default=None
        All the classes, known up front. Then a first batch holding a single
        class still trains a ``n_classes`` head (the learner sets the
        estimator's ``classes`` parameter when it has one and it is unset),
        and labels outside ``classes`` are rejected. When None, the classes
        are those of the labels, and fine-tuning waits (with a logged warning)
        until ``L`` holds two classes; queries keep working meanwhile.
    autosave : str or path-like, default=None
        A folder for a new session store (:class:`SessionStore`), created at
        first use. Every ``teach`` is committed there before anything else
        happens, and the weights after each completed round. Resume with
        :meth:`load` (or :meth:`open`).
    random_state : int or None, default=None
        Seeds the strategy: round ``t`` gets a seed derived from
        ``(random_state, t)``, so a resumed session queries exactly like an
        uninterrupted one. The estimator keeps its own ``random_state``.

    Attributes
    ----------
    estimator : estimator object
        The model being fine-tuned.
    history_ : list of dict
        One entry per completed round: ``round``, ``n_labels`` (size of ``L``
        after the round), ``n_new``, ``queried`` (indices of the last query
        in that query's pool), ``scores`` (their strategy scores),
        ``scoring_time`` and ``training_time`` (seconds), ``trained`` (False
        when fine-tuning waited for a second class), ``only_new`` and
        ``taught_at``.
    n_iter_ : int
        Number of completed rounds (``t - 1`` in Alg. 1).
    labeled_keys_ : list of str
        Keys of the labeled candidates, in the order first taught.
    labels_ : list of dict
        The labeled set, for export: ``candidate_key``, ``label``, ``round``,
        ``annotator`` and ``labeled_at`` of each candidate's current label.
    labeled_indices_ : ndarray of int
        Positions of the labeled candidates in the last pool passed to
        :meth:`query`, :meth:`run`, :meth:`load` or :meth:`open`.
    X_training : ndarray of shape (n_labels, m, C, H, W)
        The labeled candidates ``L`` (empty before the first label).
    y_training : ndarray of shape (n_labels,)
        Their labels (empty before the first label).

    See Also
    --------
    sklearn_aift.strategies : the query strategies.
    SessionStore : the session store format.

    Notes
    -----
    Two identical candidates share a key: labeling one labels both. A
    candidate is recognised when taught as a CandidateSet (by its key) or as
    an array (by its pixels); a plain array cut from a CandidateSet pool is
    recognised when it comes from the last query, or was labeled before.

    modAL's own ``ActiveLearner`` (modAL-python 0.4.2.1) pins a skorch that no
    longer installs and its ``fit``/``teach`` crash on scikit-learn >= 1.8;
    its ``query`` still works, so this module's strategies plug into it
    unchanged. This class offers modAL's API without those problems.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.learner import ActiveLearner
    >>> class Brightness:  # a stand-in model: P(positive) grows with brightness
    ...     def predict_patch_proba(self, X):
    ...         p = np.asarray(X, dtype=float).mean(axis=(-3, -2, -1)) / 255
    ...         return np.stack([1 - p, p], axis=-1)
    ...     def fit(self, X, y):
    ...         return self
    >>> def brightest(learner, X_pool, n_instances=1, random_state=None, exclude=None):
    ...     p = learner.predict_patch_proba(X_pool)[..., 1].mean(axis=1)
    ...     p[np.asarray(exclude if exclude is not None else [], dtype=int)] = -1
    ...     order = np.argsort(-p, kind="stable")[:n_instances]
    ...     return order, p[order]
    >>> X_pool = np.arange(5, dtype=np.uint8)[:, None, None, None, None] * np.ones(
    ...     (1, 2, 1, 4, 4), dtype=np.uint8)
    >>> learner = ActiveLearner(Brightness(), query_strategy=brightest)
    >>> idx, X_query = learner.query(X_pool, n_instances=2)
    >>> idx
    array([4, 3])
    >>> learner = learner.teach(X_query, [1, 0])
    >>> learner.query(X_pool, n_instances=2)[0]  # labeled candidates are excluded
    array([2, 1])
    >>> X_pool = np.delete(X_pool, idx, axis=0)  # modAL's loop: same candidates
    >>> learner.query(X_pool, n_instances=2)[0]
    array([2, 1])

    The whole loop with a real network against an oracle, saved and resumed:

    >>> import os, tempfile
    >>> from sklearn_aift import AIFTNet
    >>> rng = np.random.default_rng(0)
    >>> X_pool = rng.integers(0, 256, size=(12, 2, 3, 32, 32), dtype=np.uint8)
    >>> y_pool = np.arange(12) % 2
    >>> params = dict(backbone="mobilenet_v3_small", weights=None, input_size=32,
    ...               max_epochs=1, max_epochs_incremental=1, batch_size=8, random_state=0)
    >>> learner = ActiveLearner(AIFTNet(**params), classes=[0, 1], random_state=0)
    >>> learner.run(y_pool, X_pool, budget=6, batch_size=3).n_iter_
    2
    >>> folder = os.path.join(tempfile.mkdtemp(), "campaign")
    >>> learner = learner.save(folder)
    >>> resumed = ActiveLearner.load(folder, estimator=AIFTNet(**params), X_pool=X_pool)
    >>> resumed.labeled_keys_ == learner.labeled_keys_, resumed.estimator.n_fits_
    (True, 2)
    >>> len(resumed.run(y_pool, X_pool, budget=9, batch_size=3).y_training)
    9
    """

    def __init__(
        self,
        estimator: Any,
        query_strategy: Callable = entropy_diversity_quarter,
        X_training: Any = None,
        y_training: Any = None,
        classes: Any = None,
        autosave: str | os.PathLike | None = None,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.query_strategy = query_strategy
        self._X_initial = X_training
        self._y_initial = y_training
        self.classes = classes
        self.autosave = autosave
        self.random_state = random_state
        self._initialized = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(estimator={self.estimator!r}, "
            f"query_strategy={strategy_name(self.query_strategy)}, n_labels={self._n_labels})"
        )

    # -- set-up -----------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._labeled = LabeledSet()
        self._last_trained_round = 0
        self._has_trained = False
        self._pool: PoolView | None = None
        self._last_query: LastQuery | None = None  # what teach(indices=...) refers to
        self._pending: PendingRound | None = None  # a fine-tuning to complete first
        self._store: SessionStore | None = None
        self.history_: list[dict[str, Any]] = []
        self.n_iter_ = 0

    def _check_params(self) -> None:
        check_estimator(self.estimator, need_checkpoint=self.autosave is not None)
        if not callable(self.query_strategy):
            raise TypeError(
                f"query_strategy must be a callable strategy(learner, X_pool, n_instances, "
                f"random_state=None, **kw) -> (indices, scores); got {self.query_strategy!r}."
            )
        if self.random_state is not None and not is_int(self.random_state):
            raise TypeError(
                f"random_state must be None or an int (a seed that makes resumed sessions "
                f"query like uninterrupted ones); got {self.random_state!r}."
            )
        self._classes_list = check_classes(self.classes)
        apply_classes(self.estimator, self._classes_list)

    def _initialize(self) -> None:
        if self._initialized:
            return
        self._check_params()
        self._reset_state()
        if self.autosave is not None:
            self._store = SessionStore.create(self.autosave, _resume.session_meta(self))
            if is_fitted(self.estimator):
                # The starting model is not reproducible from its parameters alone.
                weights = self._store.write_checkpoint(0, self.estimator.save_checkpoint)
                self._store.update_meta(**weights)
        self._initialized = True
        if self._X_initial is not None or self._y_initial is not None:
            if self._X_initial is None or self._y_initial is None:
                raise ValueError(
                    "X_training and y_training must be given together; got only "
                    f"{'X_training' if self._y_initial is None else 'y_training'}."
                )
            self.teach(self._X_initial, self._y_initial, annotator="import")

    def _effective_classes(self) -> list[Any] | None:
        if self._classes_list is not None:
            return self._classes_list
        if self._has_trained and hasattr(self.estimator, "classes_"):
            return [label_value(c) for c in np.asarray(self.estimator.classes_)]
        return None

    # -- pools ------------------------------------------------------------------------------
    def _bind_pool(self, X_pool: Any) -> PoolView:
        X_pool = check_candidates(X_pool, name="X_pool", allow_empty=True)
        if len(X_pool) == 0:
            raise ValueError(
                f"X_pool is empty: it holds 0 candidates (shape {tuple(X_pool.shape)})."
            )
        if self._pool is None or self._pool.X is not X_pool:
            self._pool = PoolView(X_pool)
        else:
            keys = PoolView(X_pool).keys  # cached for arrays; rechecks edits
            if keys is not self._pool.keys and not np.array_equal(keys, self._pool.keys):
                self._pool = PoolView(X_pool)  # edited in place: find its copies again
            self._pool.keys = keys
        if self._pending is not None:
            self._finish_pending()
        return self._pool

    def _round_seed(self, round_: int) -> int | None:
        if self.random_state is None:
            return None
        seq = np.random.SeedSequence([int(self.random_state), int(round_)])
        return int(seq.generate_state(1)[0])

    # -- what query strategies read (see sklearn_aift._strategy_context) --------------------
    @property
    def y_training(self) -> np.ndarray:
        """The labels of ``L``; an empty array before any label."""
        if self._initialized and len(self._labeled):
            return np.asarray(self._labeled.labels)
        classes = self._classes_list if self._initialized else check_classes(self.classes)
        return np.asarray(classes if classes is not None else [], dtype=None)[:0]

    def predict_patch_proba(self, X: Any) -> np.ndarray:
        """Patch probabilities of the current model (what strategies score).

        Parameters
        ----------
        X : candidate array or CandidateSet
            Candidates ``(n, m, C, H, W)`` or ``(n, C, H, W)``.

        Returns
        -------
        P : ndarray of shape (n, m, K)
            ``estimator.predict_patch_proba(X)``.
        """
        return self.estimator.predict_patch_proba(X)

    # -- query ----------------------------------------------------------------------------
    def query(
        self, X_pool: Any, n_instances: int = 1, **query_kwargs: Any
    ) -> tuple[np.ndarray, Any]:
        """Choose the unlabeled candidates most worth labeling (Alg. 1 lines 2-12).

        Parameters
        ----------
        X_pool : candidate array or CandidateSet
            The unlabeled pool ``U``: any pool, e.g. the same one every time,
            or one from which labeled candidates were deleted, or one with new
            candidates. Labeled candidates in it are skipped. It is never
            copied; only the chosen candidates are indexed.
        n_instances : int, default=1
            How many candidates to return (the batch size ``b``); fewer when
            fewer are unlabeled.
        **query_kwargs
            Passed to the strategy. ``exclude`` (positions in ``X_pool``) is
            merged with the labeled candidates; ``random_state`` overrides the
            round seed.

        Returns
        -------
        indices : ndarray of int
            Positions in ``X_pool`` of the chosen candidates, best first.
        X_query : candidate array or CandidateSet
            ``X_pool[indices]``.

        Raises
        ------
        TypeError
            If ``n_instances`` is not an integer, or the strategy does not
            return a 2-tuple ``(indices, scores)``.
        ValueError
            If ``n_instances < 1``, the pool is empty or fully labeled, or the
            strategy returns invalid indices.

        Notes
        -----
        Besides choosing, a call may change the learner, in this order:

        1. the first call of any method initialises it: checks its
           parameters, sets the estimator's unset ``classes``, creates the
           session store with ``autosave`` (and saves a fitted starting
           model there) and teaches ``X_training``;
        2. a fine-tuning left incomplete (interrupted, or found pending by
           :meth:`load`) is completed before the pool is ranked, so the
           query uses the model of the last round;
        3. the chosen indices, their scores and the pool are kept as the last
           query: :meth:`teach` recognises candidates cut from that pool by
           them, and the next round's ``history_`` entry records them.

        The pool, ``n_instances`` and ``exclude`` are checked here, once; the
        strategy and the model take them as checked
        (:func:`sklearn_aift.utils.validated_inputs`).

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        n_instances = check_count(n_instances, "n_instances")
        pool = self._bind_pool(X_pool)
        check_query_kwargs(self.query_strategy, query_kwargs)
        exclude = np.flatnonzero(~pool.queryable_mask(self._labeled))
        user = query_kwargs.pop("exclude", None)
        if user is not None:
            exclude = np.union1d(exclude, check_exclude(user, len(pool)))
        exclude = exclude.astype(np.intp)
        if len(pool) - len(exclude) <= 0:
            raise ValueError(
                f"every candidate of X_pool is labeled or excluded ({len(pool)} candidates); "
                f"there is nothing left to query."
            )
        round_ = self.n_iter_ + 1
        if accepts(self.query_strategy, "random_state"):
            query_kwargs.setdefault("random_state", self._round_seed(round_))
        indices, scores, elapsed = call_strategy(
            self, self.query_strategy, pool.X, n_instances, exclude, query_kwargs
        )
        X_query = pool.X[indices]
        self._last_query = LastQuery(pool, indices, scores, elapsed, X_query)
        _logger.info("round %d: queried %d candidate(s) in %.2f s", round_, len(indices), elapsed)
        return indices, X_query

    # -- teach ----------------------------------------------------------------------------
    def teach(
        self,
        X: Any,
        y: Any,
        fine_tune: bool = True,
        annotator: str | None = None,
        strict: bool = False,
        only_new: bool = False,
        indices: Any = None,
    ) -> "ActiveLearner":
        """Record labels in ``L`` and, by default, fine-tune the current model.

        The labels are committed to the session store (with ``autosave``) in
        one transaction before anything else happens. With
        ``fine_tune=False`` nothing is trained: label one candidate at a time,
        then call :meth:`fine_tune` once per batch (Alg. 1 lines 13-14).

        Parameters
        ----------
        X : candidate array or CandidateSet
            The labeled candidates, e.g. ``X_query`` from :meth:`query` or
            ``X_pool[idx]``.
        y : array-like of shape (n,)
            Their labels.
        fine_tune : bool, default=True
            Fine-tune on ``L`` right after recording (as :meth:`fine_tune`).
        annotator : str, default=None
            Who or what gave the labels (``"oracle"``, a user name,
            ``"import"``), recorded with each label.
        strict : bool, default=False
            Raise instead of relabeling a candidate already labeled
            differently. Otherwise its label is updated and the session store
            keeps the old one in its label history.
        only_new : bool, default=False
            Fine-tune on the labels given since the last fine-tuning only
            instead of on all of ``L``.
        indices : array-like of int, default=None
            Positions of ``X``'s candidates in the pool of the last
            :meth:`query`; checked against that pool where it is cheap. Not
            needed: candidates are recognised by their content.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        ValueError
            If ``len(X) != len(y)``, a label is outside ``classes``, ``X``
            repeats a candidate with different labels, ``indices`` do not fit
            the last query's pool, or ``strict`` and a candidate is already
            labeled differently.
        TypeError
            If ``annotator`` is not None or a non-empty string.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        X = check_candidates(X, name="X")
        y = check_candidate_labels(y, len(X), name="y")
        annotator = check_annotator(annotator)
        labels = [label_value(v) for v in y.tolist()]
        check_labels(labels, self._effective_classes(), declared=self._classes_list is not None)
        if self._pending is not None:
            self._finish_pending()
        pixels = materialize(X, name="X")
        if isinstance(X, np.ndarray):
            pixels = pixels.copy()  # L must not change when the caller's array does
        self._labeled.check_like(pixels)
        keys, digests = identify(X, pixels, self._labeled, query=self._last_query,
                                 indices=indices)
        changes = self._labeled.changes(keys, labels, strict=strict)
        round_ = self.n_iter_ + 1
        if changes:
            self._record(round_, changes, keys, digests, labels, pixels, annotator, fine_tune,
                         only_new)
        else:
            _logger.info("teach: every candidate already holds the given label")
        if fine_tune:
            self.fine_tune(only_new=only_new)
        return self

    # -- fine-tuning ----------------------------------------------------------------------
    def fine_tune(self, only_new: bool = False) -> "ActiveLearner":
        """Fine-tune the current model on every recorded label, completing the round.

        ``M_t <- F(L, M_{t-1})``: the model continues from its current weights
        on all of ``L`` (or, with ``only_new``, on the labels given since the
        last fine-tuning). With ``autosave`` the weights are then written and
        the round is marked complete. Does nothing when no label was added or
        changed since the last round.

        Parameters
        ----------
        only_new : bool, default=False
            Fine-tune on the labels given since the last fine-tuning only.

        Returns
        -------
        self : ActiveLearner

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.learner import ActiveLearner
        >>> class Model:
        ...     n_fits_ = 0
        ...     def predict_patch_proba(self, X):
        ...         return np.full((len(X), X.shape[1], 2), 0.5)
        ...     def fit(self, X, y):
        ...         self.n_fits_ += 1
        ...         return self
        >>> X = np.arange(3, dtype=np.uint8)[:, None, None, None, None] * np.ones(
        ...     (1, 2, 1, 4, 4), dtype=np.uint8)
        >>> learner = ActiveLearner(Model(), classes=[0, 1])
        >>> for x, label in zip(X, [0, 1, 1]):  # one label at a time, no training
        ...     learner = learner.teach(x[None], [label], fine_tune=False)
        >>> learner.estimator.n_fits_, len(learner.y_training)
        (0, 3)
        >>> learner.fine_tune().estimator.n_fits_, learner.n_iter_
        (1, 1)
        """
        self._initialize()
        if self._pending is not None:
            self._finish_pending()
        round_ = self.n_iter_ + 1
        if round_ not in self._labeled.rounds:
            _logger.info("fine_tune: no label was added or changed since the last round")
            return self
        record = self._round_record(round_, only_new)
        if self._store is not None:
            self._store.record_labels(round_, [], record, status="labeled", only_new=only_new)
        self.n_iter_ = round_
        self._fine_tune_round(round_, record, only_new)
        return self


# -- calling a query strategy and checking its answer -------------------------------------
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
    ``X_pool``, ``n_instances`` and ``exclude`` are checked: the strategy
    runs inside :func:`~sklearn_aift.utils.validated_inputs`, so neither it
    nor the model checks them again.

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
    with validated_inputs():  # the strategy and the model take the pool as checked
        if direct:
            result = strategy(learner, X_pool, n_instances=n_ask, exclude=exclude, **kwargs)
        else:
            result = strategy(learner, X_pool, n_instances=n_ask, **kwargs)
    elapsed = time.perf_counter() - start
    indices, scores = _check_answer(result, strategy_name(strategy), len(X_pool), exclude, direct)
    keep = ~np.isin(indices, exclude)
    return indices[keep][:n_instances], scores[keep][:n_instances], elapsed
