"""A check set: images labeled once, never trained on, that measure the model each round.

The check set is drawn when a session starts and recorded in it; its images
are shown first, as a batch of their own, and then kept out of everything the
learner sees (queries, labels taught, fine-tuning). After every round the model
predicts them, and their labels give the round's AUC, sensitivity and
specificity.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = ["check_set_metrics", "draw_check_set"]


def draw_check_set(keys: Sequence[str], n: int, random_state: int) -> list[str]:
    """``n`` of ``keys`` drawn at random, the same ones for the same keys and seed.

    Parameters
    ----------
    keys : sequence of str
        Candidate keys of the pool (their order does not matter).
    n : int
        How many to draw, at most ``len(keys)``.
    random_state : int
        Seed of the draw.

    Returns
    -------
    drawn : list of str
        The drawn keys, in the order they are shown.

    Examples
    --------
    >>> draw_check_set(["c", "a", "b", "d"], 2, 0) == draw_check_set(["d", "c", "b", "a"], 2, 0)
    True
    """
    ordered = sorted(keys)
    rng = np.random.default_rng(random_state)
    return [ordered[i] for i in rng.choice(len(ordered), size=n, replace=False).tolist()]


def check_set_metrics(y: np.ndarray, proba: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """The model's quality on the check set's labeled images.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class codes (positions in ``classes``) given by the expert.
    proba : ndarray of shape (n, K)
        The model's class probabilities (mean over each image's patches).
    classes : sequence of str
        Class names; with two, the second is the positive class.

    Returns
    -------
    metrics : dict
        ``n`` (labeled check images), ``auc`` (two classes: ROC AUC of the
        positive class's probability; more: sklearn's macro one-vs-rest AUC),
        ``recall`` (per class name: the share of its images predicted as it,
        the predicted class being the most probable one), and with two classes
        ``sensitivity`` (the positive class's recall) and ``specificity`` (the
        negative class's recall). A value that the labels cannot define (AUC
        while a class has no image, the recall of a class without images) is
        None.

    Examples
    --------
    >>> m = check_set_metrics(np.array([0, 1, 1]), np.array([[.8, .2], [.3, .7], [.6, .4]]),
    ...                       ["negative", "positive"])
    >>> m["auc"], m["sensitivity"], m["specificity"]
    (1.0, 0.5, 1.0)
    """
    y = np.asarray(y, dtype=int)
    proba = np.asarray(proba, dtype=float)
    n_classes = len(classes)
    predicted = np.argmax(proba, axis=1) if len(y) else np.zeros(0, dtype=int)
    recall = {name: (float(np.mean(predicted[y == k] == k)) if np.any(y == k) else None)
              for k, name in enumerate(classes)}
    auc = None
    if len(y) and all(np.any(y == k) for k in range(n_classes)):
        if n_classes == 2:
            auc = float(roc_auc_score(y == 1, proba[:, 1]))
        else:
            scores = proba / proba.sum(axis=1, keepdims=True)
            auc = float(roc_auc_score(y, scores, multi_class="ovr", average="macro",
                                      labels=list(range(n_classes))))
    metrics = {"n": int(len(y)), "auc": auc, "recall": recall}
    if n_classes == 2:
        metrics["sensitivity"] = recall[classes[1]]
        metrics["specificity"] = recall[classes[0]]
    return metrics
