"""The AIFT loop (Alg. 1 of Zhou et al., CVPR 2017) with durable labeling sessions.

:class:`ActiveLearner` offers modAL's public API (``query``, ``teach``,
``fit``, ``predict``, ``predict_proba``, ``score``, ``X_training``,
``y_training``, ``estimator``), done right for AIFT:

* it starts from **zero labels**: the first :meth:`~ActiveLearner.query` uses
  the pretrained estimator ``M0``;
* :meth:`~ActiveLearner.teach` appends the batch to the labeled set ``L`` and
  fine-tunes the **current** model on all of ``L`` (``M_t <- F(L, M_{t-1})``);
* pools are never copied: indices refer to the caller's pool, the learner
  remembers which of its candidates are labeled and never queries them again;
* with ``autosave`` every taught batch is on disk before fine-tuning starts,
  so a crash loses no label, and :meth:`~ActiveLearner.load` resumes the
  campaign exactly where it stopped (see :mod:`sklearn_aift.session`).

Candidate identities
--------------------
Every labeled candidate has a string id. ``"pool:<i>"`` is candidate ``i`` of
the pool passed to :meth:`~ActiveLearner.query` (the same, whole pool must be
passed every time; its length is recorded and checked). ``teach`` learns which
pool candidates it is given from its ``indices`` argument or, when that is
omitted, by matching the pixels of ``X`` with the candidates of the last query
(so both ``teach(X_query, y)`` and ``teach(X_pool[idx], y)`` work). Candidates
that match nothing are *external* (e.g. initial ``X_training``); their id is
``"ext:<sha1 of the pixels>"`` and their pixels are kept in the session store,
while pool candidates are read again from the pool when a session resumes
(their SHA-1 fingerprints are checked, so a different pool is detected).
"""

from __future__ import annotations

import datetime as _dt
import importlib
import inspect
import json
import logging
import os
import shutil
import time
from numbers import Integral
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .candidates import check_candidate_labels, check_candidates, materialize
from .session import SessionError, SessionStore, fingerprint
from .strategies import describe_strategy, entropy_diversity_quarter

__all__ = ["ActiveLearner"]

_logger = logging.getLogger(__name__)

# Estimator parameters that do not change what a session computes and may
# differ when a session is resumed (e.g. on another machine).
_RUNTIME_PARAMS = frozenset({"verbose", "device"})


# -- small helpers ---------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _json_exact(value: Any) -> tuple[bool, Any]:
    """Return (exact, value) where value is a JSON form equal to ``value`` when exact."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, Integral):
        return True, int(value)
    if isinstance(value, float):
        return bool(np.isfinite(value)), value
    if isinstance(value, (list, tuple)):
        items = [_json_exact(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _json_exact(v) for k, v in value.items()}
        return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
    return False, None


def _split_params(estimator: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Split ``get_params(deep=False)`` into JSON-exact values and reprs of the others."""
    if not hasattr(estimator, "get_params"):
        return {}, {}
    exact, reprs = {}, {}
    for key, value in sorted(estimator.get_params(deep=False).items()):
        ok, converted = _json_exact(value)
        if ok:
            exact[key] = converted
        else:
            reprs[key] = repr(value)
    return exact, reprs


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _strategy_name(strategy: Any) -> str:
    name = getattr(strategy, "__name__", None)
    if isinstance(name, str):
        return name
    return repr(strategy)


