"""The paper's patch-generation protocols (Zhou et al., CVPR 2017, sec. 4).

AIFT judges a *candidate* by the predictions on its *patches*: views of the
same image region made by data augmentation. This module makes those patches,
as ``uint8`` arrays of shape ``(m, C, patch_size, patch_size)``, with the three
protocols of the paper:

* :class:`BoxProtocol` (polyp detection, sec. 4.2): scales x translations x the
  8 rotations/flips around a candidate's bounding box; 96 patches by default.
* :class:`FrameProtocol` (colonoscopy frame classification, sec. 4.1): 21
  patches cropped from a whole frame, on a fixed three-level grid or at random
  positions.
* :class:`AxisProtocol` (pulmonary embolism detection, sec. 4.3, in 2-D):
  scales x translations along an axis x rotations; 54 patches by default.

Each protocol is a small parameter object (``get_params``/``set_params``/
``clone`` work as in scikit-learn) with a ``generate(image, region,
random_state)`` method; :func:`box_patches`, :func:`frame_patches` and
:func:`axis_patches` are the same as plain functions. A lazy pool of
candidates built on a protocol is a :class:`sklearn_aift.candidates.CandidateSet`.

Coordinates are *continuous pixel coordinates*: pixel ``(row r, column c)``
covers ``[c, c + 1) x [r, r + 1)``, so its centre is ``(c + 0.5, r + 0.5)``;
``x`` runs right along columns and ``y`` down along rows. Image regions that a
patch needs beyond the image border are filled according to ``padding_mode``.
Resampling is bilinear (PIL), with antialiasing when a region is shrunk.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator

__all__ = [
    "BoxProtocol",
    "FrameProtocol",
    "AxisProtocol",
    "box_patches",
    "frame_patches",
    "axis_patches",
]

_PADDING_MODES = ("reflect", "edge", "constant")
_BILINEAR = Image.Resampling.BILINEAR


# --------------------------------------------------------------------------- helpers
def _as_generator(random_state: Any) -> np.random.Generator:
    """Turn None, an int, a Generator or a RandomState into a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    raise TypeError(
        "random_state must be None, an int, a numpy Generator or a RandomState; got "
        f"{random_state!r}."
    )


def _check_image(image: Any, name: str = "image") -> np.ndarray:
    """Return ``image`` as a (H, W, C) uint8 array, C in {1, 3}."""
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


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


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
        image = _check_image(image)
        return self._generate(image, region, random_state)

    def _generate(self, image, region, random_state):  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------- box
