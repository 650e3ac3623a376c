"""Checks of the learner's arguments and of the estimator it drives."""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable

import numpy as np

from ..candidates import check_class_list

__all__ = [
    "apply_classes",
    "check_annotator",
    "check_classes",
    "check_estimator",
    "check_labels",
    "estimator_params",
    "is_fitted",
    "is_int",
    "label_value",
    "make_oracle",
]


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (and not a bool)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_annotator(annotator: Any) -> str | None:
    """``annotator`` if it is None or a non-empty string."""
    if annotator is None or (isinstance(annotator, str) and annotator.strip()):
        return annotator
    raise TypeError(
        f"annotator must be None or a non-empty string naming who or what gave the labels "
        f"(e.g. 'oracle' or a user name); got {annotator!r}."
    )


def label_value(value: Any) -> Any:
    """A label as a JSON scalar (numpy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"labels must be numbers or strings; got {value!r} of type {type(value).__name__}."
    )


def check_labels(labels: list[Any], classes: list[Any] | None, *, declared: bool) -> None:
    """Raise a ValueError for labels outside ``classes`` (declared or learned)."""
    if classes is None:
        return
    known = set(classes)
    unknown = sorted({repr(v) for v in labels if v not in known})
    if unknown:
        where = "classes" if declared else "the classes the model was fine-tuned on"
        raise ValueError(
            f"y holds label(s) {', '.join(unknown)} outside {where} {classes}."
            + ("" if declared else " Pass classes= up front to declare every class.")
        )


def estimator_params(estimator: Any) -> dict[str, Any]:
    """``estimator.get_params(deep=False)``, or {} for an estimator without it."""
    return estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}


def check_estimator(estimator: Any, *, need_checkpoint: bool) -> None:
    """Raise a TypeError unless ``estimator`` has what the learner calls."""
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


def check_classes(classes: Any) -> list[Any] | None:
    """``classes`` as a list of at least two distinct JSON scalars, or None."""
    if classes is None:
        return None
    return [label_value(v) for v in check_class_list(classes).tolist()]


def apply_classes(estimator: Any, classes: list[Any] | None) -> None:
    """Set the estimator's unset ``classes`` parameter; refuse a conflicting one."""
    if classes is None:
        return
    params = estimator_params(estimator)
    if "classes" not in params:
        return
    current = params["classes"]
    if current is None:
        estimator.set_params(classes=list(classes))
    elif set(label_value(v) for v in np.asarray(current).tolist()) != set(classes):
        raise ValueError(
            f"classes={classes} differs from the estimator's classes={list(current)}; "
            f"give the same classes (or leave one of them unset)."
        )


def is_fitted(estimator: Any) -> bool:
    """Whether the estimator was fitted (``n_fits_`` or scikit-learn's check)."""
    n_fits = getattr(estimator, "n_fits_", None)
    if n_fits is not None:
        return n_fits > 0
    try:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
    except Exception:
        return False
    return True


def make_oracle(oracle: Any, n_pool: int) -> Callable[[np.ndarray], Any]:
    """``oracle`` if callable, else a lookup in the labels of the whole pool."""
    if callable(oracle):
        return oracle
    labels = np.asarray(oracle)
    if labels.ndim != 1 or len(labels) != n_pool:
        raise ValueError(
            f"oracle must be a callable or the labels of the whole pool, shape ({n_pool},); "
            f"got an array of shape {labels.shape}."
        )
    return lambda indices: labels[indices]
