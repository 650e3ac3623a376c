"""Round bookkeeping: recording labels, fine-tuning a round, finishing an interrupted one."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..candidates import KeyedCandidates
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
        rows = []
        for j in changes:
            new = self._labeled.find(keys[j]) is None
            rows.append({"candidate_key": keys[j], "digest": digests[j], "label": labels[j],
                         "annotator": annotator, "labeled_at": at,
                         "pixels": pixels[j] if new else None})
        if self._store is not None:
            n_added = sum(row["pixels"] is not None for row in rows)
            positions = [self._labeled.find(row["candidate_key"]) for row in rows]
            n_new = sum(r == round_ for r in self._labeled.rounds) + sum(
                p is None or self._labeled.rounds[p] != round_ for p in positions
            )
            record = self._round_record(round_, only_new, len(self._labeled) + n_added, n_new)
            self._store.record_labels(round_, rows, record, only_new=only_new,
                                      status="labeled" if fine_tune else "open")
        for row in rows:
            position = self._labeled.find(row["candidate_key"])
            if position is None:
                self._labeled.add(row["candidate_key"], row["digest"], row["label"], round_,
                                  annotator, at, row["pixels"])
            else:
                self._labeled.relabel(position, row["label"], round_, annotator, at)

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

    def _do_fine_tune_round(self, round_: int, record: dict[str, Any], only_new: bool) -> None:
        trained = self._can_train()
        if trained:
            positions = (self._labeled.positions_after(self._last_trained_round) if only_new
                         else list(range(len(self._labeled))))
            X_train = self._labeled.stack(positions)
            if hasattr(self.estimator, "activation_cache"):
                # the keys are known: the net finds the cached activations without digesting
                X_train = KeyedCandidates(X_train, [self._labeled.keys[p] for p in positions])
            y_train = np.asarray(self._labeled.labels)[positions]
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
