"""One simulated annotation run (a method and a seed) and the study it belongs to."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from ..learner import ActiveLearner

logger = logging.getLogger(__name__)


@dataclass
class _Study:
    """Everything a (method, seed) run needs, sent once to each worker."""

    estimator: Any
    X_pool: Any
    y_pool: np.ndarray
    X_test: Any
    y_test: np.ndarray
    classes: np.ndarray
    positive: Any
    n_rounds: int
    batch_size: int
    rounds_kept: set
    scratch_params: dict
    strategies: dict

    def records(self, kind: str, method: str | None, seed: int,
                cache: Any) -> Iterator[dict[str, Any]]:
        """The store records of one task: a run's rows, or a seed's full-data fit."""
        if kind == "full_data":
            yield _full_data_auc(self.estimator, seed, cache, self.X_pool, self.y_pool,
                                 self.X_test, self.y_test, self.classes, self.positive)
            return
        est = _method_estimator(self.estimator, method, seed, cache, self.scratch_params)
        for row in _simulate(method, self.strategies[method], seed, est, self.X_pool,
                             self.y_pool, self.X_test, self.y_test, self.classes,
                             self.positive, self.n_rounds, self.batch_size, self.rounds_kept):
            yield {"type": "round", **row}


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, positive: Any) -> float:
    if len(np.unique(y_true)) < 2:
        return float("nan")
    if len(classes) == 2:
        column = int(np.flatnonzero(classes == positive)[0])
        return float(roc_auc_score(y_true == positive, proba[:, column]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))


def _evaluate(estimator: Any, X_test: Any, y_test: np.ndarray, classes: np.ndarray,
              positive: Any) -> tuple[float, float, float]:
    start = time.perf_counter()
    proba = np.asarray(estimator.predict_proba(X_test), dtype=np.float64)
    seconds = time.perf_counter() - start
    est_classes = np.asarray(getattr(estimator, "classes_", classes))
    if len(est_classes) != len(classes) or not np.array_equal(est_classes, classes):
        # align columns with the pool's classes
        aligned = np.zeros((len(proba), len(classes)))
        for j, c in enumerate(est_classes):
            aligned[:, int(np.flatnonzero(classes == c)[0])] = proba[:, j]
        proba = aligned
    accuracy = float(np.mean(classes[np.argmax(proba, axis=1)] == y_test))
    return _roc_auc(y_test, proba, classes, positive), accuracy, seconds


def _method_estimator(estimator: Any, method: str, seed: int, cache: Any,
                      scratch_params: Mapping[str, Any]) -> Any:
    est = clone(estimator)
    params: dict[str, Any] = {}
    names = est.get_params(deep=False)
    if "random_state" in names:
        params["random_state"] = seed
    if cache is not None and "activation_cache" in names:
        params["activation_cache"] = cache
    if method == "scratch":
        params.update(scratch_params)
    return est.set_params(**params)


def _simulate(
    method: str,
    strategy: Callable,
    seed: int,
    estimator: Any,
    X_pool: Any,
    y_pool: np.ndarray,
    X_test: Any,
    y_test: np.ndarray,
    classes: np.ndarray,
    positive: Any,
    n_rounds: int,
    batch_size: int,
    patch_proba_rounds: set[int],
) -> Iterator[dict[str, Any]]:
    """Run one (method, seed) with the ActiveLearner and yield one row per round."""
    learner = ActiveLearner(estimator, query_strategy=strategy, classes=classes,
                            random_state=seed)
    current_round = 0
    recorded: dict[str, Any] = {}
    pos_column = int(np.flatnonzero(classes == positive)[0])

    def oracle(indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.intp)
        if current_round in patch_proba_rounds:
            # the predictions the strategy ranked (the model before this round's fine-tuning)
            P = learner.estimator.predict_patch_proba(X_pool[indices])
            recorded["patch_proba"] = np.round(P[..., pos_column], 5).tolist()
        return y_pool[indices]

    auc, accuracy, eval_time = _evaluate(learner.estimator, X_test, y_test, classes, positive)
    yield {  # round 0: M0, before any label (the cold start's starting point)
        "method": method, "seed": seed, "round": 0, "n_labels": 0, "n_positive": 0,
        "n_negative": 0, "auc": auc, "accuracy": accuracy, "score_time": 0.0,
        "train_time": 0.0, "eval_time": eval_time, "queried": [], "scores": [],
        "patch_proba": None,
    }
    for r in range(1, n_rounds + 1):
        current_round = r
        recorded.clear()
        # one round of Alg. 1; with identical candidates in the pool it may add fewer labels
        indices, X_query = learner.query(X_pool, n_instances=batch_size)
        learner.teach(X_query, oracle(indices), indices=indices, annotator="oracle")
        entry = learner.history_[-1]
        queried = np.asarray(entry["queried"], dtype=np.intp)
        new_labels = int(entry["n_new"])
        if new_labels < len(queried):
            logger.info("%s, seed %d, round %d: %d new label(s) of %d queried (identical "
                        "candidates count once)", method, seed, r, new_labels, len(queried))
        auc, accuracy, eval_time = _evaluate(learner.estimator, X_test, y_test, classes, positive)
        n_pos = int(np.sum(y_pool[queried] == positive))
        yield {
            "method": method,
            "seed": seed,
            "round": r,
            "n_labels": int(entry["n_labels"]),
            "n_positive": n_pos,
            "n_negative": int(len(queried) - n_pos),
            "auc": auc,
            "accuracy": accuracy,
            "score_time": float(entry.get("scoring_time") or 0.0),
            "train_time": float(entry.get("training_time") or 0.0),
            "eval_time": eval_time,
            "queried": queried.tolist(),
            "scores": [None if s is None else float(s) for s in entry.get("scores", [])],
            "patch_proba": recorded.get("patch_proba"),
        }


def _full_data_auc(estimator: Any, seed: int, cache: Any, X_pool: Any, y_pool: np.ndarray,
                   X_test: Any, y_test: np.ndarray, classes: np.ndarray,
                   positive: Any) -> dict[str, Any]:
    est = _method_estimator(estimator, "full_data", seed, cache, {})
    start = time.perf_counter()
    est.fit(X_pool, y_pool)
    train_time = time.perf_counter() - start
    auc, accuracy, _ = _evaluate(est, X_test, y_test, classes, positive)
    return {"type": "full_data", "seed": seed, "auc": auc, "accuracy": accuracy,
            "n_labels": int(len(y_pool)), "train_time": train_time}
