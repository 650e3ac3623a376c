"""Datasets: the embedded synthetic default and loaders for real image data.

Every function returns its candidates as a lazy
:class:`~sklearn_aift.candidates.CandidateSet` with their labels, in a
:class:`~sklearn.utils.Bunch` as scikit-learn's dataset functions do (or as
``(data, target)`` with ``return_X_y=True``).
"""

from ._folder import load_image_folder
from ._kvasir import load_kvasir_seg
from ._kvasir_video import load_kvasir_seg_video
from ._medmnist import load_medmnist
from ._synthetic import make_colonoscopy_frames

__all__ = [
    "make_colonoscopy_frames",
    "load_kvasir_seg",
    "load_kvasir_seg_video",
    "load_medmnist",
    "load_image_folder",
]
