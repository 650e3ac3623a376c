"""MedMNIST ``.npz`` files (e.g. BreastMNIST) as frame candidates."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ..augment import FrameProtocol
from ..candidates import CandidateSet
from ..utils import resolve_seed

__all__ = ["load_medmnist"]

_SPLITS = ("train", "val", "test")

_DESCR = """\
MedMNIST images as candidates
=============================

A MedMNIST v2 ``.npz`` file (Yang et al., Scientific Data 2023) holds small
images and labels in official splits (keys ``<split>_images`` and
``<split>_labels``). Each image is one candidate; its patches are random crops
of 50-100% of the image side resized to the patch size (by default), so the
patches of a candidate disagree exactly where its appearance depends on the
region looked at. Licence of the MedMNIST data: CC BY 4.0.
"""


def load_medmnist(
    npz_path: Any,
    split: str = "train",
    *,
    protocol: Any = None,
    return_X_y: bool = False,
    random_state: int = 0,
) -> Any:
    """A MedMNIST ``.npz`` split as frame candidates.

    Grey images (e.g. BreastMNIST, 28 x 28) stay single-channel (``C = 1``;
    :class:`~sklearn_aift.net.AIFTNet` repeats grey to three channels, as the
    paper did); RGB MedMNIST images give ``C = 3``. Each image is a candidate
    whose patches come from ``protocol``, by default
    ``FrameProtocol(n_patches=21, patch_size=28, layout="random",
    crop_scale=(0.5, 1.0))``: 21 square crops whose side is 50-100% of the
    image side, at random positions fixed by ``random_state``, resized to 28
    pixels (a grid of 4 x 4 cells would leave 7-pixel cells, too small to
    show anything).

    Parameters
    ----------
    npz_path : str or path-like
        The ``.npz`` file (for example ``breastmnist_28.npz``).
    split : {"train", "val", "test"}, default="train"
        The official split to load.
    protocol : FrameProtocol or None, default=None
        Patch protocol for whole images; None for the default above.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    random_state : int, default=0
        Seed of the random patch positions.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: lazy :class:`~sklearn_aift.candidates.CandidateSet`
        (n, 21, C, 28, 28); ``target``: int64 ndarray (n,) (MedMNIST's labels;
        for BreastMNIST 1 = normal/benign, 0 = malignant); ``images``: uint8
        ndarray (n, H, W) or (n, H, W, 3); ``split``; ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If ``npz_path`` does not exist.
    ValueError
        If the file is not a readable ``.npz``, lacks the split's keys, holds
        multi-label targets or mismatched lengths, or ``split`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from sklearn_aift.datasets import load_medmnist
    >>> tmp = TemporaryDirectory(); path = Path(tmp.name) / "tiny.npz"
    >>> images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    >>> np.savez(path, train_images=images, train_labels=np.array([[0], [1]] * 3))
    >>> X, y = load_medmnist(path, return_X_y=True)
    >>> X.shape, y.tolist()
    ((6, 21, 1, 28, 28), [0, 1, 0, 1, 0, 1])
    >>> tmp.cleanup()
    """
    try:
        path = Path(os.fspath(npz_path))
    except TypeError as exc:
        raise TypeError(f"npz_path must be a path to a .npz file; got {npz_path!r}.") from exc
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}; got {split!r}.")
    if not path.is_file():
        raise FileNotFoundError(f"MedMNIST file {str(path)!r} (npz_path=) does not exist.")
    images, labels = _read_split(path, split)
    if (
        images.dtype != np.uint8
        or images.ndim not in (3, 4)
        or (images.ndim == 4 and images.shape[-1] not in (1, 3))
    ):
        raise ValueError(
            f"{split}_images in {str(path)!r} must be uint8 of shape (n, H, W) or (n, H, W, 3); "
            f"got {images.dtype} {images.shape}."
        )
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"{split}_labels in {str(path)!r} has shape {labels.shape}: multi-label targets are "
            f"not supported (one label per image is)."
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{str(path)!r} has {len(images)} {split} images but {len(labels)} labels."
        )
    if len(images) == 0:
        raise ValueError(f"{str(path)!r} holds no {split} images.")
    if protocol is None:
        protocol = FrameProtocol(
            n_patches=21, patch_size=28, layout="random", crop_scale=(0.5, 1.0)
        )
    data = CandidateSet(images, protocol, random_state=resolve_seed(random_state))
    target = labels.astype(np.int64)
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, images=images, split=split, DESCR=_DESCR)


def _not_npz(path: Path, why: str) -> ValueError:
    return ValueError(
        f"npz_path={str(path)!r} is not a readable .npz file: {why}. A .npz file is a zip "
        f"archive of .npy arrays; download or save the file again (np.savez)."
    )


def _read_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``(images, labels)`` arrays of ``split``, or a ValueError naming the file."""
    # np.load guesses the format from the first bytes and reports anything that is
    # not a zip as "pickled (object) data": check for a zip archive first.
    if not zipfile.is_zipfile(path):
        size = path.stat().st_size
        why = "it is empty" if size == 0 else (
            f"it is not a zip archive ({size} bytes; truncated or not a .npz at all)"
        )
        raise _not_npz(path, why)
    wanted = (f"{split}_images", f"{split}_labels")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            missing = [k for k in wanted if k not in keys]
            if missing:
                raise KeyError(missing, keys)
            return npz[wanted[0]], npz[wanted[1]]
    except KeyError as exc:
        missing, keys = exc.args
        raise ValueError(
            f"{str(path)!r} has no {', '.join(missing)} (split={split!r}); it holds "
            f"{sorted(keys)}."
        ) from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():  # a real zip whose arrays hold Python objects
            why = "its arrays hold Python objects (pickled data), not numbers"
            raise _not_npz(path, why) from exc
        raise _not_npz(path, str(exc)) from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _not_npz(path, f"{type(exc).__name__}: {exc}") from exc
