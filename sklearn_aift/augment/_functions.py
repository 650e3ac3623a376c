"""Function forms of the protocols: one image in, its candidates' patches out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._axis import AxisProtocol
from ._box import BoxProtocol
from ._frame import FrameProtocol


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

