"""Argument checks made once, at the public edge: integers, counts and images.

Written here rather than taken from scikit-learn's private
``sklearn.utils._param_validation``, which may change in any release.

A public function that validated its inputs and passes them on to other
public functions (``ActiveLearner.query`` to the strategy, the strategy to
the network) runs them inside :func:`validated_inputs`; they then skip their
own checks of the data, as scikit-learn's ``config_context(assume_finite=True)``
skips finiteness checks in nested calls.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from typing import Any, Iterator

import numpy as np

_VALIDATED = contextvars.ContextVar("sklearn_aift_inputs_validated", default=False)


@contextlib.contextmanager
def validated_inputs() -> Iterator[None]:
    """Within the block, public functions take their data arguments as validated.

    The caller has checked the candidate pool, ``n_instances`` and
    ``exclude`` it passes on; the strategies and the network called inside
    skip those checks (each check is made once, at the public edge).
    Parameters that only the callee knows (a strategy's ``n_jobs``, the
    network's settings) are still checked by the callee. The flag is local
    to the thread or task (a :class:`contextvars.ContextVar`) and is not
    seen by worker processes, which check what they receive.

    Examples
    --------
    >>> from sklearn_aift.utils import inputs_validated, validated_inputs
    >>> with validated_inputs():
    ...     inside = inputs_validated()
    >>> inside, inputs_validated()
    (True, False)
    """
    token = _VALIDATED.set(True)
    try:
        yield
    finally:
        _VALIDATED.reset(token)


def inputs_validated() -> bool:
    """Whether the caller validated the data passed in (see :func:`validated_inputs`).

    Returns
    -------
    validated : bool
    """
    return _VALIDATED.get()


def check_count(value: Any, name: str) -> int:
    """``value`` as an int >= 1: a count such as ``n_instances`` or ``batch_size``.

    Unlike :func:`check_int`, a value that is not an integer raises a
    TypeError, as Python does for a wrong type.

    Parameters
    ----------
    value : object
        The argument; bools are refused.
    name : str
        The argument's name, for the error message.

    Returns
    -------
    value : int

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If ``value < 1``.

    Examples
    --------
    >>> from sklearn_aift.utils import check_count
    >>> check_count(2, "n_instances")
    2
    >>> check_count(1.5, "n_instances")
    Traceback (most recent call last):
    ...
    TypeError: n_instances must be a positive integer; got 1.5 of type float.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer; got {value!r} of type {type(value).__name__}."
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1); got {value}.")
    return int(value)


def check_int(value: Any, name: str, *, min_value: int = 1, allow_none: bool = False) -> Any:
    """``value`` as an int, checked to be an integer of at least ``min_value``.

    Parameters
    ----------
    value : object
        The argument; bools are refused.
    name : str
        The argument's name, for the error message.
    min_value : int, default=1
        The smallest valid value.
    allow_none : bool, default=False
        Whether None is valid (and returned as is).

    Returns
    -------
    value : int or None

    Raises
    ------
    ValueError
        If ``value`` is not an integer of at least ``min_value``; the message
        names the argument, the value and what was expected.

    Examples
    --------
    >>> from sklearn_aift.utils import check_int
    >>> check_int(3, "n_frames")
    3
    >>> check_int(0, "n_frames")
    Traceback (most recent call last):
    ...
    ValueError: n_frames must be a positive integer; got 0.
    """
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < min_value):
        if min_value == 1:
            expected = "a positive integer"
        elif min_value == 0:
            expected = "a non-negative integer"
        else:
            expected = f"an integer >= {min_value}"
        if allow_none:
            expected += " or None"
        raise ValueError(f"{name} must be {expected}; got {value!r}.")
    return int(value)


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """``image`` as a ``(H, W, C)`` uint8 array, ``C`` in {1, 3}.

    Parameters
    ----------
    image : array-like of uint8, shape (H, W) or (H, W, C)
        The image.
    name : str, default="image"
        Its name, for the error message.

    Returns
    -------
    image : ndarray of uint8, shape (H, W, C)

    Raises
    ------
    TypeError
        If the pixels are not uint8.
    ValueError
        If the shape is not an image's, or the image is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.utils import check_image
    >>> check_image(np.zeros((4, 5), dtype=np.uint8)).shape
    (4, 5, 1)
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(
            f"{name} must hold uint8 pixels (0-255); got dtype {image.dtype}. Convert "
            f"float images in [0, 1] with (img * 255).round().astype(np.uint8)."
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(
            f"{name} must have shape (H, W) or (H, W, C) with C in (1, 3); got shape {image.shape}."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {image.shape}.")
    return image


def check_window(window: Any) -> tuple | None:
    """``window`` as a ``(center, width)`` pair of floats, or None.

    Parameters
    ----------
    window : pair of numbers or None
        The centre and width of the values mapped onto the 8-bit range.

    Returns
    -------
    window : tuple of (float, float) or None

    Raises
    ------
    TypeError
        If ``window`` is not None or a pair of numbers.
    ValueError
        If the centre or width is not finite, or the width is not positive.

    Examples
    --------
    >>> from sklearn_aift.utils import check_window
    >>> check_window((40, 400))
    (40.0, 400.0)
    """
    if window is None:
        return None
    try:
        center, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise TypeError(
            f"window must be None or a pair (center, width) of numbers; got {window!r}."
        ) from None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise ValueError(
            f"window must have a finite center and a positive finite width; got {window!r}."
        )
    return center, width
