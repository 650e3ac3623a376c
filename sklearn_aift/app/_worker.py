"""The campaign's background thread: decisions to the learner, ranking, fine-tuning.

Only this thread calls the campaign's :class:`~sklearn_aift.learner.ActiveLearner`
once the campaign is open. A request records its decision in the session store
and wakes the thread, which teaches the learner every label given since (and
withdraws the undone or skipped ones), fine-tunes when the round's batch is
complete, and ranks the next batch. A request never waits for the model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np

from ._check import check_set_metrics
from ._events import decided, utc_now

__all__ = ["BackgroundWork"]

_logger = logging.getLogger("sklearn_aift.app")


class BackgroundWork:
    """The background work of :class:`LabelingCampaign` (mixed into it)."""

    def _set_phase(self, phase: str, message: str, progress: float | None = None) -> None:
        with self._lock:
            self._phase, self._message, self._progress = phase, message, progress
            self._phase_started = time.monotonic()
        _logger.info("%s", message)

    def _start_worker(self) -> None:
        """Wake the background thread (start it unless it runs)."""
        with self._lock:
            self._dirty = True
            if self._active or self._closed:
                return
            self._active = True
            self._worker = threading.Thread(target=self._run_worker, daemon=True,
                                            name="aift-campaign")
            self._worker.start()

    def _run_worker(self) -> None:
        try:
            self._advance()
        except Exception as exc:  # reported on the page and in the log, not swallowed
            _logger.exception("the campaign's background work failed")
            with self._lock:
                self._phase = "error"
                self._message = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                if self._worker is threading.current_thread():  # not a successor's flag
                    self._active = False

    def _stop_unless_woken(self, phase: str, message: str) -> bool:
        """Stop (True) unless a decision arrived meanwhile; one step under the request lock."""
        with self._lock:
            if self._dirty or self._recheck:
                return False
            self._set_phase(phase, message)
            self._active = False
            return True

    def _advance(self) -> None:
        """Sync, train completed batches and rank new ones until the expert has work to do."""
        while not self._closed:
            with self._lock:
                self._dirty = False
            self._sync_learner()
            round_ = self._round
            if round_ == 1 and not self._store.read_batch_rounds() and self._untrained_imports():
                self._train(0)
                continue
            batch = self._store.read_batch(round_)
            if not batch:
                with self._lock:
                    self._recheck = False
                self._folder.scan()
                if self._query(round_) or not self._stop_unless_woken(
                        "done", "every image of the folder is labeled or skipped"):
                    continue
                return
            with self._lock:
                recheck, self._recheck = self._recheck, False
            if recheck:
                self._replace_missing(round_)
                continue
            if not self._batch_done(batch):
                if self._stop_unless_woken("labeling", f"round {round_}: waiting for labels"):
                    return
                continue
            self._train(round_)

    # -- decisions to the learner -------------------------------------------------------
    def _sync_learner(self) -> None:
        """Teach the learner the current labels and withdraw the others (by annotator)."""
        current = self._store.current_decisions()
        wanted = {key: self.classes.index(e["label"]) for key, e in current.items()
                  if e["kind"] == "label" and key not in self._check_keys}
        held = {row["candidate_key"]: row["label"] for row in self._learner.labels_}
        withdrawn = defaultdict(list)
        for key in held:
            if key not in wanted:
                withdrawn[current.get(key, {}).get("annotator")].append(key)
        for annotator, keys in withdrawn.items():
            self._learner.withdraw(keys, annotator=annotator)
        pool = self._folder.pool
        position = {key: i for i, key in enumerate(pool.keys.tolist())}
        taught = defaultdict(list)
        for key, code in wanted.items():
            if held.get(key) != code:
                if key in position:
                    taught[current[key]["annotator"]].append((position[key], code))
                elif key not in self._unreachable:
                    self._unreachable.add(key)
                    _logger.warning("the image labeled %r (%s) is not in the folder: its label "
                                    "is kept and the model learns it once the image is back",
                                    current[key]["label"], current[key]["file"])
        for annotator, items in taught.items():
            try:
                self._teach(pool, items, annotator)
            except OSError:  # an image went since the scan: the others are taught alone
                for item in items:
                    try:
                        self._teach(pool, [item], annotator)
                    except OSError as exc:
                        key = pool.keys[item[0]]
                        if key not in self._unreachable:
                            self._unreachable.add(key)
                            _logger.warning("cannot read a labeled image yet (%s): its label "
                                            "is kept and the model learns it once the image "
                                            "is readable", exc)

    def _teach(self, pool: Any, items: list[tuple[int, int]], annotator: str) -> None:
        """Teach the learner the candidates at pool positions ``items`` (position, code)."""
        index = np.asarray([i for i, _ in items], dtype=np.intp)
        self._learner.teach(pool[index], [c for _, c in items], fine_tune=False,
                            annotator=annotator)

    def _untrained_imports(self) -> bool:
        return any(e["kind"] == "label" and e["round"] == 0 and key not in self._check_keys
                   for key, e in self._store.current_decisions().items())

    def _batch_done(self, batch: list[dict[str, Any]]) -> bool:
        current = self._store.current_decisions()
        return all(decided(current, c["id"]) for c in batch)

    # -- ranking --------------------------------------------------------------------------
    def _query(self, round_: int) -> bool:
        """Rank the pool and save the batch of ``round_``; False when nothing is left."""
        if round_ == self._check_round:
            rows = self._check_rows()
            if rows:
                self._store.save_batch(round_, rows)
                return True
            # every check image is gone: the round ranks the pool as any other
        rows = self._rank(round_, self.batch_size, set())
        if rows is None:
            return False
        self._store.save_batch(round_, rows)
        return True

    def _check_rows(self) -> list[dict[str, Any]]:
        """The check set's images as a batch, in the order drawn, with no model output.

        The expert gives the reference labels without seeing what the model
        thinks of these images.
        """
        folder = self._folder
        return [{"id": key, "file": folder.relative(folder.files[key]), "score": 0.0,
                 "predicted": "", "patch_proba": []}
                for key in self._check_order if folder.available(key)]

    def _replace_missing(self, round_: int) -> None:
        """Drop undecided batch images that disappeared; add the strategy's next picks.

        The folder is scanned first, so a renamed or touched file is found
        again and stays. A dropped candidate keeps every decision about it.
        """
        batch = self._store.read_batch(round_)
        current = self._store.current_decisions()
        folder = self._folder
        if all(folder.available(c["id"]) or decided(current, c["id"]) for c in batch) and (
                len(batch) >= self.batch_size or not self._store.read_drops(round_)):
            return
        folder.scan()
        gone = [c for c in batch if not decided(current, c["id"]) and not
                folder.available(c["id"])]
        for c in gone:
            _logger.warning("round %d: %s is no longer readable in %s; it leaves the batch "
                            "and the next candidate replaces it", round_, c["file"], folder.root)
        if gone:
            self._store.drop_from_batch(round_, [
                {"id": c["id"], "file": c["file"], "reason": "missing or unreadable"}
                for c in gone], at=utc_now())
        live = self._store.read_batch(round_)
        need = self.batch_size - len(live)
        dropped = self._store.read_drops(round_)
        if need <= 0 or not dropped or round_ == self._check_round:
            return
        rows = self._rank(round_, need, {c["id"] for c in live} | {c["id"] for c in dropped})
        if rows:
            self._store.save_batch(round_, rows)

    def _rank(self, round_: int, n: int, taken: set[str]) -> list[dict[str, Any]] | None:
        """The learner's next ``n`` candidates, leaving out decided and ``taken`` ones.

        None when every candidate of the pool is decided or taken.
        """
        pool = self._folder.pool
        ids = pool.keys.tolist()
        current = self._store.current_decisions()
        exclude = np.flatnonzero([decided(current, c) or c in taken or c in self._check_keys
                                  for c in ids])
        if len(exclude) == len(ids):
            return None
        if not self._warmed:
            self._warm_up(pool)
        self._set_phase("ranking", f"round {round_}: ranking {len(ids) - len(exclude)} images")
        indices, X_query = self._learner.query(
            pool, n_instances=min(n, len(ids) - len(exclude)), exclude=exclude.astype(np.intp))
        scores = self._learner.query_scores_
        proba = self.estimator.predict_patch_proba(X_query)
        return [{
            "id": ids[i],
            "file": self._folder.relative(self._folder.files[ids[i]]),
            "score": float(score),
            "predicted": self.classes[int(np.argmax(P.mean(axis=0)))],
            "patch_proba": np.round(P, 4).tolist(),
        } for i, score, P in zip(np.asarray(indices).tolist(), scores.tolist(), proba)]

    def _warm_up(self, pool: Any, chunk: int = 64) -> None:
        """Fill the model's activation cache chunk by chunk, so the first pass shows progress.

        Only for estimators that cache frozen activations by candidate key: the
        strategy's pass over the whole pool then reads the cache.
        """
        self._warmed = True
        params = self.estimator.get_params() if hasattr(self.estimator, "get_params") else {}
        if params.get("activation_cache") in (None, False):
            return
        n = len(pool)
        for start in range(0, n, chunk):
            self._set_phase("ranking", f"computing the features of the pool: {start}/{n} images",
                            start / n)
            self.estimator.predict_patch_proba(pool[np.arange(start, min(n, start + chunk))])

    # -- fine-tuning ----------------------------------------------------------------------
    def _expected_training_time(self, n_labels: int) -> float | None:
        rounds = [r for r in self._store.read_batch_rounds()
                  if r["n_labels"] > 0 and r["training_time"] > 0]
        if not rounds:
            return None
        last = rounds[-1]
        return last["training_time"] * max(1.0, n_labels / last["n_labels"])

    def _train(self, round_: int) -> None:
        """Fine-tune on every label (round 0: the imported ones) and close the round.

        The folder is scanned first: the learner reads the labeled images from
        the files as they are now, and leaves out those that disappeared.
        """
        self._folder.scan()
        current = self._store.current_decisions()
        n_present = sum(e["kind"] == "label" and key in self._folder.present
                        and key not in self._check_keys for key, e in current.items())
        if round_ == self._check_round:
            self._close_check_round(round_, current)
            return
        expected = self._expected_training_time(n_present)
        self._set_phase("fine-tuning", f"round {round_}: fine-tuning on {n_present} labels",
                        0.0 if expected else None)
        with self._lock:
            self._expected = expected
        rounds = self._store.read_batch_rounds()
        since = rounds[-1]["learner_round"] if rounds else 0
        start = time.perf_counter()
        self._learner.fine_tune()
        elapsed = time.perf_counter() - start
        trained = [h["training_time"] for h in self._learner.history_
                   if h["round"] > since and h["training_time"] is not None]
        self._store.complete_batch_round({
            "round": round_,
            "n_labels": n_present,
            "batch_accuracy": self._batch_accuracy(round_, current),
            "training_time": float(sum(trained)) if trained else elapsed,
            "learner_round": self._learner.n_iter_,
            "time": utc_now(),
            "check_metrics": self._check_metrics(current),
        })
        with self._lock:
            self._round = round_ + 1

    def _close_check_round(self, round_: int, current: dict[str, dict[str, Any]]) -> None:
        """Close the check set's round: nothing to learn, the starting model measured."""
        self._set_phase("fine-tuning", f"round {round_}: measuring the model on the check set")
        self._store.complete_batch_round({
            "round": round_,
            "n_labels": len(self._learner.labels_),
            "batch_accuracy": None,
            "training_time": 0.0,
            "learner_round": self._learner.n_iter_,
            "time": utc_now(),
            "check_metrics": self._check_metrics(current),
        })
        with self._lock:
            self._round = round_ + 1

    def _check_metrics(self, current: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The current model's quality on the labeled check images present in the folder."""
        if not self._check_keys:
            return None
        pool = self._folder.pool
        position = {key: i for i, key in enumerate(pool.keys.tolist())}
        items = [(position[key], self.classes.index(current[key]["label"]))
                 for key in self._check_order
                 if key in position and current.get(key, {}).get("kind") == "label"]
        if not items:
            return check_set_metrics(np.zeros(0, int), np.zeros((0, len(self.classes))),
                                     self.classes)
        index = np.asarray([i for i, _ in items], dtype=np.intp)
        proba = self.estimator.predict_patch_proba(pool[index]).mean(axis=1)
        return check_set_metrics(np.asarray([c for _, c in items]), proba, self.classes)

    def _batch_accuracy(self, round_: int, current: dict[str, dict[str, Any]]) -> float | None:
        """The model's accuracy on the batch, as predicted when the batch was ranked."""
        if round_ == self._check_round:  # shown without predictions
            return None
        hits = [c["predicted"] == current[c["id"]]["label"]
                for c in self._store.read_batch(round_)
                if current.get(c["id"], {}).get("kind") == "label"]
        return float(np.mean(hits)) if hits else None

    def wait_idle(self, timeout: float | None = 600.0) -> bool:
        """Wait until the background work (syncing, ranking, fine-tuning) is over.

        Parameters
        ----------
        timeout : float or None, default=600.0
            Seconds to wait at most.

        Returns
        -------
        idle : bool
            True when nothing runs in the background any more.

        Examples
        --------
        See :class:`LabelingCampaign`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            worker = self._worker
            if worker is None:
                return True
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            worker.join(left)
            if worker.is_alive():
                return False
            if self._worker is worker:
                return True
