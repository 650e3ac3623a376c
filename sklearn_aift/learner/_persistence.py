"""Saving a learner to a session store, and resuming or opening one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from . import _resume
from ._errors import SessionError
from ._session import SessionStore
from ._validation import check_classes, check_estimator

__all__ = ["SessionPersistence"]


class SessionPersistence:
    """:meth:`save`, :meth:`load` and :meth:`open` (mixed into :class:`ActiveLearner`)."""

    def save(self, path: str | os.PathLike) -> Any:
        """Write the whole session (labels, history, parameters, weights) to a new store.

        With ``autosave`` the store is always up to date and saving to the
        same path does nothing. The store is built in a temporary folder and
        renamed into place. It holds each candidate's current label (with its
        annotator and time); the relabel history stays in the ``autosave``
        store.

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
        check_estimator(self.estimator, need_checkpoint=True)
        if path.exists():
            raise FileExistsError(f"cannot save the session to {path}: it already exists.")
        tmp = path.parent / f".{path.name}.{os.getpid()}.saving"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            _resume.write_snapshot(self, SessionStore.create(tmp, _resume.session_meta(self)))
            os.rename(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return self

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        estimator: Any = None,
        query_strategy: Callable | None = None,
        *,
        X_pool: Any = None,
        autosave: bool = True,
    ) -> Any:
        """Resume a labeling session from its store.

        Every recorded label is restored (the store keeps the labeled
        candidates' pixels, so no pool is needed to continue fine-tuning); the
        model is the one of the last completed round. If the fine-tuning of a
        round was interrupted, it runs again at the next :meth:`query`,
        :meth:`teach`, :meth:`fine_tune` or :meth:`run` (or here when
        ``X_pool`` is given), so the continuation equals an uninterrupted run.
        Labels recorded with ``teach(..., fine_tune=False)`` wait for
        :meth:`fine_tune` as before.

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
            The pool to continue with (any pool; its labeled candidates are
            recognised by their content and give ``labeled_indices_``).
        autosave : bool, default=True
            Keep recording the session in the same store.

        Returns
        -------
        learner : ActiveLearner

        Raises
        ------
        FileNotFoundError
            If there is no session at ``path``.
        NotADirectoryError
            If ``path`` is a file (a session is a folder).
        SessionError
            If the store is corrupt, truncated, of another format version, or
            the estimator or strategy do not match it, or its database is a
            folder.

        Examples
        --------
        See :class:`ActiveLearner`.
        """
        store = SessionStore.open(path)
        meta = store.read_meta()
        learner = cls(
            _resume.resolve_estimator(meta, estimator, store.path),
            query_strategy=_resume.resolve_strategy(meta, query_strategy, store.path),
            classes=meta.get("classes"),
            autosave=store.path if autosave else None,
            random_state=meta.get("random_state"),
        )
        learner._check_params()
        _resume.compare_params(meta, learner.estimator, store.path)
        learner._keep_pixels = bool(meta.get("keep_pixels", True))
        learner._reset_state()
        learner._initialized = True
        learner._store = store if autosave else None
        checkpoint = store.checkpoint_path()
        if checkpoint is not None:
            try:
                learner.estimator.load_checkpoint(str(checkpoint))
            except Exception as exc:  # any failure to read the weights is a bad store
                raise SessionError(
                    f"cannot load the weights {checkpoint} of session {store.path}: {exc}"
                ) from exc
        _resume.restore(learner, store)
        if X_pool is not None:
            learner._bind_pool(X_pool)
        return learner

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        estimator: Any = None,
        X_pool: Any = None,
        *,
        keep_pixels: bool = True,
        **learner_params: Any,
    ) -> Any:
        """Create the session at ``path`` if there is none, else resume it.

        A script that runs every day calls ``ActiveLearner.open(path, ...)``
        with the same arguments: the first run creates the store (as
        ``ActiveLearner(estimator, autosave=path, **learner_params)``), the
        later ones resume it (as :meth:`load`).

        Parameters
        ----------
        path : str or path-like
            The session folder.
        estimator : estimator object, default=None
            The model (required to create a session; see :meth:`load` when
            resuming).
        X_pool : candidate array or CandidateSet, default=None
            A pool to bind now (see :meth:`load`).
        keep_pixels : bool, default=True
            Whether a new session stores the pixels of every labeled candidate,
            so that it resumes and fine-tunes with any pool. False suits pools
            read from files (a :class:`~sklearn_aift.candidates.CandidateSet`
            of a folder): only each candidate's key is stored, and fine-tuning
            reads the labeled candidates from the pool of the last query (those
            missing from it are left out, with a warning). A resumed session
            keeps its own setting.
        **learner_params
            ``query_strategy``, ``classes``, ``random_state``, ``X_training``
            and ``y_training`` of a new session. When resuming, the stored
            values are used and any given one must equal them.

        Returns
        -------
        learner : ActiveLearner

        Raises
        ------
        TypeError
            If ``autosave`` or an unknown parameter is given, or a new session
            has no estimator.
        SessionError
            If a given parameter differs from the resumed session's.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet, ActiveLearner
        >>> params = dict(backbone="mobilenet_v3_small", weights=None, input_size=32,
        ...               max_epochs=1, batch_size=8, random_state=0)
        >>> folder = os.path.join(tempfile.mkdtemp(), "campaign")
        >>> X = np.random.default_rng(0).integers(0, 256, (4, 2, 3, 32, 32), dtype=np.uint8)
        >>> day1 = ActiveLearner.open(folder, AIFTNet(**params), classes=[0, 1])
        >>> day1 = day1.teach(X[:2], [0, 1], fine_tune=False, annotator="ann")
        >>> day2 = ActiveLearner.open(folder, AIFTNet(**params), classes=[0, 1])
        >>> [row["annotator"] for row in day2.labels_]
        ['ann', 'ann']
        """
        allowed = {"query_strategy", "classes", "random_state", "X_training", "y_training"}
        unknown = sorted(set(learner_params) - allowed)
        if unknown:
            raise TypeError(
                f"ActiveLearner.open() got unexpected parameter(s) {unknown}; it takes "
                f"{sorted(allowed)} (the session path is the autosave folder)."
            )
        if SessionStore.exists(path):
            learner = cls.load(path, estimator, learner_params.get("query_strategy"))
            _check_same(learner, learner_params, Path(path))
            if X_pool is not None:
                learner._bind_pool(X_pool)
            return learner
        if estimator is None:
            raise TypeError(f"there is no session at {path} yet; pass estimator= to create it.")
        learner = cls(estimator, autosave=path, **learner_params)
        learner._keep_pixels = bool(keep_pixels)
        learner._initialize()
        if X_pool is not None:
            learner._bind_pool(X_pool)
        return learner


def _check_same(learner: Any, params: dict[str, Any], path: Path) -> None:
    """Refuse ``open`` parameters that differ from those of the resumed session."""
    for name, normalise in (("classes", check_classes), ("random_state", lambda v: v)):
        stored = getattr(learner, name)
        if name in params and normalise(params[name]) != normalise(stored):
            raise SessionError(
                f"{name}={params[name]!r} differs from the {name}={stored!r} of session "
                f"{path}; pass the session's value (or leave it out)."
            )
    if params.get("X_training") is not None:
        raise SessionError(
            f"session {path} already exists; X_training is only taught when a session is "
            f"created. Teach new labels with teach()."
        )