def _label_value(value: Any) -> Any:
    """A label as a JSON scalar (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"labels must be numbers or strings; got {value!r} of type {type(value).__name__}."
    )


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _accepts(strategy: Callable, name: str) -> bool:
    """Whether ``strategy`` has an explicit parameter ``name``."""
    try:
        return name in inspect.signature(strategy).parameters
    except (TypeError, ValueError):
        return False


def _check_positive_int(value: Any, name: str) -> int:
    if not _is_int(value):
        raise TypeError(
            f"{name} must be a positive integer; got {value!r} of type {type(value).__name__}."
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1); got {value}.")
    return int(value)


class ActiveLearner:
    """Active incremental fine-tuning (AIFT) from zero labels, with durable sessions.

    Runs Alg. 1 of the paper: ``query`` ranks the unlabeled candidates of a
    pool with ``query_strategy`` using the current model, the expert labels the
    top ones, and ``teach`` adds them to the labeled set ``L`` and fine-tunes
    the current model on ``L``. :meth:`run` drives the whole loop against an
    oracle.

    Parameters
    ----------
    estimator : estimator object
        The model, usually :class:`~sklearn_aift.net.AIFTNet`. It needs
        ``predict_patch_proba(X) -> (n, m, K)`` and ``fit(X, y)``; with
        ``warm_start=True`` each fit continues from the current weights. For
        ``autosave`` and :meth:`save` it also needs ``save_checkpoint(path)``
        and ``load_checkpoint(path)``. The learner fine-tunes this object in
        place.
    query_strategy : callable, default=entropy_diversity_quarter
        ``strategy(learner, X_pool, n_instances=1, random_state=None, **kw)
        -> (indices, scores)``, e.g. one of :mod:`sklearn_aift.strategies`.
        When it accepts ``exclude``, the labeled candidates are passed there;
        otherwise the learner asks for more candidates and drops them.
    X_training : candidate array, default=None
        Optional initial labeled candidates (from outside the pool), taught as
        the first round at the first call to ``query``, ``teach``, ``run`` or
        ``save``. The paper's setting is None: start from zero labels.
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
        A folder for a new session store (:mod:`sklearn_aift.session`),
        created at first use. Each taught batch is committed there before
        fine-tuning starts, and the weights after each completed round. Resume
        with :meth:`load`.
    random_state : int or None, default=None
        Seeds the strategy: round ``t`` gets a seed derived from
        ``(random_state, t)``, so a resumed session queries exactly like an
        uninterrupted one. The estimator keeps its own ``random_state``.

    Attributes
    ----------
    estimator : estimator object
        The model being fine-tuned.
    history_ : list of dict
        One entry per taught round: ``round``, ``n_labels`` (size of ``L``
        after the round), ``n_new``, ``queried`` (pool indices of the last
        query), ``scores`` (their strategy scores), ``scoring_time`` and
        ``training_time`` (seconds), ``trained`` (False when fine-tuning
        waited for a second class), ``only_new`` and ``taught_at``.
    n_iter_ : int
        Number of taught rounds (``t - 1`` in Alg. 1).
    labeled_ids_ : list of str
        Ids of the labeled candidates, in the order they were taught.
    labeled_indices_ : ndarray of int
        Pool indices of the labeled pool candidates.
    X_training : ndarray of shape (n_labels, m, C, H, W) or None
        The labeled candidates ``L`` (only labeled ones are held in memory).
    y_training : ndarray of shape (n_labels,) or None
        Their labels.

    See Also
    --------
    sklearn_aift.strategies : the query strategies.
    sklearn_aift.session : the session store format.

    Notes
    -----
    ``query`` never returns labeled candidates, so do not delete queried rows
    from the pool (as modAL examples do); pass the same pool every time.

    modAL's own ``ActiveLearner`` (modAL-python 0.4.2.1) pins a skorch that no
    longer installs and its ``fit``/``teach`` crash on scikit-learn >= 1.8;
    its ``query`` still works, so this module's strategies plug into it
    unchanged (build it without ``X_training`` and fine-tune the estimator
    directly). This class offers modAL's API without those problems.

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
    >>> learner.labeled_ids_
    ['pool:4', 'pool:3']

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
    >>> resumed.labeled_ids_ == learner.labeled_ids_, resumed.estimator.n_fits_
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
        n = len(self._labels) if self._initialized else 0
        return (
            f"{type(self).__name__}(estimator={self.estimator!r}, "
            f"query_strategy={_strategy_name(self.query_strategy)}, n_labels={n})"
        )

    # -- set-up -----------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._ids: list[str] = []
        self._id_pos: dict[str, int] = {}
        self._pool_idx: list[int | None] = []
        self._fps: list[str] = []
        self._labels: list[Any] = []
        self._rounds: list[int] = []
        self._pixels: list[np.ndarray | None] = []
        self._external_ids: set[str] = set()
        self._trained_upto = 0
        self._has_trained = False
        self._pool_length: int | None = None
        self._last_query: dict[str, Any] | None = None
        self._pending: dict[str, Any] | None = None
        self._store: SessionStore | None = None
        self.history_: list[dict[str, Any]] = []
        self.n_iter_ = 0

    def _check_params(self) -> None:
        _check_estimator(self.estimator, need_checkpoint=self.autosave is not None)
        if not callable(self.query_strategy):
            raise TypeError(
                f"query_strategy must be a callable strategy(learner, X_pool, n_instances, "
                f"random_state=None, **kw) -> (indices, scores); got {self.query_strategy!r}."
            )
        if self.random_state is not None and not _is_int(self.random_state):
            raise TypeError(
                f"random_state must be None or an int (a seed that makes resumed sessions "
                f"query like uninterrupted ones); got {self.random_state!r}."
            )
        self._classes_list = _check_classes(self.classes)
        _apply_classes(self.estimator, self._classes_list)

    def _initialize(self) -> None:
        if self._initialized:
            return
        self._check_params()
        self._reset_state()
        if self.autosave is not None:
            self._store = self._create_store(self.autosave)
        self._initialized = True
        if self._X_initial is not None or self._y_initial is not None:
            if self._X_initial is None or self._y_initial is None:
                raise ValueError(
                    "X_training and y_training must be given together; got only "
                    f"{'X_training' if self._y_initial is None else 'y_training'}."
                )
            self.teach(self._X_initial, self._y_initial)

    def _session_meta(self) -> dict[str, Any]:
        exact, reprs = _split_params(self.estimator)
        return {
            "library_version": _library_version(),
            "strategy": describe_strategy(self.query_strategy),
            "estimator_class": _class_path(self.estimator),
            "estimator_params": exact,
            "estimator_params_repr": reprs,
            "classes": self._classes_list,
            "random_state": None if self.random_state is None else int(self.random_state),
            "pool_length": self._pool_length,
        }

    def _create_store(self, path: str | os.PathLike) -> SessionStore:
        store = SessionStore.create(path, self._session_meta())
        if _is_fitted(self.estimator):
            # The starting model is not reproducible from its parameters alone.
            store.update_meta(**store.write_checkpoint(0, self.estimator.save_checkpoint))
        return store

    # -- delegation -------------------------------------------------------------------------
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

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        return self.estimator.predict_patch_proba(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Candidate probabilities of the current model.

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates.

        Returns
        -------
        proba : ndarray of shape (n, K)
            ``estimator.predict_proba(X)``.
        """
        return self.estimator.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Candidate labels predicted by the current model.

        Parameters
        ----------
        X : candidate array or CandidateSet
            The candidates.

        Returns
        -------
        y_pred : ndarray of shape (n,)
            ``estimator.predict(X)``.
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
    def X_training(self) -> np.ndarray | None:
        """The labeled candidates ``L``, stacked, or None before any label."""
        if not self._initialized or not self._labels:
            return None
        return self._stack_pixels(range(len(self._labels)))

    @property
    def y_training(self) -> np.ndarray | None:
        """The labels of ``L``, or None before any label."""
        if not self._initialized or not self._labels:
            return None
        return np.asarray(self._labels)

    @property
    def labeled_ids_(self) -> list[str]:
        """Ids of the labeled candidates in the order taught (see the module docs)."""
        return list(self._ids) if self._initialized else []

    @property
    def labeled_indices_(self) -> np.ndarray:
        """Pool indices of the labeled pool candidates, in the order taught."""
        if not self._initialized:
            return np.zeros(0, dtype=np.intp)
        return np.asarray([i for i in self._pool_idx if i is not None], dtype=np.intp)

    def _stack_pixels(self, positions: Any) -> np.ndarray:
        positions = list(positions)
        missing = [self._ids[p] for p in positions if self._pixels[p] is None]
        if missing:
            raise ValueError(
                f"the pixels of {len(missing)} labeled pool candidate(s) (e.g. {missing[0]}) "
                f"are not loaded: this session was resumed without its pool. Pass the pool "
                f"to query() or run(), or to ActiveLearner.load(..., X_pool=X_pool)."
            )
        parts = [self._pixels[p] for p in positions]
        dtypes = {part.dtype for part in parts}
        if len(dtypes) > 1:
            raise ValueError(
                f"the labeled candidates mix pixel dtypes {sorted(map(str, dtypes))}; teach "
                f"candidates with the same dtype as the pool (uint8 or float)."
            )
        return np.stack(parts)

    def _effective_classes(self) -> list[Any] | None:
        if self._classes_list is not None:
            return self._classes_list
        if self._has_trained and hasattr(self.estimator, "classes_"):
            return [_label_value(c) for c in np.asarray(self.estimator.classes_)]
        return None

    # -- pool binding ---------------------------------------------------------------------
    def _check_pool(self, X_pool: Any) -> Any:
        X_pool = check_candidates(X_pool, name="X_pool", allow_empty=True)
        if len(X_pool) == 0:
            raise ValueError(
                f"X_pool is empty: it holds 0 candidates (shape {tuple(X_pool.shape)})."
            )
        if self._pool_length is not None and len(X_pool) != self._pool_length:
            raise ValueError(
                f"X_pool holds {len(X_pool)} candidates, but this learner's queries and labels "
                f"index a pool of {self._pool_length}. Pass the same whole pool every time "
                f"(labeled candidates are excluded automatically; do not delete them)."
            )
        return X_pool

    def _bind_pool(self, X_pool: Any) -> None:
        """Remember the pool length, restore resumed pixels, finish an interrupted round."""
        if self._pool_length is None:
            self._pool_length = len(X_pool)
            if self._store is not None:
                self._store.update_meta(pool_length=self._pool_length)
        unbound = [p for p, px in enumerate(self._pixels) if px is None]
        if unbound:
            idx = np.asarray([self._pool_idx[p] for p in unbound], dtype=np.intp)
            pixels = materialize(X_pool, idx, name="X_pool")
            for p, px in zip(unbound, pixels):
                if fingerprint(px) != self._fps[p]:
                    raise SessionError(
                        f"X_pool is not the pool this session labeled: candidate "
                        f"{self._ids[p]} has different pixels than when it was taught."
                    )
                self._pixels[p] = px
        self._finish_pending()

    def _finish_pending(self) -> None:
        """Fine-tune an interrupted round again, from the last completed round's weights."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        if pending.get("reload") and self._store is not None:
            checkpoint = self._store.checkpoint_path()
            if checkpoint is not None:
                self.estimator.load_checkpoint(str(checkpoint))
        _logger.info("finishing the fine-tuning of interrupted round %d", pending["round"])
        self._fine_tune_round(pending["round"], pending["record"], pending["only_new"])

    def _round_seed(self, round_: int) -> int | None:
        if self.random_state is None:
            return None
        seq = np.random.SeedSequence([int(self.random_state), int(round_)])
        return int(seq.generate_state(1)[0])

    # -- query ----------------------------------------------------------------------------
    def query(
        self, X_pool: Any, n_instances: int = 1, **query_kwargs: Any
    ) -> tuple[np.ndarray, Any]:
        """Choose the unlabeled candidates most worth labeling (Alg. 1 lines 2-12).

        Parameters
        ----------
        X_pool : candidate array or CandidateSet
            The whole pool ``U``: the same object (same length) at every call.
            It is never copied; only the chosen candidates are indexed.
        n_instances : int, default=1
            How many candidates to return (the batch size ``b``); fewer when
            fewer are unlabeled.
        **query_kwargs
            Passed to the strategy. ``exclude`` (pool indices) is merged with
            the labeled candidates; ``random_state`` overrides the round seed.

        Returns
        -------
        indices : ndarray of int
            Pool indices of the chosen candidates, best first.
        X_query : candidate array or CandidateSet
            ``X_pool[indices]``.

        Raises
        ------
        TypeError
            If ``n_instances`` is not an integer, or the strategy does not
            return a 2-tuple ``(indices, scores)``.
        ValueError
            If ``n_instances < 1``, the pool is empty, fully labeled or of a
            different length than before, or the strategy returns invalid
            indices.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        n_instances = _check_positive_int(n_instances, "n_instances")
        X_pool = self._check_pool(X_pool)
        self._bind_pool(X_pool)
        labeled = self.labeled_indices_
        exclude = labeled
        if query_kwargs.get("exclude") is not None:
            user = np.asarray(query_kwargs.pop("exclude"), dtype=np.intp).ravel()
            exclude = np.union1d(labeled, user)
        else:
            query_kwargs.pop("exclude", None)
        exclude = np.unique(exclude).astype(np.intp)
        n_available = len(X_pool) - len(exclude)
        if n_available <= 0:
            raise ValueError(
                f"every candidate of X_pool is labeled or excluded ({len(X_pool)} candidates); "
                f"there is nothing left to query."
            )
        round_ = self.n_iter_ + 1
        if _accepts(self.query_strategy, "random_state"):
            query_kwargs.setdefault("random_state", self._round_seed(round_))
        indices, scores, elapsed = self._call_strategy(X_pool, n_instances, exclude, query_kwargs)
        X_query = X_pool[indices]
        self._last_query = {
            "indices": indices,
            "scores": scores,
            "scoring_time": elapsed,
            "X": X_query,
            "fingerprints": None,
        }
        _logger.info(
            "round %d: queried %d candidate(s) in %.2f s", round_, len(indices), elapsed
        )
        return indices, X_query

    def _call_strategy(
        self, X_pool: Any, n_instances: int, exclude: np.ndarray, kwargs: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, float]:
        strategy = self.query_strategy
        name = _strategy_name(strategy)
        direct = _accepts(strategy, "exclude")
        n_ask = n_instances if direct else min(len(X_pool), n_instances + len(exclude))
        start = time.perf_counter()
        if direct:
            result = strategy(self, X_pool, n_instances=n_ask, exclude=exclude, **kwargs)
        else:
            result = strategy(self, X_pool, n_instances=n_ask, **kwargs)
        elapsed = time.perf_counter() - start
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
        if indices.size and (indices.min() < 0 or indices.max() >= len(X_pool)):
            raise ValueError(
                f"query_strategy {name} returned indices outside [0, {len(X_pool)}): "
                f"{indices.tolist()}."
            )
        if len(np.unique(indices)) != len(indices):
            raise ValueError(
                f"query_strategy {name} returned repeated indices: {indices.tolist()}."
            )
        keep = ~np.isin(indices, exclude)
        if direct and not keep.all():
            raise ValueError(
                f"query_strategy {name} returned excluded (labeled) candidates "
                f"{indices[~keep].tolist()}; it must honour exclude=."
            )
        indices, scores = indices[keep][:n_instances], scores[keep][:n_instances]
        return indices, scores, elapsed

    # -- teach ----------------------------------------------------------------------------
    def teach(self, X: Any, y: Any, only_new: bool = False, indices: Any = None) -> "ActiveLearner":
        """Add labeled candidates to ``L`` and fine-tune the current model (Alg. 1 lines 13-14).

        The batch is committed to the session store (with ``autosave``) in one
        transaction before fine-tuning starts.

        Parameters
        ----------
        X : candidate array or CandidateSet
            The labeled candidates, usually the ``X_query`` returned by
            :meth:`query` or ``X_pool[indices]``.
        y : array-like of shape (n,)
            Their labels.
        only_new : bool, default=False
            Fine-tune on this batch only instead of on all of ``L`` (labels
            whose fine-tuning waited for a second class are included).
        indices : array-like of int, default=None
            Pool indices of the candidates in ``X``. When None, rows of ``X``
            equal to candidates of the last query get their pool index, the
            others are external candidates.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        ValueError
            If ``len(X) != len(y)``, ``indices`` do not fit the pool, a label
            is outside ``classes``, or a candidate already labeled gets a
            different label (repeating the same label is a no-op).

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        X = check_candidates(X, name="X")
        y = check_candidate_labels(y, len(X), name="y")
        labels = [_label_value(v) for v in y.tolist()]
        self._check_labels(labels)
        if indices is not None:
            indices = self._check_indices(indices, len(X))
        if any(px is None for px in self._pixels):
            raise ValueError(
                "this session was resumed without its pool, so the model cannot be fine-tuned "
                "yet; call query(X_pool) or run(...) first, or load it with "
                "ActiveLearner.load(path, X_pool=X_pool)."
            )
        self._finish_pending()
        pixels = materialize(X, name="X")
        if isinstance(X, np.ndarray):
            pixels = pixels.copy()  # L must not change when the caller's array does
        if self._pixels and (
            pixels.dtype != self._pixels[0].dtype or pixels.shape[1:] != self._pixels[0].shape
        ):
            raise ValueError(
                f"X holds candidates of shape {pixels.shape[1:]} and dtype {pixels.dtype}, but "
                f"the labeled set holds {self._pixels[0].shape} {self._pixels[0].dtype}; teach "
                f"candidates like those of the pool."
            )
        if (X is not self._last_query_X()) or indices is not None:
            fps = [fingerprint(px) for px in pixels]
        else:
            fps = self._query_fingerprints()
        ids, pool_idx = self._identify(X, fps, indices)
        new = self._new_rows(ids, labels)
        if not new:
            _logger.info("teach: every candidate is already labeled with the same label; no-op")
            return self
        round_ = self.n_iter_ + 1
        record = self._round_record(round_, [pool_idx[j] for j in new], only_new)
        rows = [
            {
                "candidate_id": ids[j],
                "pool_index": pool_idx[j],
                "fingerprint": fps[j],
                "label": labels[j],
            }
            for j in new
        ]
        external = {ids[j]: pixels[j] for j in new if pool_idx[j] is None}
        if self._store is not None:
            self._store.commit_batch(round_, rows, record, only_new=only_new, external=external)
        for j in new:
            self._append(ids[j], pool_idx[j], fps[j], labels[j], round_, pixels[j])
        self._external_ids.update(external)
        self.n_iter_ = round_
        self._fine_tune_round(round_, record, only_new)
        return self

    def _last_query_X(self) -> Any:
        return None if self._last_query is None else self._last_query["X"]

    def _query_fingerprints(self) -> list[str]:
        if self._last_query["fingerprints"] is None:
            pixels = materialize(self._last_query["X"], name="X_query")
            self._last_query["fingerprints"] = [fingerprint(px) for px in pixels]
        return self._last_query["fingerprints"]

    def _check_labels(self, labels: list[Any]) -> None:
        classes = self._effective_classes()
        if classes is None:
            return
        known = set(classes)
        unknown = sorted({repr(v) for v in labels if v not in known})
        if unknown:
            declared = self._classes_list is not None
            where = "classes" if declared else "the classes the model was fine-tuned on"
            raise ValueError(
                f"y holds label(s) {', '.join(unknown)} outside {where} {classes}."
                + ("" if declared else " Pass classes= up front to declare every class.")
            )

    def _check_indices(self, indices: Any, n: int) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-D array of pool indices; got {indices!r}.")
        if len(indices) != n:
            raise ValueError(
                f"indices has {len(indices)} entries but X holds {n} candidates; they must match."
            )
        if self._pool_length is None:
            raise ValueError(
                "indices refer to a pool, but this learner has not seen one yet; call "
                "query(X_pool) first."
            )
        if indices.size and (indices.min() < 0 or indices.max() >= self._pool_length):
            raise ValueError(
                f"indices {indices.tolist()} do not fit the pool of {self._pool_length} "
                f"candidates this learner queries; were they made for another pool?"
            )
        return indices.astype(np.intp)

    def _identify(
        self, X: Any, fps: list[str], indices: np.ndarray | None
    ) -> tuple[list[str], list[int | None]]:
        """Candidate ids and pool indices of the rows of X (see the module docs)."""
        if indices is not None:
            pool_idx: list[int | None] = [int(i) for i in indices]
        elif self._last_query is not None and X is self._last_query["X"]:
            pool_idx = [int(i) for i in self._last_query["indices"]]
        elif self._last_query is not None:
            available: dict[str, list[int]] = {}
            for fp, i in zip(self._query_fingerprints(), self._last_query["indices"]):
                available.setdefault(fp, []).append(int(i))
            pool_idx = [available[fp].pop(0) if available.get(fp) else None for fp in fps]
        else:
            pool_idx = [None] * len(fps)
        ids = [f"pool:{i}" if i is not None else f"ext:{fp}" for i, fp in zip(pool_idx, fps)]
        return ids, pool_idx

    def _new_rows(self, ids: list[str], labels: list[Any]) -> list[int]:
        new, seen = [], {}
        for j, (cid, label) in enumerate(zip(ids, labels)):
            if cid in self._id_pos:
                previous = self._labels[self._id_pos[cid]]
            elif cid in seen:
                previous = labels[seen[cid]]
            else:
                seen[cid] = j
                new.append(j)
                continue
            if previous != label:
                raise ValueError(
                    f"candidate {cid} is already labeled {previous!r}; it cannot also be "
                    f"labeled {label!r}."
                )
        return new

    def _round_record(
        self, round_: int, new_pool_idx: list[int | None], only_new: bool
    ) -> dict[str, Any]:
        query = self._last_query
        if query is not None and not np.isin(
            [i for i in new_pool_idx if i is not None], query["indices"]
        ).any():
            query = None  # the batch does not come from the last query
        return {
            "round": round_,
            "n_labels": len(self._labels) + len(new_pool_idx),
            "n_new": len(new_pool_idx),
            "queried": [] if query is None else [int(i) for i in query["indices"]],
            "scores": [] if query is None else _finite_or_none(query["scores"]),
            "scoring_time": None if query is None else float(query["scoring_time"]),
            "training_time": None,
            "trained": False,
            "only_new": bool(only_new),
            "taught_at": _now(),
        }

    def _append(
        self, cid: str, pool_index: int | None, fp: str, label: Any, round_: int,
        pixels: np.ndarray | None,
    ) -> None:
        self._id_pos[cid] = len(self._ids)
        self._ids.append(cid)
        self._pool_idx.append(pool_index)
        self._fps.append(fp)
        self._labels.append(label)
        self._rounds.append(round_)
        self._pixels.append(pixels)

    def _can_train(self) -> bool:
        if self._classes_list is not None and "classes" in _params(self.estimator):
            return True
        return len(set(self._labels)) >= 2

    def _fine_tune_round(self, round_: int, record: dict[str, Any], only_new: bool) -> None:
        """Fine-tune for a round whose labels are in L; an interruption leaves it pending.

        If fine-tuning or saving is interrupted (an exception, Ctrl-C), the
        round is retried at the next ``query``, ``teach`` or ``run``, starting
        again from the weights of the last completed round when they are in
        the session store.
        """
        state = (self._trained_upto, self._has_trained, len(self.history_))
        try:
            self._do_fine_tune_round(round_, dict(record), only_new)
        except BaseException:
            self._trained_upto, self._has_trained = state[0], state[1]
            del self.history_[state[2]:]
            self._pending = {"round": round_, "record": record, "only_new": only_new,
                             "reload": True}
            raise

    def _do_fine_tune_round(self, round_: int, record: dict[str, Any], only_new: bool) -> None:
        trained = self._can_train()
        if trained:
            start = self._trained_upto if only_new else 0
            positions = range(start, len(self._labels))
            X_train = self._stack_pixels(positions)
            y_train = np.asarray(self._labels)[start:]
            t0 = time.perf_counter()
            self.estimator.fit(X_train, y_train)
            record["training_time"] = time.perf_counter() - t0
            self._trained_upto = len(self._labels)
            self._has_trained = True
            _logger.info(
                "round %d: fine-tuned on %d labeled candidate(s) in %.2f s",
                round_, len(y_train), record["training_time"],
            )
        else:
            _logger.warning(
                "round %d: the %d labels hold a single class (%r); fine-tuning waits for a "
                "second class (pass classes= to train from the first batch). Queries keep "
                "using the current model.",
                round_, len(self._labels), self._labels[0],
            )
        record["trained"] = trained
        self.history_.append(record)
        if self._store is not None:
            meta = {}
            if trained:
                meta = self._store.write_checkpoint(round_, self.estimator.save_checkpoint)
            self._store.complete_round(
                round_, record, status="trained" if trained else "waiting", meta=meta
            )
            if trained:
                self._store.remove_stale_checkpoints()

    # -- modAL's fit ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any, only_new: bool = False) -> "ActiveLearner":
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
        if self._labels:
            raise ValueError(
                f"the learner already holds {len(self._labels)} labels; fit() would discard "
                f"them. Use teach(X, y) to add labels."
            )
        return self.teach(X, y, only_new=only_new)

    # -- the whole loop -------------------------------------------------------------------
    def run(
        self,
        oracle: Callable[[np.ndarray], Any] | Any,
        X_pool: Any,
        budget: int | None = None,
        batch_size: int = 1,
        until: Callable[["ActiveLearner"], bool] | None = None,
        only_new: bool = False,
        **query_kwargs: Any,
    ) -> "ActiveLearner":
        """Run Alg. 1 against an oracle until a stopping rule holds.

        Each round queries ``batch_size`` candidates, asks the oracle for their
        labels and teaches them. The loop stops when ``L`` holds ``budget``
        labels, when every pool candidate is labeled, or when ``until(self)``
        is true (checked before every round). Calling ``run`` again (e.g. after
        :meth:`load`) continues the same loop.

        Parameters
        ----------
        oracle : callable or array-like of shape (n_pool,)
            ``oracle(indices) -> labels`` for pool indices, or the true labels
            of the whole pool.
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
        batch_size = _check_positive_int(batch_size, "batch_size")
        if budget is not None:
            if not _is_int(budget):
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
        X_pool = self._check_pool(X_pool)
        ask = _make_oracle(oracle, len(X_pool))
        self._bind_pool(X_pool)
        while True:
            n_available = len(X_pool) - len(self.labeled_indices_)
            remaining = n_available
            if budget is not None:
                remaining = min(n_available, budget - len(self._labels))
            if remaining <= 0:
                break
            if until is not None and until(self):
                break
            n_query = min(batch_size, remaining)
            idx, X_query = self.query(X_pool, n_instances=n_query, **query_kwargs)
            y = check_candidate_labels(ask(idx), len(idx), name="oracle labels")
            self.teach(X_query, y, only_new=only_new, indices=idx)
        return self

    # -- durable sessions -----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> "ActiveLearner":
        """Write the whole session (labels, history, parameters, weights) to a new store.

        With ``autosave`` the store is always up to date and saving to the
        same path does nothing. The store is built in a temporary folder and
        renamed into place.

        Parameters
        ----------
        path : str or path-like
            A folder that does not exist yet.

        Returns
        -------
        self : ActiveLearner

        Raises
        ------
        FileExistsError
            If ``path`` exists (other than this learner's ``autosave`` store).
        TypeError
            If the estimator lacks ``save_checkpoint``/``load_checkpoint``.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        self._initialize()
        path = Path(path)
        if self._store is not None and path.resolve() == self._store.path.resolve():
            return self
        _check_estimator(self.estimator, need_checkpoint=True)
        if path.exists():
            raise FileExistsError(f"cannot save the session to {path}: it already exists.")
        tmp = path.parent / f".{path.name}.{os.getpid()}.saving"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            store = SessionStore.create(tmp, self._session_meta())
            self._write_snapshot(store)
            os.rename(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return self

    def _write_snapshot(self, store: SessionStore) -> None:
        external = {}
        if self._external_ids:
            stored = self._store.read_external() if self._store is not None else {}
            for p, cid in enumerate(self._ids):
                if cid in self._external_ids:
                    external[cid] = self._pixels[p] if self._pixels[p] is not None else stored[cid]
        records = list(self.history_)
        if self._pending is not None:
            records.append(self._pending["record"])
        for record in records:
            round_ = record["round"]
            positions = [p for p, r in enumerate(self._rounds) if r == round_]
            rows = [
                {
                    "candidate_id": self._ids[p],
                    "pool_index": self._pool_idx[p],
                    "fingerprint": self._fps[p],
                    "label": self._labels[p],
                }
                for p in positions
            ]
            ext = {
                self._ids[p]: external[self._ids[p]] for p in positions if self._ids[p] in external
            }
            store.commit_batch(round_, rows, record, only_new=record["only_new"], external=ext)
            if self._pending is None or round_ != self._pending["round"]:
                store.complete_round(
                    round_, record, status="trained" if record["trained"] else "waiting"
                )
        last_trained = max((r["round"] for r in self.history_ if r["trained"]), default=0)
        if self._has_trained or _is_fitted(self.estimator):
            weights = store.write_checkpoint(last_trained, self.estimator.save_checkpoint)
            store.update_meta(**weights)
        store.update_meta(pool_length=self._pool_length)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        estimator: Any = None,
        query_strategy: Callable | None = None,
        *,
        X_pool: Any = None,
        autosave: bool = True,
    ) -> "ActiveLearner":
        """Resume a labeling session from its store.

        Every taught label is restored; the model is the one of the last
        completed round. If fine-tuning of a round was interrupted, it runs
        again as soon as the pool is available (here when ``X_pool`` is given,
        otherwise at the next :meth:`query` or :meth:`run`), so the
        continuation equals an uninterrupted run.

        Parameters
        ----------
        path : str or path-like
            The session folder.
        estimator : estimator object, default=None
            A new estimator with the session's parameters (e.g. the same
            ``AIFTNet(...)`` call). Its JSON-valued parameters must equal the
            stored ones (``verbose`` and ``device`` may differ; object-valued
            parameters such as callbacks are not compared). When None, it is
            rebuilt from the stored parameters if the class belongs to
            sklearn-aift and every parameter was stored exactly.
        query_strategy : callable, default=None
            The session's strategy; its :func:`~sklearn_aift.strategies.describe_strategy`
            must equal the stored one. When None, the stored built-in strategy
            is used.
        X_pool : candidate array or CandidateSet, default=None
            The pool the session labeled; its labeled candidates are checked
            against their stored fingerprints.
        autosave : bool, default=True
            Keep recording the session in the same store.

        Returns
        -------
        learner : ActiveLearner

        Raises
        ------
        FileNotFoundError
            If there is no session at ``path``.
        SessionError
            If the store is corrupt, truncated, from a newer format version,
            or the estimator, strategy or pool do not match it.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        store = SessionStore.open(path)
        meta = store.read_meta()
        strategy = _resolve_strategy(meta, query_strategy, store.path)
        learner = cls(
            _resolve_estimator(meta, estimator, store.path),
            query_strategy=strategy,
            classes=meta.get("classes"),
            autosave=store.path if autosave else None,
            random_state=meta.get("random_state"),
        )
        learner._check_params()
        _compare_params(meta, learner.estimator, store.path)
        learner._reset_state()
        learner._initialized = True
        learner._store = store if autosave else None
        learner._pool_length = meta.get("pool_length")
        checkpoint = store.checkpoint_path()
        if checkpoint is not None:
            try:
                learner.estimator.load_checkpoint(str(checkpoint))
            except Exception as exc:  # any failure to read the weights is a bad store
                raise SessionError(
                    f"cannot load the weights {checkpoint} of session {store.path}: {exc}"
                ) from exc
        learner._restore(store)
        if X_pool is not None:
            learner._bind_pool(learner._check_pool(X_pool))
        return learner

    def _restore(self, store: SessionStore) -> None:
        rounds = store.read_rounds()
        external = store.read_external()
        by_round = {r["round"]: r for r in rounds}
        for row in store.read_labels():
            cid = row["candidate_id"]
            if cid.startswith("ext:"):
                if cid not in external:
                    raise SessionError(
                        f"the session store {store.path} lacks the pixels of external "
                        f"candidate {cid}."
                    )
                pixels = external[cid]
                self._external_ids.add(cid)
            else:
                pixels = None
            if row["round"] not in by_round:
                raise SessionError(
                    f"the session store {store.path} holds label {cid} of round "
                    f"{row['round']}, which is not recorded."
                )
            self._append(
                cid, row["pool_index"], row["fingerprint"], row["label"], row["round"], pixels
            )
        last_trained = 0
        for info in rounds:
            if info["status"] == "labeled":
                if info["round"] != rounds[-1]["round"]:
                    raise SessionError(
                        f"the session store {store.path} has an unfinished round {info['round']} "
                        f"before later rounds; it is inconsistent."
                    )
                self._pending = {
                    "round": info["round"],
                    "record": info["record"],
                    "only_new": info["only_new"],
                }
                continue
            self.history_.append(info["record"])
            if info["status"] == "trained":
                last_trained = info["round"]
        self.n_iter_ = rounds[-1]["round"] if rounds else 0
        self._trained_upto = sum(1 for r in self._rounds if r <= last_trained)
        self._has_trained = last_trained > 0
        checkpoint_round = store.read_meta().get("checkpoint_round")
        if last_trained and checkpoint_round != last_trained:
            raise SessionError(
                f"the session store {store.path} records round {last_trained} as trained but "
                f"holds the weights of round {checkpoint_round}; it is inconsistent."
            )


# -- module-level helpers --------------------------------------------------------------------
def _library_version() -> str:
    from . import __version__

    return __version__


def _params(estimator: Any) -> dict[str, Any]:
    return estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}


def _check_estimator(estimator: Any, *, need_checkpoint: bool) -> None:
    needed = ["predict_patch_proba", "fit"]
    if need_checkpoint:
        needed += ["save_checkpoint", "load_checkpoint"]
    missing = [name for name in needed if not callable(getattr(estimator, name, None))]
    if missing:
        raise TypeError(
            f"estimator must provide {', '.join(m + '()' for m in needed)}"
            f"{' (for durable sessions)' if need_checkpoint else ''}; "
            f"{type(estimator).__name__} lacks {', '.join(missing)}. "
            f"Use sklearn_aift.AIFTNet or wrap your model so that predict_patch_proba(X) "
            f"returns patch probabilities of shape (n, m, K)."
        )


def _check_classes(classes: Any) -> list[Any] | None:
    if classes is None:
        return None
    array = np.asarray(classes)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(
            f"classes must be a 1-D array-like of at least 2 classes; got {classes!r}."
        )
    values = [_label_value(v) for v in array.tolist()]
    if len(set(values)) != len(values):
        raise ValueError(f"classes must not repeat a class; got {values}.")
    return values


def _apply_classes(estimator: Any, classes: list[Any] | None) -> None:
    if classes is None:
        return
    params = _params(estimator)
    if "classes" not in params:
        return
    current = params["classes"]
    if current is None:
        estimator.set_params(classes=list(classes))
    elif set(_label_value(v) for v in np.asarray(current).tolist()) != set(classes):
        raise ValueError(
            f"classes={classes} differs from the estimator's classes={list(current)}; "
            f"give the same classes (or leave one of them unset)."
        )


def _is_fitted(estimator: Any) -> bool:
    n_fits = getattr(estimator, "n_fits_", None)
    if n_fits is not None:
        return n_fits > 0
    try:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
    except Exception:
        return False
    return True


def _make_oracle(oracle: Any, n_pool: int) -> Callable[[np.ndarray], Any]:
    if callable(oracle):
        return oracle
    labels = np.asarray(oracle)
    if labels.ndim != 1 or len(labels) != n_pool:
        raise ValueError(
            f"oracle must be a callable or the labels of the whole pool, shape ({n_pool},); "
            f"got an array of shape {labels.shape}."
        )
    return lambda indices: labels[indices]


def _resolve_strategy(meta: dict[str, Any], strategy: Callable | None, path: Path) -> Callable:
    stored = meta.get("strategy")
    if strategy is not None:
        given = describe_strategy(strategy)
        if json.loads(json.dumps(given)) != stored:
            raise SessionError(
                f"query_strategy {given} does not match the strategy of session {path}: "
                f"{stored}. Pass the session's strategy (or None to use it)."
            )
        return strategy
    rebuilt = _strategy_from_description(stored)
    if rebuilt is None:
        raise SessionError(
            f"session {path} used the strategy {stored}, which cannot be rebuilt "
            f"automatically; pass it as query_strategy=."
        )
    return rebuilt


def _strategy_from_description(description: Any) -> Callable | None:
    from . import strategies

    if not isinstance(description, dict):
        return None
    name = description.get("name")
    candidate = getattr(strategies, str(name), None) if name else None
    if callable(candidate):
        try:
            if json.loads(json.dumps(describe_strategy(candidate))) == description:
                return candidate
        except Exception:
            pass
    factory = getattr(strategies, str(description.get("factory", "")), None)
    params = description.get("params")
    if callable(factory) and isinstance(params, dict):
        try:
            rebuilt = factory(**params)
            if json.loads(json.dumps(describe_strategy(rebuilt))) == description:
                return rebuilt
        except Exception:
            return None
    return None


def _resolve_estimator(meta: dict[str, Any], estimator: Any, path: Path) -> Any:
    if estimator is not None:
        return estimator
    class_path = str(meta.get("estimator_class", ""))
    module_name, _, qualname = class_path.rpartition(".")
    if not module_name.startswith("sklearn_aift") or meta.get("estimator_params_repr"):
        raise SessionError(
            f"session {path} used the estimator {class_path} with parameters that cannot be "
            f"rebuilt from the store; pass estimator= (a new estimator with the same "
            f"parameters)."
        )
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError) as exc:
        raise SessionError(
            f"cannot rebuild the estimator {class_path} of session {path}: {exc}"
        ) from exc
    return cls(**meta.get("estimator_params", {}))


def _compare_params(meta: dict[str, Any], estimator: Any, path: Path) -> None:
    class_path = _class_path(estimator)
    if class_path != meta.get("estimator_class"):
        raise SessionError(
            f"the estimator is a {class_path}, but session {path} used a "
            f"{meta.get('estimator_class')}."
        )
    stored = meta.get("estimator_params", {})
    exact, _ = _split_params(estimator)
    differing = {
        key: (stored[key], exact[key])
        for key in sorted(set(stored) & set(exact) - _RUNTIME_PARAMS)
        if stored[key] != exact[key]
    }
    if differing:
        details = "; ".join(
            f"{key}: session {old!r}, given {new!r}" for key, (old, new) in differing.items()
        )
        raise SessionError(
            f"the estimator's parameters do not match those of session {path} ({details}). "
            f"Pass an estimator built with the session's parameters."
        )