class BoxProtocol(_Protocol):
    """Patches around a bounding box: the polyp-detection protocol (sec. 4.2).

    The paper: "At each polyp candidate location with the given bounding box, we
    perform a data augmentation by a factor f in {1.0, 1.2, 1.5}. At each scale,
    we extract patches after the candidate is translated by 10 percent of the
    resized bounding box in vertical and horizontal directions. We further
    rotate each resulting patch 8 times by mirroring and flipping."

    For each scale ``f`` the box is enlarged about its centre (to a square of
    side ``f * max(w, h)`` when ``square=True``), translated up, down, left and
    right by ``shift`` times the enlarged side, resampled to ``patch_size``
    pixels, and then shown in ``dihedral`` of the 8 orientations of the square
    (4 rotations by 90 degrees, each with and without a mirror).

    **Translations.** The text leaves open whether the untranslated box is also
    kept. The default takes the literal reading, the four translated boxes
    only, so ``m = 3 x 4 x 8 = 96``: every patch is a translated view, the four
    shifts are symmetric about the box (their mean is the box itself) and the
    pool costs 20% less to store and predict than with five positions. Set
    ``include_center=True`` for the other reading, ``m = 3 x 5 x 8 = 120``, or
    ``shift=0`` for the untranslated box alone (``m = 3 x 8 = 24``).

    Patch order: index ``(s * T + t) * D + d`` for scale ``s``, translation ``t``
    (right, left, down, up, then the centre when included) and orientation
    ``d`` (see :meth:`patch_transforms`).

    Parameters
    ----------
    patch_size : int, default=64
        Side of the square output patches in pixels (the network resizes them to
        its input size; the paper fed AlexNet 227 x 227 patches).
    scales : sequence of float, default=(1.0, 1.2, 1.5)
        Enlargement factors ``f`` of the box (the paper's values).
    shift : float, default=0.1
        Translation as a fraction of the enlarged box side (the paper's 10%);
        0 disables translation.
    include_center : bool, default=False
        Also keep the untranslated box at each scale (ignored when ``shift=0``).
    dihedral : {1, 2, 4, 8}, default=8
        Number of orientations: 1 (as is), 2 (plus a left-right mirror), 4 (the
        rotations by 90 degrees), 8 (rotations and mirrors: the paper's 8).
    square : bool, default=True
        Crop a square of side ``f * max(w, h)`` centred on the box, so patches
        keep the aspect ratio of the image; if False the ``f * w`` by ``f * h``
        rectangle is stretched to the square patch.
    padding_mode : {"reflect", "edge", "constant"}, default="reflect"
        How pixels outside the image are filled (mirror without repeating the
        border pixel, repeat the border pixel, or black). Mirroring keeps the
        patches of boxes near the border free of an artificial black frame that
        a network could learn as a cue.

    Attributes
    ----------
    n_patches : int
        ``len(scales) * n_translations * dihedral``.

    Notes
    -----
    The candidate region is ``(x0, y0, x1, y1)`` in continuous pixel coordinates
    (``x1``, ``y1`` exclusive), as ``[xmin, ymin, xmax, ymax]`` boxes usually are.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import BoxProtocol
    >>> protocol = BoxProtocol(patch_size=32)
    >>> protocol.n_patches
    96
    >>> BoxProtocol(include_center=True).n_patches
    120
    >>> image = np.zeros((100, 120, 3), dtype=np.uint8)
    >>> protocol.generate(image, (40, 30, 70, 60)).shape
    (96, 3, 32, 32)
    """

    region_size = 4
    region_doc = "a box (x0, y0, x1, y1) with x0 < x1 and y0 < y1"

    def __init__(
        self,
        patch_size: int = 64,
        scales: tuple = (1.0, 1.2, 1.5),
        shift: float = 0.1,
        include_center: bool = False,
        dihedral: int = 8,
        square: bool = True,
        padding_mode: str = "reflect",
    ):
        self.patch_size = patch_size
        self.scales = scales
        self.shift = shift
        self.include_center = include_center
        self.dihedral = dihedral
        self.square = square
        self.padding_mode = padding_mode

    def _validate(self) -> None:
        _check_positive_int(self.patch_size, "patch_size")
        _check_positive_floats(self.scales, "scales")
        if not isinstance(self.shift, numbers.Real) or not 0 <= self.shift < 1:
            raise ValueError(f"shift must be a number in [0, 1); got {self.shift!r}.")
        if self.dihedral not in (1, 2, 4, 8) or isinstance(self.dihedral, bool):
            raise ValueError(f"dihedral must be one of 1, 2, 4, 8; got {self.dihedral!r}.")
        _check_padding_mode(self.padding_mode)

    def _offsets(self) -> list[tuple[float, float]]:
        if self.shift == 0:
            return [(0.0, 0.0)]
        s = float(self.shift)
        offsets = [(s, 0.0), (-s, 0.0), (0.0, s), (0.0, -s)]
        if self.include_center:
            offsets.append((0.0, 0.0))
        return offsets

    @property
    def n_patches(self) -> int:
        """Number of patches ``m`` per candidate."""
        self._validate()
        return len(self.scales) * len(self._offsets()) * int(self.dihedral)

    def crop_boxes(self, region: Any) -> np.ndarray:
        """The source boxes resampled into patches, before rotation/mirroring.

        Parameters
        ----------
        region : array-like of shape (4,)
            The candidate box ``(x0, y0, x1, y1)``.

        Returns
        -------
        boxes : ndarray of shape (len(scales) * n_translations, 4)
            ``(x0, y0, x1, y1)`` of each crop, scale-major.

        Examples
        --------
        >>> from sklearn_aift.augment import BoxProtocol
        >>> BoxProtocol(scales=(1.0,), shift=0.1).crop_boxes((0, 0, 10, 10))
        array([[ 1.,  0., 11., 10.],
               [-1.,  0.,  9., 10.],
               [ 0.,  1., 10., 11.],
               [ 0., -1., 10.,  9.]])
        """
        self._validate()
        x0, y0, x1, y1 = _check_region(region, 4, self.region_doc)
        w, h = x1 - x0, y1 - y0
        if not (w > 0 and h > 0):
            raise ValueError(f"region must be {self.region_doc}; got {tuple(region)}.")
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if self.square:
            w = h = max(w, h)
        boxes = []
        for f in self.scales:
            fw, fh = f * w, f * h
            for dx, dy in self._offsets():
                ccx, ccy = cx + dx * fw, cy + dy * fh
                boxes.append((ccx - fw / 2, ccy - fh / 2, ccx + fw / 2, ccy + fh / 2))
        return np.asarray(boxes, dtype=np.float64)

    def patch_transforms(self) -> list[tuple[bool, int]]:
        """The orientations applied to each crop, in patch order.

        Returns
        -------
        orientations : list of (mirror, quarter_turns)
            ``mirror``: flipped left-right first; ``quarter_turns``: then rotated
            by that many 90-degree turns counter-clockwise (``numpy.rot90``).

        Examples
        --------
        >>> from sklearn_aift.augment import BoxProtocol
        >>> BoxProtocol(dihedral=2).patch_transforms()
        [(False, 0), (True, 0)]
        """
        self._validate()
        if self.dihedral == 2:
            return [(False, 0), (True, 0)]
        return [(d >= 4, d % 4) for d in range(int(self.dihedral))]

    def _generate(self, image, region, random_state):
        if region is None:
            raise ValueError("BoxProtocol needs a region: a box (x0, y0, x1, y1); got None.")
        boxes = self.crop_boxes(region)
        size = int(self.patch_size)
        crops = _to_channels_first(_crop_resize(image, boxes, (size, size), self.padding_mode))
        patches = _dihedral(crops, int(self.dihedral))
        return patches.reshape((-1,) + crops.shape[1:])


