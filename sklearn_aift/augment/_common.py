"""What every patch protocol shares: checks, padded crops, resizing, the dihedral group."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator

from ..utils import check_image

_PADDING_MODES = ("reflect", "edge", "constant")
_BILINEAR = Image.Resampling.BILINEAR


# --------------------------------------------------------------------------- helpers
def _check_positive_floats(values: Any, name: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in values)
    except TypeError as exc:
        raise ValueError(f"{name} must be a sequence of positive numbers; got {values!r}.") from exc
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive numbers; got {values!r}."
        )
    return values


def _check_padding_mode(mode: Any) -> str:
    if mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {_PADDING_MODES}; got {mode!r}.")
    return mode


def _index_with_padding(idx: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map integer coordinates outside [0, n) back inside (``constant`` maps to -1)."""
    if mode == "edge":
        return np.clip(idx, 0, n - 1)
    if mode == "constant":
        return np.where((idx >= 0) & (idx < n), idx, -1)
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.abs(idx) % period
    return np.where(idx >= n, period - idx, idx)


def _extract(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, mode: str) -> np.ndarray:
    """Integer crop ``image[y0:y1, x0:x1]`` that may reach outside the image."""
    h, w = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return image[y0:y1, x0:x1]
    rows = _index_with_padding(np.arange(y0, y1), h, mode)
    cols = _index_with_padding(np.arange(x0, x1), w, mode)
    # two one-axis gathers are much faster than one 2-D fancy index
    out = image.take(np.maximum(rows, 0), axis=0).take(np.maximum(cols, 0), axis=1)
    if mode == "constant":
        out[rows < 0] = 0
        out[:, cols < 0] = 0
    return out


def _to_pil(region: np.ndarray) -> Image.Image:
    if region.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(region[:, :, 0]))  # mode "L"
    return Image.fromarray(np.ascontiguousarray(region))  # mode "RGB"


def _from_pil(im: Image.Image) -> np.ndarray:
    arr = np.asarray(im)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _crop_resize(
    image: np.ndarray, boxes: np.ndarray, out_size: tuple[int, int], mode: str
) -> np.ndarray:
    """Resample axis-aligned float boxes ``(k, 4)`` to ``(k, out_h, out_w, C)``.

    One integer region covering all boxes and their filter support is cut out
    once (padded as needed), and each box is resampled from it with PIL's
    bilinear filter, which antialiases when shrinking.
    """
    # margin: the support of PIL's bilinear filter, which widens when shrinking
    shrink = max(
        (boxes[:, 2] - boxes[:, 0]).max() / out_size[0],
        (boxes[:, 3] - boxes[:, 1]).max() / out_size[1],
    )
    margin = int(np.ceil(max(shrink, 1.0))) + 1
    x0 = int(np.floor(boxes[:, 0].min())) - margin
    y0 = int(np.floor(boxes[:, 1].min())) - margin
    x1 = int(np.ceil(boxes[:, 2].max())) + margin
    y1 = int(np.ceil(boxes[:, 3].max())) + margin
    pil = _to_pil(_extract(image, x0, y0, x1, y1, mode))
    out = np.empty((len(boxes), out_size[1], out_size[0], image.shape[2]), dtype=np.uint8)
    for k, (bx0, by0, bx1, by1) in enumerate(boxes):
        box = (bx0 - x0, by0 - y0, bx1 - x0, by1 - y0)
        out[k] = _from_pil(pil.resize(out_size, _BILINEAR, box=box))
    return out


def _dihedral(patches: np.ndarray, n: int) -> np.ndarray:
    """``(k, C, P, P)`` -> ``(k, n, C, P, P)``: the first ``n`` dihedral orientations.

    Orientation ``d`` mirrors left-right when ``d >= 4``, then rotates by
    ``(d % 4) * 90`` degrees counter-clockwise (as ``numpy.rot90``); with
    ``n == 2`` the second orientation is the mirror. Every
    orientation is a reversed view of the patches or of their transpose, so one
    transposed copy is made and the rest are plain strided copies.
    """
    out = np.empty((patches.shape[0], n) + patches.shape[1:], dtype=patches.dtype)
    out[:, 0] = patches
    if n == 1:
        return out
    if n == 2:
        out[:, 1] = patches[..., ::-1]
        return out
    tr = np.ascontiguousarray(patches.swapaxes(-1, -2))
    views = (
        lambda: tr[..., ::-1, :],  # rotate 90
        lambda: patches[..., ::-1, ::-1],  # rotate 180
        lambda: tr[..., :, ::-1],  # rotate 270
        lambda: patches[..., :, ::-1],  # mirror
        lambda: tr,  # mirror, rotate 90
        lambda: patches[..., ::-1, :],  # mirror, rotate 180
        lambda: tr[..., ::-1, ::-1],  # mirror, rotate 270
    )
    for d in range(1, n):
        out[:, d] = views[d - 1]()
    return out


def _to_channels_first(patches: np.ndarray) -> np.ndarray:
    """``(m, P, P, C)`` -> contiguous ``(m, C, P, P)``."""
    return np.ascontiguousarray(patches.transpose(0, 3, 1, 2))


def _check_region(region: Any, size: int, what: str) -> np.ndarray:
    region = np.asarray(region, dtype=np.float64)
    if region.shape != (size,) or not np.isfinite(region).all():
        raise ValueError(f"region must be {what}; got {region!r}.")
    return region


# --------------------------------------------------------------------------- base
class _Protocol(BaseEstimator):
    """Shared interface of the patch protocols (not public)."""

    #: number of values that describe one candidate's region (0: the whole image)
    region_size: int = 0
    #: human-readable description of the region values
    region_doc: str = ""

    @property
    def uses_random_state(self) -> bool:
        """Whether ``generate`` draws random numbers (else ``random_state`` is ignored)."""
        return False

    def output_shape(self, n_channels: int) -> tuple[int, int, int, int]:
        """Shape ``(m, C, patch_size, patch_size)`` of one candidate's patches.

        Parameters
        ----------
        n_channels : int
            Channels of the source image (1 or 3).

        Returns
        -------
        shape : tuple of int

        Examples
        --------
        >>> from sklearn_aift.augment import BoxProtocol
        >>> BoxProtocol(patch_size=32).output_shape(3)
        (96, 3, 32, 32)
        """
        self._validate()
        return (self.n_patches, int(n_channels), int(self.patch_size), int(self.patch_size))

    def _validate(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def generate(self, image: Any, region: Any = None, random_state: Any = None) -> np.ndarray:
        """Make the patches of one candidate.

        Parameters
        ----------
        image : ndarray of shape (H, W) or (H, W, C), uint8
            The source image (C = 1 or 3).
        region : array-like or None
            The candidate's region (see the class docstring); None for the whole
            image where the protocol allows it.
        random_state : int, Generator, RandomState or None, default=None
            Randomness for protocols that draw positions or angles.

        Returns
        -------
        patches : ndarray of shape (m, C, patch_size, patch_size), uint8
            The candidate's patches, in the protocol's order.

        Raises
        ------
        TypeError
            If ``image`` is not uint8.
        ValueError
            If ``image``, ``region`` or a parameter is malformed.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.augment import AxisProtocol
        >>> image = np.zeros((64, 64, 3), dtype=np.uint8)
        >>> AxisProtocol(patch_size=16, n_rotations=2).generate(image, (32, 32, 45.0)).shape
        (18, 3, 16, 16)
        """
        self._validate()
        image = check_image(image)
        return self._generate(image, region, random_state)

    def _generate(self, image, region, random_state):  # pragma: no cover - overridden
        raise NotImplementedError


