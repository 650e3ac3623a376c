"""The polyp-detection protocol: scales, translations and the dihedral group around a box."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..utils import check_int
from ._common import (
    _check_padding_mode,
    _check_positive_floats,
    _check_region,
    _crop_resize,
    _dihedral,
    _Protocol,
    _to_channels_first,
)


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
        check_int(self.patch_size, "patch_size")
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