# --------------------------------------------------------------------------- frame
class FrameProtocol(_Protocol):
    """Patches cropped from a whole frame: the frame-classification protocol (sec. 4.1).

    The paper extracted 21 patches from each colonoscopy frame without saying
    where. Two layouts are offered:

    * ``"pyramid"`` (default, deterministic): a three-level grid, the whole frame
      (1 patch), its 2 x 2 quadrants (4) and its 4 x 4 cells (16): 1 + 4 + 16 =
      21 patches that together look at every part of the frame at three scales.
      Other sizes follow the same rule (1, 5, 21, 85, ... levels of 1, 2, 4, 8
      cells per side).
    * ``"random"``: ``n_patches`` square crops whose side is drawn uniformly from
      ``crop_scale`` times the frame's shorter side, at uniformly drawn
      positions inside the frame (reproducible through ``random_state``).

    Every crop is resampled to a ``patch_size`` square (cells of a non-square
    frame are stretched).

    Patch order (pyramid): level by level from the whole frame down, cells in
    row-major order within a level.

    Parameters
    ----------
    n_patches : int, default=21
        Patches per frame (the paper's 21). With ``layout="pyramid"`` it must be
        a sum 1 + 4 + 16 + ... (1, 5, 21, 85, ...).
    patch_size : int, default=64
        Side of the square output patches in pixels.
    layout : {"pyramid", "random"}, default="pyramid"
        Where the patches come from (see above).
    crop_scale : (float, float), default=(0.25, 1.0)
        With ``layout="random"``: range of the crop side as a fraction of the
        frame's shorter side.

    Attributes
    ----------
    n_patches : int
        The number of patches per candidate.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import FrameProtocol
    >>> frame = np.zeros((128, 128, 3), dtype=np.uint8)
    >>> FrameProtocol(patch_size=32).generate(frame).shape
    (21, 3, 32, 32)
    >>> FrameProtocol(n_patches=8, layout="random").generate(frame, random_state=0).shape
    (8, 3, 64, 64)
    """

    region_size = 0
    region_doc = "None (the whole frame)"

    def __init__(
        self,
        n_patches: int = 21,
        patch_size: int = 64,
        layout: str = "pyramid",
        crop_scale: tuple = (0.25, 1.0),
    ):
        self.n_patches = n_patches
        self.patch_size = patch_size
        self.layout = layout
        self.crop_scale = crop_scale

    @property
    def uses_random_state(self) -> bool:
        """Whether ``generate`` draws random numbers."""
        return self.layout == "random"

    def _levels(self) -> int:
        total, level = 0, 0
        while total < self.n_patches:
            total += 4**level
            level += 1
        if total != self.n_patches:
            raise ValueError(
                "n_patches must be 1, 5, 21, 85, ... (1 + 4 + 16 + ...) with "
                f"layout='pyramid'; got {self.n_patches}. Use layout='random' for any number."
            )
        return level

    def _validate(self) -> None:
        _check_positive_int(self.n_patches, "n_patches")
        _check_positive_int(self.patch_size, "patch_size")
        if self.layout == "pyramid":
            self._levels()
        elif self.layout == "random":
            try:
                lo, hi = (float(v) for v in self.crop_scale)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"crop_scale must be a pair (low, high); got {self.crop_scale!r}."
                ) from exc
            if not 0 < lo <= hi <= 1:
                raise ValueError(
                    f"crop_scale must satisfy 0 < low <= high <= 1; got {self.crop_scale!r}."
                )
        else:
            raise ValueError(f"layout must be 'pyramid' or 'random'; got {self.layout!r}.")

    def crop_boxes(self, image_shape: tuple, random_state: Any = None) -> np.ndarray:
        """The frame regions resampled into patches.

        Parameters
        ----------
        image_shape : tuple
            ``(H, W)`` or ``(H, W, C)`` of the frame.
        random_state : int, Generator, RandomState or None, default=None
            Used by ``layout="random"`` only.

        Returns
        -------
        boxes : ndarray of shape (n_patches, 4)
            ``(x0, y0, x1, y1)`` of each crop, in patch order.

        Examples
        --------
        >>> from sklearn_aift.augment import FrameProtocol
        >>> FrameProtocol(n_patches=5).crop_boxes((8, 8))
        array([[0., 0., 8., 8.],
               [0., 0., 4., 4.],
               [4., 0., 8., 4.],
               [0., 4., 4., 8.],
               [4., 4., 8., 8.]])
        """
        self._validate()
        h, w = float(image_shape[0]), float(image_shape[1])
        if self.layout == "pyramid":
            boxes = []
            for level in range(self._levels()):
                k = 2**level
                for i in range(k):
                    for j in range(k):
                        boxes.append((j * w / k, i * h / k, (j + 1) * w / k, (i + 1) * h / k))
            return np.asarray(boxes, dtype=np.float64)
        rng = _as_generator(random_state)
        lo, hi = (float(v) for v in self.crop_scale)
        side = rng.uniform(lo, hi, size=self.n_patches) * min(h, w)
        x0 = rng.uniform(0.0, 1.0, size=self.n_patches) * (w - side)
        y0 = rng.uniform(0.0, 1.0, size=self.n_patches) * (h - side)
        return np.stack([x0, y0, x0 + side, y0 + side], axis=1)

    def _generate(self, image, region, random_state):
        if region is not None and np.size(region) != 0:
            raise ValueError(
                f"FrameProtocol uses the whole frame; region must be None, got {region!r}."
            )
        boxes = self.crop_boxes(image.shape, random_state)
        size = int(self.patch_size)
        return _to_channels_first(_crop_resize(image, boxes, (size, size), "edge"))


