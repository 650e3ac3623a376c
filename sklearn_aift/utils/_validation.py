"""Argument checks made once, at the public edge: integers and images.

Written here rather than taken from scikit-learn's private
``sklearn.utils._param_validation``, which may change in any release.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


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
