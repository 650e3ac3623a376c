"""Candidate arrays: validation and batched materialisation."""

from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np

from ..utils import check_int


def _is_array_like(X: Any) -> bool:
    return hasattr(X, "shape") and hasattr(X, "__len__") and hasattr(X, "__getitem__")


def check_candidates(X: Any, *, name: str = "X", allow_empty: bool = False) -> Any:
    """Validate a candidate array or lazy candidate set without copying it.

    Parameters
    ----------
    X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or array-like
        The candidates. ``C`` must be 1 (grey) or 3 (RGB). NumPy arrays must be
        ``uint8`` in [0, 255] or floating point in [0, 1] and finite. Lazy
        objects need ``.shape``, ``len()`` and ``X[int_array]``; their pixel
        values are checked batch by batch when materialised.
    name : str, default="X"
        The argument name used in error messages.
    allow_empty : bool, default=False
        Whether zero candidates are accepted.

    Returns
    -------
    X : same object as given
        ``X`` itself, unchanged (never copied or coerced).

    Raises
    ------
    TypeError
        If ``X`` is not array-like or has an unsupported dtype.
    ValueError
        If the shape, channel count or pixel range is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import check_candidates
    >>> X = np.zeros((5, 4, 3, 32, 32), dtype=np.uint8)
    >>> check_candidates(X) is X
    True
    """
    if isinstance(X, (list, tuple)):
        raise TypeError(
            f"{name} must be a NumPy array or an array-like candidate set with .shape, "
            f"len() and integer-array indexing; got a {type(X).__name__}. "
            f"Convert it with numpy.asarray({name}) first."
        )
    if not _is_array_like(X):
        raise TypeError(
            f"{name} must be a NumPy array of shape (n, m, C, H, W) or (n, C, H, W), or a "
            f"CandidateSet; got {type(X).__name__}."
        )
    shape = tuple(X.shape)
    if len(shape) not in (4, 5):
        raise ValueError(
            f"{name} must have shape (n, m, C, H, W) or (n, C, H, W); got {len(shape)}-D "
            f"shape {shape}."
        )
    channels = shape[-3]
    if channels not in (1, 3):
        raise ValueError(
            f"{name} must have 1 (grey) or 3 (RGB) channels in axis -3; got {channels} "
            f"(shape {shape}). Channels come before height and width."
        )
    if not allow_empty and shape[0] == 0:
        raise ValueError(f"{name} is empty: it holds 0 candidates (shape {shape}).")
    if len(shape) == 5 and shape[1] == 0:
        raise ValueError(f"{name} has 0 patches per candidate (shape {shape}).")
    if isinstance(X, np.ndarray):
        check_pixel_values(X, name=name)
    return X


def check_pixel_values(X: np.ndarray, *, name: str = "X") -> None:
    """Check the dtype and value range of materialised pixels.

    Parameters
    ----------
    X : ndarray
        Pixels, ``uint8`` in [0, 255] or floating point in [0, 1].
    name : str, default="X"
        The argument name used in error messages.

    Raises
    ------
    TypeError
        If the dtype is neither ``uint8`` nor floating point.
    ValueError
        If a floating-point value is NaN, infinite or outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import check_pixel_values
    >>> check_pixel_values(np.full((1, 3, 8, 8), 0.5))
    """
    if X.dtype == np.uint8:
        return
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(
            f"{name} must hold uint8 pixels in [0, 255] or floats in [0, 1]; got dtype {X.dtype}."
        )
    if X.size == 0:
        return
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite pixel values.")
    low, high = float(X.min()), float(X.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} holds floats in [{low:g}, {high:g}]; float pixels must lie in [0, 1] "
            f"(pass uint8 for 0-255 images)."
        )


def _label_kind(value: Any) -> str:
    if isinstance(value, (str, np.str_, bytes)):
        return "str"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (numbers.Number, np.number)):
        return "number"
    return type(value).__name__


def check_label_kinds(labels: Any, *, name: str = "y") -> None:
    """Refuse labels that mix kinds (numbers, strings, booleans).

    NumPy would silently turn ``[0, "a", 1]`` into the strings
    ``["0", "a", "1"]``, so ``0`` and ``"0"`` would become one class; mixed
    labels are refused instead, naming the kinds found.

    Parameters
    ----------
    labels : array-like
        Labels or classes as given (a list, tuple or array).
    name : str, default="y"
        The argument name used in error messages.

    Raises
    ------
    TypeError
        If ``labels`` mixes numbers, strings and booleans.

    Examples
    --------
    >>> from sklearn_aift.candidates import check_label_kinds
    >>> check_label_kinds([0, 1, 1])
    >>> check_label_kinds([0, "a", 1])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    TypeError: y mixes label types: number (0, 1) and str ('a'); give labels of one
    type (all numbers or all strings).
    """
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        return  # one dtype: one kind
    if not isinstance(labels, (list, tuple, np.ndarray)):
        return
    examples: dict[str, list] = {}
    for value in np.asarray(labels, dtype=object).ravel().tolist():
        shown = examples.setdefault(_label_kind(value), [])
        if len(shown) < 3 and value not in shown:
            shown.append(value)
    if len(examples) > 1:
        kinds = " and ".join(
            f"{kind} ({', '.join(repr(v) for v in values)})" for kind, values in examples.items()
        )
        raise TypeError(
            f"{name} mixes label types: {kinds}; give labels of one type (all numbers or "
            f"all strings)."
        )