# --------------------------------------------------------------------------- axis
class AxisProtocol(_Protocol):
    """Multi-scale patches translated along and rotated about an axis (sec. 4.3, in 2-D).

    The paper's pulmonary-embolism protocol extracts patches of 3 physical sizes
    (10, 15 and 20 mm wide), translates the candidate location along the
    direction of the vessel 3 times, up to 20% of the patch size, and rotates
    the vessel planes around the vessel axis for 5 additional variations per
    scale and translation (6 views). This 2-D form keeps those numbers:

    * sides ``size * scales`` with ``scales=(1.0, 1.5, 2.0)`` (10:15:20 mm);
    * centres moved along the axis by ``shifts`` times the side, default
      ``(-0.2, 0.0, 0.2)`` (three positions, up to 20% each way);
    * ``n_rotations=6`` orientations: the patch's x-axis is the candidate's axis
      rotated by ``360 * r / n_rotations`` degrees (r = 0..5), or by angles drawn
      uniformly in [0, 360) per patch when ``random_rotations=True``.

    So ``m = 3 x 3 x 6 = 54`` by default. The 2-D rotation stands in for the 3-D
    rotation about the vessel axis, which a single image plane cannot show.

    Patch order: index ``(s * T + t) * R + r`` for scale ``s``, translation ``t``,
    rotation ``r``.

    Parameters
    ----------
    patch_size : int, default=64
        Side of the square output patches in pixels.
    size : float, default=32
        Side, in source pixels, of the patch at scale 1.
    scales : sequence of float, default=(1.0, 1.5, 2.0)
        Multiples of ``size`` (the paper's 10, 15, 20 mm).
    shifts : sequence of float, default=(-0.2, 0.0, 0.2)
        Translations along the axis as fractions of the patch side.
    n_rotations : int, default=6
        Orientations per scale and translation.
    random_rotations : bool, default=False
        Draw each patch's rotation uniformly instead of the even spacing.
    padding_mode : {"reflect", "edge", "constant"}, default="reflect"
        How pixels outside the image are filled.

    Attributes
    ----------
    n_patches : int
        ``len(scales) * len(shifts) * n_rotations``.

    Notes
    -----
    The candidate region is ``(cx, cy, angle)``: the centre in continuous pixel
    coordinates and the axis direction in degrees, counter-clockwise as seen on
    screen from the +x (rightward) direction. At rotation 0 the axis runs along
    the patch's rows, left to right.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import AxisProtocol
    >>> image = np.zeros((100, 100), dtype=np.uint8)
    >>> AxisProtocol(patch_size=24, size=16).generate(image, (50, 50, 30.0)).shape
    (54, 1, 24, 24)
    """

    region_size = 3
    region_doc = "(cx, cy, angle_degrees)"

    def __init__(
        self,
        patch_size: int = 64,
        size: float = 32,
        scales: tuple = (1.0, 1.5, 2.0),
        shifts: tuple = (-0.2, 0.0, 0.2),
        n_rotations: int = 6,
        random_rotations: bool = False,
        padding_mode: str = "reflect",
    ):
        self.patch_size = patch_size
        self.size = size
        self.scales = scales
        self.shifts = shifts
        self.n_rotations = n_rotations
        self.random_rotations = random_rotations
        self.padding_mode = padding_mode

    @property
    def uses_random_state(self) -> bool:
        """Whether ``generate`` draws random numbers."""
        return bool(self.random_rotations)

    def _validate(self) -> None:
        _check_positive_int(self.patch_size, "patch_size")
        _check_positive_int(self.n_rotations, "n_rotations")
        if not isinstance(self.size, numbers.Real) or not self.size > 0:
            raise ValueError(f"size must be a positive number; got {self.size!r}.")
        _check_positive_floats(self.scales, "scales")
        try:
            shifts = tuple(float(s) for s in self.shifts)
        except TypeError as exc:
            raise ValueError(f"shifts must be a sequence of numbers; got {self.shifts!r}.") from exc
        if not shifts or not all(np.isfinite(shifts)):
            raise ValueError(
                f"shifts must be a non-empty sequence of numbers; got {self.shifts!r}."
            )
        _check_padding_mode(self.padding_mode)

    @property
    def n_patches(self) -> int:
        """Number of patches ``m`` per candidate."""
        self._validate()
        return len(self.scales) * len(self.shifts) * int(self.n_rotations)

    def patch_frames(self, region: Any, random_state: Any = None) -> np.ndarray:
        """Centre, side and orientation of every patch, in patch order.

        Parameters
        ----------
        region : array-like of shape (3,)
            ``(cx, cy, angle_degrees)``.
        random_state : int, Generator, RandomState or None, default=None
            Used when ``random_rotations=True``.

        Returns
        -------
        frames : ndarray of shape (n_patches, 4)
            ``(cx, cy, side, angle_degrees)`` per patch; ``angle`` is the direction
            of the patch's x-axis, counter-clockwise on screen.

        Examples
        --------
        >>> from sklearn_aift.augment import AxisProtocol
        >>> AxisProtocol(size=10, scales=(1.0,), shifts=(0.0, 0.5), n_rotations=1).patch_frames(
        ...     (20, 20, 0))
        array([[20., 20., 10.,  0.],
               [25., 20., 10.,  0.]])
        """
        self._validate()
        cx, cy, angle = _check_region(region, 3, self.region_doc)
        ux, uy = np.cos(np.deg2rad(angle)), -np.sin(np.deg2rad(angle))
        n_rot = int(self.n_rotations)
        n = len(self.scales) * len(self.shifts)
        if self.random_rotations:
            rotations = _as_generator(random_state).uniform(0.0, 360.0, size=(n, n_rot))
        else:
            rotations = np.broadcast_to(360.0 * np.arange(n_rot) / n_rot, (n, n_rot))
        frames = []
        k = 0
        for s in self.scales:
            side = float(self.size) * float(s)
            for t in self.shifts:
                px, py = cx + float(t) * side * ux, cy + float(t) * side * uy
                for r in range(n_rot):
                    frames.append((px, py, side, (angle + rotations[k, r]) % 360.0))
                k += 1
        return np.asarray(frames, dtype=np.float64)

    def _generate(self, image, region, random_state):
        if region is None:
            raise ValueError("AxisProtocol needs a region (cx, cy, angle_degrees); got None.")
        frames = self.patch_frames(region, random_state)
        size = int(self.patch_size)
        out = np.empty((len(frames), size, size, image.shape[2]), dtype=np.uint8)
        n_rot = int(self.n_rotations)
        for start in range(0, len(frames), n_rot):
            group = frames[start : start + n_rot]
            self._sample_group(image, group, out[start : start + n_rot])
        return _to_channels_first(out)

    def _sample_group(self, image: np.ndarray, group: np.ndarray, out: np.ndarray) -> None:
        """Sample patches of one scale and position (different rotations)."""
        size = out.shape[1]
        cx, cy, side = group[0, :3]
        radius = side * np.sqrt(0.5) + 2
        x0, y0 = int(np.floor(cx - radius)), int(np.floor(cy - radius))
        x1, y1 = int(np.ceil(cx + radius)), int(np.ceil(cy + radius))
        pil = _to_pil(_extract(image, x0, y0, x1, y1, self.padding_mode))
        rx = ry = 1.0
        if side > size:  # shrink first (antialiased), then rotate at about unit scale
            new_w = max(1, int(round(pil.width * size / side)))
            new_h = max(1, int(round(pil.height * size / side)))
            rx, ry = new_w / pil.width, new_h / pil.height
            pil = pil.resize((new_w, new_h), _BILINEAR)
        step = side / size
        for k, (px, py, _, angle) in enumerate(group):
            a = np.deg2rad(angle)
            e1 = np.array([np.cos(a), -np.sin(a)])  # patch +x in the image
            e2 = np.array([np.sin(a), np.cos(a)])  # patch +y in the image
            ox = px - x0 - side / 2 * (e1[0] + e2[0])
            oy = py - y0 - side / 2 * (e1[1] + e2[1])
            coeffs = (
                rx * step * e1[0],
                rx * step * e2[0],
                rx * ox,
                ry * step * e1[1],
                ry * step * e2[1],
                ry * oy,
            )
            out[k] = _from_pil(
                pil.transform((size, size), Image.Transform.AFFINE, coeffs, resample=_BILINEAR)
            )


