"""The frame protocol: the whole frame, its quadrants and cells, or random crops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils import as_generator, check_int
from ._common import (
    _crop_resize,
    _Protocol,
    _to_channels_first,
)


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
        check_int(self.n_patches, "n_patches")
        check_int(self.patch_size, "patch_size")
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
        rng = as_generator(random_state)
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


