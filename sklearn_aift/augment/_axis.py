"""The pulmonary-embolism protocol: views along a candidate's axis."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from PIL import Image

from ..utils import as_generator, check_int
from ._common import (
    _BILINEAR,
    _check_padding_mode,
    _check_positive_floats,
    _check_region,
    _extract,
    _from_pil,
    _Protocol,
    _to_channels_first,
    _to_pil,
)


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
        check_int(self.patch_size, "patch_size")
        check_int(self.n_rotations, "n_rotations")
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
            rotations = as_generator(random_state).uniform(0.0, 360.0, size=(n, n_rot))
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