# --------------------------------------------------------------------------- functions
def box_patches(
    image: Any,
    box: Any,
    *,
    patch_size: int = 64,
    scales: tuple = (1.0, 1.2, 1.5),
    shift: float = 0.1,
    include_center: bool = False,
    dihedral: int = 8,
    square: bool = True,
    padding_mode: str = "reflect",
) -> np.ndarray:
    """Patches of one box candidate with the polyp-detection protocol.

    A function form of :class:`BoxProtocol` (see there for the paper's numbers
    and the choice of 96 patches). The protocol is deterministic.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C), uint8
        The source image.
    box : array-like of shape (4,)
        ``(x0, y0, x1, y1)`` in continuous pixel coordinates.
    patch_size : int, default=64
        Side of the square output patches in pixels.
    scales : sequence of float, default=(1.0, 1.2, 1.5)
        Enlargement factors of the box (the paper's values).
    shift : float, default=0.1
        Translation as a fraction of the enlarged box side; 0 disables it.
    include_center : bool, default=False
        Also keep the untranslated box (120 patches instead of 96).
    dihedral : {1, 2, 4, 8}, default=8
        Number of rotations/mirrors of each crop.
    square : bool, default=True
        Crop a square of side ``f * max(w, h)`` rather than stretching the box.
    padding_mode : {"reflect", "edge", "constant"}, default="reflect"
        How pixels outside the image are filled.

    Returns
    -------
    patches : ndarray of shape (m, C, patch_size, patch_size), uint8
        ``m = len(scales) * (4 + include_center) * dihedral`` (96 by default).

    Raises
    ------
    ValueError
        For a malformed image, box or parameter.
    TypeError
        If the image is not uint8.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import box_patches
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> box_patches(image, (20, 20, 40, 36), patch_size=16).shape
    (96, 3, 16, 16)
    """
    protocol = BoxProtocol(
        patch_size=patch_size,
        scales=scales,
        shift=shift,
        include_center=include_center,
        dihedral=dihedral,
        square=square,
        padding_mode=padding_mode,
    )
    return protocol.generate(image, box)


