"""A video-like Kvasir-SEG pool: several jittered, rescaled, blurred views of every candidate."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.utils import Bunch

from ..candidates import CandidateSet, candidate_keys
from ._kvasir import load_kvasir_seg

__all__ = ["load_kvasir_seg_video"]


class _BlurredViews:
    """Lazy candidates: a candidate set whose patches are blurred, one sigma per candidate."""

    def __init__(self, base: Any, sigma: np.ndarray):
        self.base = base
        self.sigma = np.asarray(sigma, dtype=np.float64)

    @property
    def shape(self) -> tuple:
        return tuple(self.base.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, numbers.Integral):
            return self[np.array([index])].__array__()[0]
        index = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        return _BlurredViews(self.base[index], self.sigma[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        X = np.asarray(self.base)
        out = np.empty_like(X)
        for i, s in enumerate(self.sigma):
            if s > 0:
                blurred = ndimage.gaussian_filter(X[i].astype(np.float32), (0, 0, s, s))
                out[i] = np.clip(blurred, 0, 255).round().astype(np.uint8)
            else:
                out[i] = X[i]
        return out if dtype is None else out.astype(dtype)

    def candidate_keys(self) -> np.ndarray:
        keys = candidate_keys(self.base)
        return np.array([f"{k}|blur={s:.4f}" for k, s in zip(keys, self.sigma)], dtype=object)


def load_kvasir_seg_video(
    data_dir: Any,
    *,
    views_per_frame: int = 4,
    shift: float = 0.1,
    scale: tuple = (0.85, 1.15),
    blur: tuple = (0.0, 1.5),
    random_state: int = 0,
    **kwargs: Any,
) -> Bunch:
    """Kvasir-SEG candidates seen several times, as in consecutive video frames.

    Real colonoscopy sets are cut from videos: the same polyp (or patch of
    mucosa) appears in several consecutive frames, slightly moved, zoomed
    and out of focus, and a batch of the top-ranked candidates is then full of
    near-duplicates. This loader builds such a pool from Kvasir-SEG's single
    frames: every candidate of :func:`load_kvasir_seg` is repeated as
    ``views_per_frame`` views whose box is moved by up to ``shift`` times its
    side, rescaled by a factor drawn from ``scale`` and whose patches are
    blurred with a Gaussian of sigma drawn from ``blur`` (pixels). All views
    of a frame are on the same side of the split (``train_index`` /
    ``test_index`` follow :func:`load_kvasir_seg`'s frame-wise split).

    Parameters
    ----------
    data_dir : path
        The Kvasir-SEG folder (``images/``, ``masks/``).
    views_per_frame : int, default=4
        Views of each candidate (>= 1).
    shift : float, default=0.1
        Largest move of a view's box centre, as a fraction of its side, in
        [0, 0.5).
    scale : (float, float), default=(0.85, 1.15)
        Range of the factor a view's box side is multiplied by (positive).
    blur : (float, float), default=(0.0, 1.5)
        Range of the Gaussian blur's sigma in patch pixels (>= 0).
    random_state : int, default=0
        Seed of the views (and of :func:`load_kvasir_seg`).
    **kwargs
        Passed to :func:`load_kvasir_seg` (``protocol``, ``negatives_per_frame``,
        ``test_size``, ``max_frames``...); not ``return_X_y``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_kvasir_seg` (``data`` is a lazy candidate array of
        shape ``(n * views_per_frame, m, 3, P, P)``; ``target``, ``groups``
        (the frame), ``boxes``, ``kind``, ``train_index``, ``test_index``...),
        plus ``source``: the index of each view's candidate in
        :func:`load_kvasir_seg`'s pool, and ``blur``: each view's sigma.

    Raises
    ------
    ValueError
        For an invalid argument (the message names it).

    Examples
    --------
    >>> from sklearn_aift.datasets import load_kvasir_seg_video
    >>> polyps = load_kvasir_seg_video("../shared/data/kvasir_seg_256",
    ...                                max_frames=4)  # doctest: +SKIP
    >>> polyps.data.shape  # doctest: +SKIP
    (32, 24, 3, 64, 64)
    """
    if isinstance(views_per_frame, bool) or not isinstance(views_per_frame, numbers.Integral) \
            or views_per_frame < 1:
        raise ValueError(f"views_per_frame must be a positive integer; got {views_per_frame!r}.")
    if not isinstance(shift, numbers.Real) or not 0 <= shift < 0.5:
        raise ValueError(f"shift must be a number in [0, 0.5); got {shift!r}.")
    for name, value, low in (("scale", scale, 1e-9), ("blur", blur, 0.0)):
        lo_hi = np.asarray(value, dtype=np.float64) if np.ndim(value) == 1 else None
        if lo_hi is None or lo_hi.shape != (2,) or lo_hi[0] < low or lo_hi[1] < lo_hi[0]:
            raise ValueError(f"{name} must be a (low, high) pair with {low:g} <= low <= high; "
                             f"got {value!r}.")
    if kwargs.get("return_X_y"):
        raise ValueError("return_X_y is not supported by load_kvasir_seg_video.")
    base = load_kvasir_seg(data_dir, random_state=random_state, **kwargs)
    rng = np.random.default_rng([int(random_state), 7])
    n, v = len(base.target), int(views_per_frame)
    source = np.repeat(np.arange(n), v)
    boxes = base.boxes[source]
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    moves = rng.uniform(-shift, shift, (n * v, 2)) * side[:, None]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + moves
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * rng.uniform(*scale, size=(n * v, 1))
    views = np.hstack([centre - half, centre + half])
    sigma = rng.uniform(*blur, size=n * v)
    groups = base.groups[source]
    is_test = np.isin(groups, base.groups[base.test_index])
    data = CandidateSet(base.image_paths, base.data.protocol, views, image_index=groups,
                        random_state=base.data.seed, image_mode="RGB",
                        cache_dir=kwargs.get("cache_dir"))
    return Bunch(
        data=_BlurredViews(data, sigma),
        target=base.target[source],
        groups=groups,
        boxes=views,
        kind=base.kind[source],
        source=source,
        blur=sigma,
        train_index=np.flatnonzero(~is_test),
        test_index=np.flatnonzero(is_test),
        frame_ids=base.frame_ids,
        image_paths=base.image_paths,
        mask_paths=base.mask_paths,
        target_names=base.target_names,
        DESCR=base.DESCR + "\nVideo-like variant: several jittered, rescaled and blurred "
        "views of every candidate (load_kvasir_seg_video).\n",
    )
