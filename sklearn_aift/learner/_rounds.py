"""Round bookkeeping: recording labels, fine-tuning a round, finishing an interrupted one."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..candidates import KeyedCandidates, candidate_keys
from ._validation import estimator_params

__all__ = ["PendingRound", "RoundKeeping", "now"]

_logger = logging.getLogger("sklearn_aift.learner")


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


@dataclass
class PendingRound:
    """A round whose labels are recorded but whose fine-tuning did not complete.

    Left by an interrupted fine-tuning, or found in a session store on
    resume; the learner's next ``query``, ``teach``, ``fine_tune`` or
    ``run`` fine-tunes it again before anything else.

    Attributes
    ----------
    round : int
        The round.
    record : dict
        Its history entry so far (see ``ActiveLearner.history_``).
    only_new : bool
        Whether it fine-tunes on its own labels only.
    reload : bool
        Whether to start again from the last completed round's weights in
        the session store (the interrupted fit may have changed them).
    """

    round: int
    record: dict[str, Any]
    only_new: bool
    reload: bool = False


class RoundKeeping:
    """How a round's labels reach the store and the model (mixed into ActiveLearner)."""

    # False in sessions that read labeled candidates from the pool (their files)
    # instead of keeping their pixels; see ActiveLearner.open(keep_pixels=...)
    _keep_pixels = True

    def _take_rounds(self, history: list[dict[str, Any]], n_iter: int, last_trained: int,
                     pending: PendingRound | None) -> None:
        """Take the rounds read back from a session store (see ``_resume.restore``)."""
        self.history_.extend(history)
        self.n_iter_ = n_iter
        self._last_trained_round = last_trained
        self._has_trained = last_trained > 0
        self._pending = pending

    def _finish_pending(self) -> None:
        """Fine-tune an interrupted round again, from the last completed round's weights.

        Called only when ``_pending`` holds a round.
        """
        pending, self._pending = self._pending, None
        if pending.reload and self._store is not None:
            checkpoint = self._store.checkpoint_path()
            if checkpoint is not None:
                self.estimator.load_checkpoint(str(checkpoint))
        _logger.info("finishing the fine-tuning of interrupted round %d", pending.round)
        self._fine_tune_round(pending.round, pending.record, pending.only_new)

    def _record(
        self, round_: int, changes: list[int], keys: list[str], digests: list[str],
        labels: list[Any], pixels: np.ndarray, annotator: str | None, fine_tune: bool,
        only_new: bool,
    ) -> None:
        """Commit the changed labels to the store, then to the in-memory ``L``."""
        at = now()
        rows, new = [], []
        for j in changes:
            new.append(self._labeled.find(keys[j]) is None)
            keep = new[-1] and self._keep_pixels
            rows.append({"candidate_key": keys[j], "digest": digests[j], "label": labels[j],
                         "annotator": annotator, "labeled_at": at,
                         "pixels": pixels[j] if keep else None})
        if self._store is not None:
            positions = [self._labeled.find(row["candidate_key"]) for row in rows]
            n_new = sum(r == round_ for r in self._labeled.rounds) + sum(
                p is None or self._labeled.rounds[p] != round_ for p in positions
            )
            record = self._round_record(round_, only_new, len(self._labeled) + sum(new), n_new)
            self._store.record_labels(round_, rows, record, only_new=only_new,
                                      status="labeled" if fine_tune else "open")
        for row in rows:
            position = self._labeled.find(row["candidate_key"])
            if position is None:
                self._labeled.add(row["candidate_key"], row["digest"], row["label"], round_,
                                  annotator, at, row["pixels"])
            else:
                self._labeled.relabel(position, row["label"], round_, annotator, at)

    def withdraw(self, keys: Any, annotator: str | None = None) -> Any:
        """Take the labels of candidates out of ``L`` (an expert's undo or skip).

        The candidates become unlabeled: later fine-tuning leaves them out and
        queries may propose them again. With ``autosave`` the withdrawal is
        committed first; the session store keeps it in the label history as
        a label of None replacing the withdrawn one.

        Parameters
        ----------
        keys : sequence of str
            Candidate keys (as in :attr:`labeled_keys_`); unlabeled ones are
            ignored.
        annotator : str, default=None
            Who withdrew the labels.

        Returns
        -------
        self : ActiveLearner

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.learner import ActiveLearner
        >>> class Model:
        ...     def predict_patch_proba(self, X):
        ...         return np.full((len(X), X.shape[1], 2), 0.5)
        ...     def fit(self, X, y):
        ...         return self
        >>> X = np.arange(2, dtype=np.uint8)[:, None, None, None, None] * np.ones(
        ...     (1, 2, 1, 4, 4), dtype=np.uint8)
        >>> learner = ActiveLearner(Model(), classes=[0, 1])
        >>> learner = learner.teach(X, [0, 1], fine_tune=False)
        >>> learner.withdraw(learner.labeled_keys_[:1]).y_training.tolist()
        [1]
        """
        self._initialize()
        found = [key for key in dict.fromkeys(str(k) for k in keys)
                 if self._labeled.find(key) is not None]
        if not found:
            return self
        at = now()
        if self._store is not None:
            self._store.withdraw_labels(self.n_iter_ + 1, found, annotator=annotator, at=at)
        for key in found:
            self._labeled.remove(self._labeled.find(key))
        return self

    @property
    def query_scores_(self) -> np.ndarray:
        """The strategy's scores of the candidates the last :meth:`query` returned.

        Returns
        -------
        scores : ndarray of float of shape (n_queried,)
            In the order of the returned indices; empty before any query.
        """
        query = self._last_query
        return np.empty(0) if query is None else np.asarray(query.scores, dtype=float)

    def _round_record(
        self, round_: int, only_new: bool, n_labels: int | None = None, n_new: int | None = None
    ) -> dict[str, Any]:
        query = self._last_query
        return {
            "round": round_,
            "n_labels": len(self._labeled) if n_labels is None else n_labels,
            "n_new": sum(r == round_ for r in self._labeled.rounds) if n_new is None else n_new,
            "queried": [] if query is None else [int(i) for i in query.indices],
            "scores": [] if query is None else _finite_or_none(query.scores),
            "scoring_time": None if query is None else float(query.scoring_time),
            "training_time": None,
            "trained": False,
            "only_new": bool(only_new),
            "taught_at": now(),
        }

    def _can_train(self) -> bool:
        if self._classes_list is not None and "classes" in estimator_params(self.estimator):
            return True
        return len(set(self._labeled.labels)) >= 2

    def _fine_tune_round(self, round_: int, record: dict[str, Any], only_new: bool) -> None:
        """Fine-tune for a round; an interruption leaves it pending, retried at the next call.

        A retry starts again from the weights of the last completed round when
        they are in the session store.
        """
        state = (self._last_trained_round, self._has_trained, len(self.history_))
        try:
            self._do_fine_tune_round(round_, dict(record), only_new)
        except BaseException:
            self._last_trained_round, self._has_trained = state[0], state[1]
            del self.history_[state[2]:]
            self._pending = PendingRound(round_, record, only_new, reload=True)
            raise

    def _training_set(self, positions: list[int]) -> tuple[Any, np.ndarray]:
        """The candidates at ``positions`` of ``L`` and their labels, ready for ``fit``.

        A session without pixels reads them from the last pool by key; labeled
        candidates missing from it keep their labels but are left out, with a
        warning.
        """
        X_train, y_train, n_missing = self._readable_labeled(positions)
        if n_missing:
            _logger.warning("%d labeled candidate(s) are not in the pool any more; they keep "
                            "their labels but are not trained on", n_missing)
        if self._keep_pixels and hasattr(self.estimator, "activation_cache"):
            # the keys are known: the net finds the cached activations without digesting
            X_train = KeyedCandidates(X_train, [self._labeled.keys[p] for p in positions])
        return X_train, y_train

    def _readable_labeled(self, positions: list[int]) -> tuple[Any, np.ndarray, int]:
        """The pixels of the candidates at ``positions`` that can be read, their labels, and
        how many could not be read (a session without pixels reads them from the last pool
        by key)."""
        keys = [self._labeled.keys[p] for p in positions]
        y_train = np.asarray(self._labeled.labels)[positions]
        if self._keep_pixels:
            return self._labeled.stack(positions), y_train, 0
        where: dict[str, int] = {}
        if self._pool is not None:
            # the keys as they are now: a lazy pool may have been updated since it was bound
            for i, key in enumerate(candidate_keys(self._pool.X)):
                where.setdefault(str(key), i)
        found = [j for j, key in enumerate(keys) if key in where]
        if not found:
            return None, y_train[:0], len(keys)
        rows = np.asarray([where[keys[j]] for j in found], dtype=np.intp)
        return self._pool.X[rows], y_train[found], len(keys) - len(found)

    def _do_fine_tune_round(self, round_: int, record: dict[str, Any], only_new: bool) -> None:
        trained = self._can_train()
        if trained:
            positions = (self._labeled.positions_after(self._last_trained_round) if only_new
                         else list(range(len(self._labeled))))
            X_train, y_train = self._training_set(positions)
            trained = len(y_train) > 0
            if trained:
                t0 = time.perf_counter()
                self.estimator.fit(X_train, y_train)
                record["training_time"] = time.perf_counter() - t0
                self._last_trained_round = round_
                self._has_trained = True
                _logger.info("round %d: fine-tuned on %d labeled candidate(s) in %.2f s",
                             round_, len(y_train), record["training_time"])
        else:
            _logger.warning(
                "round %d: the %d labels hold a single class (%r); fine-tuning waits for a "
                "second class (pass classes= to train from the first batch). Queries keep "
                "using the current model.",
                round_, len(self._labeled), self._labeled.labels[0],
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