def frame_patches(
    image: Any,
    *,
    n_patches: int = 21,
    patch_size: int = 64,
    layout: str = "pyramid",
    crop_scale: tuple = (0.25, 1.0),
    random_state: Any = None,
) -> np.ndarray:
    """Patches of one whole-frame candidate with the frame-classification protocol.

    A function form of :class:`FrameProtocol`: 21 patches by default, on a
    three-level grid (the frame, its quadrants, its 4 x 4 cells) or at random
    positions.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C), uint8
        The frame.
    n_patches : int, default=21
        Patches per frame; with ``layout="pyramid"`` one of 1, 5, 21, 85, ...
    patch_size : int, default=64
        Side of the square output patches in pixels.
    layout : {"pyramid", "random"}, default="pyramid"
        The three-level grid or random square crops.
    crop_scale : (float, float), default=(0.25, 1.0)
        With ``layout="random"``: range of the crop side as a fraction of the
        frame's shorter side.
    random_state : int, Generator, RandomState or None, default=None
        Randomness of ``layout="random"``.

    Returns
    -------
    patches : ndarray of shape (n_patches, C, patch_size, patch_size), uint8
        The frame's patches, in the protocol's order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import frame_patches
    >>> frame = np.zeros((96, 128, 3), dtype=np.uint8)
    >>> frame_patches(frame, patch_size=32).shape
    (21, 3, 32, 32)
    """
    protocol = FrameProtocol(
        n_patches=n_patches, patch_size=patch_size, layout=layout, crop_scale=crop_scale
    )
    return protocol.generate(image, None, random_state)


