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

Private modules: ``_common`` (what the protocols share), ``_box``, ``_frame``,
``_axis`` (one protocol each) and ``_functions`` (their function forms).
"""

from ._axis import AxisProtocol
from ._box import BoxProtocol
from ._frame import FrameProtocol
from ._functions import axis_patches, box_patches, frame_patches

__all__ = [
    "BoxProtocol",
    "FrameProtocol",
    "AxisProtocol",
    "box_patches",
    "frame_patches",
    "axis_patches",
]