def check_class_list(classes: Any, *, name: str = "classes") -> np.ndarray:
    """Validate declared classes: 1-D, at least two, one type, no repeats.

    Parameters
    ----------
    classes : array-like
        The classes.
    name : str, default="classes"
        The argument name used in error messages.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        As given, in the given order.

    Raises
    ------
    TypeError
        If ``classes`` mixes numbers and strings.
    ValueError
        If ``classes`` is not 1-D, holds fewer than two classes or repeats one.

    Examples
    --------
    >>> from sklearn_aift.candidates import check_class_list
    >>> check_class_list(["benign", "malignant"]).tolist()
    ['benign', 'malignant']
    >>> check_class_list([0, 0])
    Traceback (most recent call last):
    ...
    ValueError: classes must not repeat a class; got [0, 0].
    """
    check_label_kinds(classes, name=name)
    array = np.asarray(classes)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(
            f"{name} must be a 1-D array-like of at least 2 classes; got {classes!r}."
        )
    values = array.tolist()
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a class; got {values}.")
    return array


def check_candidate_labels(y: Any, n_candidates: int, *, name: str = "y") -> np.ndarray:
    """Validate candidate labels: one per candidate, 1-D, no missing values.

    Parameters
    ----------
    y : array-like of shape (n_candidates,)
        Candidate labels (numbers or strings).
    n_candidates : int
        The number of candidates the labels must match.
    name : str, default="y"
        The argument name used in error messages.

    Returns
    -------
    y : ndarray of shape (n_candidates,)
        The labels as a NumPy array (a view when ``y`` already is one).

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, its length differs from ``n_candidates``, it holds
        NaN, or it mixes numbers and strings (see :func:`check_label_kinds`).

    Examples
    --------
    >>> from sklearn_aift.candidates import check_candidate_labels
    >>> check_candidate_labels([0, 1, 1], 3)
    array([0, 1, 1])
    """
    check_label_kinds(y, name=name)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per candidate); got shape {y.shape}.")
    if len(y) != n_candidates:
        raise ValueError(
            f"{name} has {len(y)} labels but there are {n_candidates} candidates; they must match."
        )
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"{name} contains NaN labels.")
    return y


def materialize(X: Any, indices: np.ndarray | None = None, *, name: str = "X") -> np.ndarray:
    """Return candidates as a 5-D NumPy array ``(n, m, C, H, W)``.

    Parameters
    ----------
    X : ndarray or array-like candidate set
        Validated candidates (see :func:`check_candidates`).
    indices : ndarray of int, default=None
        The candidates to materialise; all of them when None.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    patches : ndarray of shape (n, m, C, H, W)
        The pixels, in their original dtype (``uint8`` stays ``uint8``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import materialize
    >>> materialize(np.zeros((2, 3, 8, 8), dtype=np.uint8)).shape
    (2, 1, 3, 8, 8)
    """
    batch = X if indices is None else X[np.asarray(indices, dtype=np.intp)]
    batch = np.asarray(batch)
    check_pixel_values(batch, name=name)
    if batch.ndim == 4:
        batch = batch[:, None]
    return batch


def iter_candidate_batches(
    X: Any, batch_size: int, *, name: str = "X"
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, patches)`` for consecutive batches of candidates.

    Only one batch is materialised at a time, so lazy candidate sets are never
    generated whole.

    Parameters
    ----------
    X : ndarray or array-like candidate set
        Validated candidates (see :func:`check_candidates`).
    batch_size : int
        Candidates per batch (at least 1).
    name : str, default="X"
        The argument name used in error messages.

    Yields
    ------
    start : int
        Index of the first candidate of the batch.
    patches : ndarray of shape (b, m, C, H, W)
        The batch, as returned by :func:`materialize`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import iter_candidate_batches
    >>> X = np.zeros((5, 2, 1, 8, 8), dtype=np.uint8)
    >>> [(start, b.shape[0]) for start, b in iter_candidate_batches(X, 2)]
    [(0, 2), (2, 2), (4, 1)]
    """
    check_int(batch_size, "batch_size")
    n = len(X)
    for start in range(0, n, int(batch_size)):
        stop = min(start + int(batch_size), n)
        yield start, materialize(X, np.arange(start, stop), name=name)