def axis_patches(
    image: Any,
    center: Any,
    angle: float,
    *,
    patch_size: int = 64,
    size: float = 32,
    scales: tuple = (1.0, 1.5, 2.0),
    shifts: tuple = (-0.2, 0.0, 0.2),
    n_rotations: int = 6,
    random_rotations: bool = False,
    padding_mode: str = "reflect",
    random_state: Any = None,
) -> np.ndarray:
    """Patches of one axis candidate with the 2-D pulmonary-embolism protocol.

    A function form of :class:`AxisProtocol`: scales x translations along the
    axis x rotations (3 x 3 x 6 = 54 by default).

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C), uint8
        The source image.
    center : array-like of shape (2,)
        ``(cx, cy)`` in continuous pixel coordinates.
    angle : float
        Axis direction in degrees, counter-clockwise on screen from +x.
    patch_size : int, default=64
        Side of the square output patches in pixels.
    size : float, default=32
        Side, in source pixels, of the patch at scale 1.
    scales : sequence of float, default=(1.0, 1.5, 2.0)
        Multiples of ``size`` (the paper's 10, 15, 20 mm).
    shifts : sequence of float, default=(-0.2, 0.0, 0.2)
        Translations along the axis as fractions of the patch side.
    n_rotations : int, default=6
        Orientations per scale and translation.
    random_rotations : bool, default=False
        Draw each patch's rotation uniformly instead of the even spacing.
    padding_mode : {"reflect", "edge", "constant"}, default="reflect"
        How pixels outside the image are filled.
    random_state : int, Generator, RandomState or None, default=None
        Randomness of ``random_rotations=True``.

    Returns
    -------
    patches : ndarray of shape (m, C, patch_size, patch_size), uint8
        ``m = len(scales) * len(shifts) * n_rotations`` patches.

    Raises
    ------
    ValueError
        For a malformed image, centre or parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import axis_patches
    >>> image = np.zeros((80, 80), dtype=np.uint8)
    >>> axis_patches(image, (40, 40), 45.0, patch_size=16, size=12).shape
    (54, 1, 16, 16)
    """
    protocol = AxisProtocol(
        patch_size=patch_size,
        size=size,
        scales=scales,
        shifts=shifts,
        n_rotations=n_rotations,
        random_rotations=random_rotations,
        padding_mode=padding_mode,
    )
    center = np.asarray(center, dtype=np.float64).ravel()
    if center.shape != (2,):
        raise ValueError(f"center must be (cx, cy); got {center!r}.")
    return protocol.generate(image, (center[0], center[1], float(angle)), random_state)
