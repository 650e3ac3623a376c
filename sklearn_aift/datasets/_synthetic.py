"""The embedded default dataset: synthetic colonoscopy frames (no files needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from sklearn.utils import Bunch

from ..augment import FrameProtocol
from ..candidates import CandidateSet
from ..utils import as_generator, check_int

__all__ = ["make_colonoscopy_frames"]

DEGRADATIONS = ("blur", "bubbles", "darkness", "streaks")

_DESCR = """\
Synthetic colonoscopy frames
============================

Endoscopy-like RGB frames: pink mucosa with a granular texture, folds, a
network of red vessels and specular highlights. Part of each frame is
degraded by one of four artefacts that make colonoscopy frames
non-informative: strong defocus blur (with haze), bubbles, darkness or motion
streaks. The degraded part is a set of smooth blobs whose area is drawn per
frame. A frame is labelled informative (1) when at least 75% of it is clear,
the rule of Zhou et al. (CVPR 2017, Figs. 1-2), else non-informative (0).
About a third of the frames (``ambiguous``) have a clear fraction near the
threshold, so some patches of an informative frame show artefacts and some
patches of a non-informative frame look clear: patch-level label noise, the
situation AIFT's majority selection is made for.
"""


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth random field in [-1, 1]: noise on a coarse grid, bicubic upsampling."""
    coarse = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    im = Image.fromarray(coarse).resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    field = np.asarray(im)
    return field / (np.abs(field).max() + 1e-6)


def _mucosa(rng: np.random.Generator, size: int) -> np.ndarray:
    """A clear frame: float32 (H, W, 3) in [0, 255]."""
    shape = (size, size)
    base = np.array([205.0, 118.0, 112.0]) + rng.uniform(-18, 18, size=3)
    tone = _smooth_field(rng, shape, 3)[..., None] * np.array([22.0, 18.0, 16.0], np.float32)
    img = (base + tone).astype(np.float32)
    # folds: a few soft darker bands
    yy, xx = np.ogrid[0:size, 0:size]
    yy, xx = yy.astype(np.float32) / size, xx.astype(np.float32) / size
    for _ in range(rng.integers(1, 4)):
        angle = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        freq = rng.uniform(1.5, 3.5)
        band = np.sin(2 * np.pi * freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
        img = img - (np.clip(band, 0.6, 1.0) - 0.6)[..., None] * np.array(
            [55.0, 45.0, 40.0], np.float32
        )
    # granular texture
    grain = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8)
    img += grain[..., None] * np.array([30.0, 22.0, 20.0])
    # vessels: smooth random walks drawn as thin dark-red lines
    canvas = Image.new("L", shape, 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(4, 9)):
        pos = rng.uniform(0, size, size=2)
        heading = rng.uniform(0, 2 * np.pi)
        points = [tuple(pos)]
        for _ in range(rng.integers(8, 20)):
            heading += rng.normal(0, 0.45)
            pos = pos + rng.uniform(3, 8) * np.array([np.cos(heading), np.sin(heading)])
            points.append(tuple(pos))
        draw.line(points, fill=int(rng.integers(150, 256)), width=int(rng.integers(1, 3)))
    vessels = ndimage.gaussian_filter(np.asarray(canvas, dtype=np.float32) / 255.0, 0.6)[..., None]
    img = img * (1 - 0.65 * vessels) + np.array([140.0, 35.0, 50.0]) * 0.65 * vessels
    # vignetting
    r2 = (xx - 0.5) ** 2 + (yy - 0.5) ** 2
    img *= (1.0 - 0.45 * r2)[..., None]
    # specular highlights: small bright ellipses with soft edges
    spec = np.zeros(shape, np.float32)
    for _ in range(rng.integers(3, 9)):
        cy, cx = rng.uniform(0, size, size=2)
        ry, rx = rng.uniform(0.6, 2.5, size=2) * size / 128
        y0, y1 = int(max(cy - 3 * ry - 1, 0)), int(min(cy + 3 * ry + 2, size))
        x0, x1 = int(max(cx - 3 * rx - 1, 0)), int(min(cx + 3 * rx + 2, size))
        gy, gx = np.ogrid[y0:y1, x0:x1]
        d = ((gy - cy) / ry) ** 2 + ((gx - cx) / rx) ** 2
        spec[y0:y1, x0:x1] = np.maximum(spec[y0:y1, x0:x1], np.exp(-d))
    img = img * (1 - spec[..., None]) + 252.0 * spec[..., None]
    return img.astype(np.float32)


def _degraded_mask(rng: np.random.Generator, size: int, clear: float) -> np.ndarray:
    """Boolean (H, W) mask of the degraded area, covering a fraction 1 - clear."""
    if clear >= 1.0:
        return np.zeros((size, size), bool)
    field = _smooth_field(rng, (size, size), int(rng.integers(2, 5)))
    # a smooth tilt makes the degraded part one side of the frame more often than a speckle
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    field = field + 1.2 * (xx * np.cos(angle) + yy * np.sin(angle))
    threshold = np.quantile(field, clear)
    return field > threshold


def _apply(kind: str, rng: np.random.Generator, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Degrade ``img`` (float32, H x W x 3) inside ``mask``; returns the degraded image."""
    size = img.shape[0]
    if kind == "darkness":
        out = img * rng.uniform(0.08, 0.22) + rng.normal(0, 2.0, img.shape).astype(np.float32)
    elif kind == "blur":
        out = ndimage.gaussian_filter(img, (rng.uniform(3.5, 5.5),) * 2 + (0,))
        haze = np.array([235.0, 190.0, 180.0])
        out = out * 0.6 + haze * 0.4
    elif kind == "streaks":
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.12, 0.2) * size
        steps = np.linspace(-length / 2, length / 2, 15)
        acc = np.zeros_like(img)
        for t in steps:
            acc += np.roll(
                img, (int(round(t * np.sin(angle))), int(round(t * np.cos(angle)))), (0, 1)
            )
        out = acc / len(steps)
        # bright smeared highlights along the motion direction
        gy, gx = np.ogrid[0:size, 0:size]
        across = (-gx * np.sin(angle) + gy * np.cos(angle)).astype(np.float32)
        lines = np.zeros((size, size), np.float32)
        for _ in range(rng.integers(3, 7)):
            c = rng.uniform(across.min(), across.max())
            lines = np.maximum(lines, np.exp(-(((across - c) / rng.uniform(0.8, 2.0)) ** 2)))
        out = out * (1 - 0.8 * lines[..., None]) + 245.0 * 0.8 * lines[..., None]
    elif kind == "bubbles":
        fluid = np.array([205.0, 190.0, 140.0]) + rng.uniform(-15, 15, size=3)
        out = img * 0.45 + fluid * 0.55
        scale = size / 128
        ys, xs = np.nonzero(mask)
        n_bubbles = int(len(ys) / (70 * scale**2)) + 2
        pick = rng.integers(0, len(ys), size=n_bubbles)
        for cy, cx in zip(ys[pick], xs[pick]):
            r = rng.uniform(2.5, 8.0) * scale
            y0, y1 = int(max(cy - r - 2, 0)), int(min(cy + r + 3, size))
            x0, x1 = int(max(cx - r - 2, 0)), int(min(cx + r + 3, size))
            gy, gx = np.ogrid[y0:y1, x0:x1]
            d = np.sqrt((gy - cy) ** 2 + (gx - cx) ** 2)
            rim = 0.75 * np.exp(-(((d - r) / 0.8) ** 2))[..., None]
            glint = np.exp(
                -((gy - cy + 0.45 * r) ** 2 + (gx - cx + 0.45 * r) ** 2) / (0.25 * r + 0.4) ** 2
            )
            patch = out[y0:y1, x0:x1]
            patch = np.where((d < r)[..., None], patch * 0.9 + 22.0, patch)
            patch = patch * (1 - rim) + 250.0 * rim
            out[y0:y1, x0:x1] = patch * (1 - glint[..., None]) + 255.0 * glint[..., None]
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(kind)
    return out.astype(np.float32)


def _draw_clear_fraction(rng: np.random.Generator, threshold: float, ambiguous: float,
                         positive_fraction: float) -> float:
    informative = rng.uniform() < positive_fraction
    if rng.uniform() < ambiguous:  # near the threshold, on the side of its label
        low, high = (threshold, threshold + 0.15) if informative else (threshold - 0.15, threshold)
        return float(min(1.0, rng.uniform(low, high)))
    if informative:
        return float(min(1.0, rng.uniform(threshold + 0.12, 1.08)))
    return float(rng.uniform(0.0, threshold - 0.15))


def _highlights(rng: np.random.Generator, size: int, n: int) -> np.ndarray:
    """(H, W) weights of ``n`` small soft specular highlights."""
    spec = np.zeros((size, size), np.float32)
    for _ in range(n):
        cy, cx = rng.uniform(0, size, size=2)
        ry, rx = rng.uniform(0.6, 2.5, size=2) * size / 128
        y0, y1 = int(max(cy - 3 * ry - 1, 0)), int(min(cy + 3 * ry + 2, size))
        x0, x1 = int(max(cx - 3 * rx - 1, 0)), int(min(cx + 3 * rx + 2, size))
        gy, gx = np.ogrid[y0:y1, x0:x1]
        d = ((gy - cy) / ry) ** 2 + ((gx - cx) / rx) ** 2
        spec[y0:y1, x0:x1] = np.maximum(spec[y0:y1, x0:x1], np.exp(-d))
    return spec


def _degraded_scene(rng: np.random.Generator, size: int, kinds: tuple, threshold: float,
                    ambiguous: float, positive_fraction: float):
    """Mucosa with one artefact over a drawn share of it: the image, the degraded mask, the kind.

    The kind is ``"none"`` when the drawn mask is empty.
    """
    img = _mucosa(rng, size)
    fraction = _draw_clear_fraction(rng, threshold, ambiguous, positive_fraction)
    mask = _degraded_mask(rng, size, fraction)
    kind = kinds[rng.integers(len(kinds))]
    if not mask.any():
        return img, mask, "none"
    degraded = _apply(kind, rng, img.copy(), mask)
    alpha = ndimage.gaussian_filter(mask.astype(np.float32), 1.0)[..., None]
    return img * (1 - alpha) + degraded * alpha, mask, kind


def _sequence(rng: np.random.Generator, size: int, length: int, kinds: tuple,
              threshold: float, ambiguous: float, positive_fraction: float):
    """One scene under a moving camera: ``length`` frames, their clear masks and artefact."""
    scene_size = int(round(size * 1.4))
    img, mask, kind = _degraded_scene(rng, scene_size, kinds, threshold, ambiguous,
                                      positive_fraction)
    # the camera: a window of 72-90% of the scene drifting and zooming smoothly
    zoom = rng.uniform(0.72, 0.9)
    zoom_step = rng.normal(0, 0.015)
    side = zoom * scene_size
    centre = rng.uniform(side / 2, scene_size - side / 2, size=2)
    velocity = rng.normal(0, 0.025 * scene_size, size=2)
    frames, masks = [], []
    scene = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    scene_mask = Image.fromarray(mask.astype(np.uint8) * 255)
    for _ in range(length):
        side = float(np.clip(zoom, 0.6, 0.95)) * scene_size
        centre = np.clip(centre, side / 2, scene_size - side / 2)
        box = (centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2,
               centre[1] + side / 2)
        view = np.asarray(scene.resize((size, size), Image.Resampling.BILINEAR, box=box),
                          dtype=np.float32)
        view_mask = np.asarray(scene_mask.resize((size, size), Image.Resampling.NEAREST,
                                                 box=box)) > 127
        view = ndimage.gaussian_filter(view, (rng.uniform(0.0, 1.3),) * 2 + (0,))  # focus
        yy = np.linspace(-0.5, 0.5, size, dtype=np.float32)[:, None]
        light = rng.uniform(0.85, 1.12) + rng.uniform(-0.15, 0.15) * yy  # lighting
        view = view * light[..., None]
        spec = _highlights(rng, size, int(rng.integers(1, 4)))
        view = view * (1 - spec[..., None]) + 252.0 * spec[..., None]
        view += rng.normal(0, 2.0, view.shape).astype(np.float32)
        frames.append(np.clip(view, 0, 255).round().astype(np.uint8))
        masks.append(view_mask)
        centre = centre + velocity + rng.normal(0, 0.01 * scene_size, size=2)
        velocity = 0.8 * velocity + rng.normal(0, 0.01 * scene_size, size=2)
        zoom = zoom + zoom_step
    return frames, masks, kind


def make_colonoscopy_frames(
    n_frames: int = 200,
    *,
    n_patches: int = 21,
    frame_size: int = 128,
    patch_size: int = 48,
    layout: str = "pyramid",
    threshold: float = 0.75,
    positive_fraction: float = 0.2,
    ambiguous: float = 0.35,
    degradations: tuple = DEGRADATIONS,
    sequence_length: int | None = None,
    return_X_y: bool = False,
    random_state: Any = None,
) -> Any:
    """Synthetic colonoscopy frames labelled informative / non-informative.

    The embedded default dataset, generated in memory (a few hundred frames
    take seconds). Like the output of a real candidate generator, the pool is
    mostly negatives (``positive_fraction`` informative frames, 20% by
    default), and some negatives are hard: degraded just beyond the threshold. Each frame is textured pink mucosa with folds, vessels and
    specular highlights; a random part of it is degraded by one artefact
    (``"blur"``: strong defocus with haze, ``"bubbles"``, ``"darkness"`` or
    ``"streaks"``: motion blur with smeared highlights). A frame is
    *informative* (label 1) when its clear fraction is at least ``threshold``
    (the paper's 75%), else *non-informative* (0). A share ``ambiguous`` of the
    frames of each class has a clear fraction within 0.15 of the threshold (on
    its own side), so the patches of such frames often disagree with their
    frame's label: the patch-level label noise of the paper's Fig. 1 and 2(c),
    and the hard negatives of a CAD pool.

    Each frame is one candidate whose patches come from
    :class:`~sklearn_aift.augment.FrameProtocol` (21 by default: the whole
    frame, its quadrants and its 4 x 4 cells).

    **Sequence mode** (``sequence_length=k``): the frames come in runs of
    ``k`` consecutive frames of one scene under a moving camera, like the
    frames of a colonoscopy video: each scene (mucosa and one artefact, drawn
    as above on a larger canvas) is seen through a window that drifts and
    zooms smoothly, with varying focus blur, lighting and new specular
    highlights in every frame. A frame's label follows the clear fraction of
    its own view, so it can change within a run. Consecutive frames are
    near-duplicates: the batch redundancy of video-derived pools. ``scene``
    holds each frame's run; split by it (all frames of a scene on one side).

    Parameters
    ----------
    n_frames : int, default=200
        Number of frames (candidates).
    n_patches : int, default=21
        Patches per frame (the paper's 21).
    frame_size : int, default=128
        Side of the square frames in pixels (at least 32).
    patch_size : int, default=48
        Side of the square patches in pixels.
    layout : {"pyramid", "random"}, default="pyramid"
        Patch layout of :class:`~sklearn_aift.augment.FrameProtocol`.
    threshold : float, default=0.75
        Clear fraction at and above which a frame is informative.
    positive_fraction : float, default=0.2
        Probability that a frame is drawn informative (the positive class);
        0.5 gives a balanced pool.
    ambiguous : float, default=0.35
        Share of the frames of each class whose clear fraction is drawn within
        0.15 of ``threshold`` on their side of it; the others are clearly
        informative (clear fraction at least ``threshold + 0.12``) or clearly
        not (at most ``threshold - 0.15``).
    degradations : sequence of str, default=("blur", "bubbles", "darkness", "streaks")
        Artefacts to draw from (one per frame).
    sequence_length : int or None, default=None
        Frames per scene in sequence mode (see above); None draws every
        frame independently.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    random_state : int, Generator, RandomState or None, default=None
        Seed of the frames (and of the patch positions with ``layout="random"``).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: :class:`~sklearn_aift.candidates.CandidateSet` of shape
        ``(n_frames, n_patches, 3, patch_size, patch_size)`` (uint8, lazy);
        ``target``: ndarray (n_frames,) of 0/1;
        ``frames``: uint8 ndarray (n_frames, frame_size, frame_size, 3);
        ``clear_mask``: bool ndarray (n_frames, frame_size, frame_size), True
        where clear; ``clear_fraction``: ndarray (n_frames,);
        ``patch_clear_fraction``: ndarray (n_frames, n_patches), the clear share
        of each patch's source region; ``degradation``: ndarray of str
        (n_frames,), the artefact used ("none" for a fully clear frame);
        ``scene``: ndarray (n_frames,) of int, the run a frame belongs to
        (``arange(n_frames)`` without sequence mode); ``target_names``:
        ``["non-informative", "informative"]``; ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    ValueError
        For an invalid argument (the message names it).

    Examples
    --------
    >>> from sklearn_aift.datasets import make_colonoscopy_frames
    >>> frames = make_colonoscopy_frames(n_frames=20, random_state=0)
    >>> frames.data.shape
    (20, 21, 3, 48, 48)
    >>> frames.target.shape, sorted(set(frames.target.tolist()))
    ((20,), [0, 1])
    >>> X, y = make_colonoscopy_frames(n_frames=4, return_X_y=True, random_state=0)
    >>> X.shape
    (4, 21, 3, 48, 48)
    """
    check_int(n_frames, "n_frames")
    check_int(frame_size, "frame_size", min_value=32)
    if not isinstance(threshold, (int, float)) or not 0.2 < threshold < 0.95:
        raise ValueError(f"threshold must be a number in (0.2, 0.95); got {threshold!r}.")
    if not isinstance(positive_fraction, (int, float)) or not 0 < positive_fraction < 1:
        raise ValueError(
            f"positive_fraction must be a number in (0, 1); got {positive_fraction!r}."
        )
    if not isinstance(ambiguous, (int, float)) or not 0 <= ambiguous <= 1:
        raise ValueError(f"ambiguous must be a number in [0, 1]; got {ambiguous!r}.")
    kinds = tuple(degradations)
    unknown = [k for k in kinds if k not in DEGRADATIONS]
    if not kinds or unknown:
        raise ValueError(
            f"degradations must be a non-empty subset of {DEGRADATIONS}; got {degradations!r}."
        )
    if sequence_length is not None and (
        isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer))
        or sequence_length < 1
    ):
        raise ValueError(
            f"sequence_length must be None or a positive integer; got {sequence_length!r}."
        )
    protocol = FrameProtocol(n_patches=n_patches, patch_size=patch_size, layout=layout)
    protocol._validate()
    rng = as_generator(random_state)
    size = int(frame_size)
    frames = np.empty((n_frames, size, size, 3), dtype=np.uint8)
    clear_mask = np.empty((n_frames, size, size), dtype=bool)
    kind_used = np.empty(n_frames, dtype=object)
    scene = np.arange(n_frames)
    for start in range(0, n_frames if sequence_length else 0, sequence_length or 1):
        length = min(int(sequence_length), n_frames - start)
        views, masks, kind = _sequence(rng, size, length, kinds, threshold, ambiguous,
                                       positive_fraction)
        rows = slice(start, start + length)
        frames[rows], clear_mask[rows] = np.stack(views), ~np.stack(masks)
        kind_used[rows] = kind
        scene[rows] = start // int(sequence_length)
    for i in range(0 if sequence_length else n_frames):
        img, mask, kind_used[i] = _degraded_scene(rng, size, kinds, threshold, ambiguous,
                                                  positive_fraction)
        img += rng.normal(0, 2.0, img.shape).astype(np.float32)
        frames[i] = np.clip(img, 0, 255).round().astype(np.uint8)
        clear_mask[i] = ~mask
    clear_fraction = clear_mask.mean(axis=(1, 2))
    target = (clear_fraction >= threshold).astype(np.int64)
    seed = int(rng.integers(2**63))
    data = CandidateSet(frames, protocol, random_state=seed)
    masks = CandidateSet(clear_mask.astype(np.uint8) * 255, protocol, random_state=seed)
    patch_clear = np.asarray(masks, dtype=np.float64)[:, :, 0].mean(axis=(2, 3)) / 255.0
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frames=frames,
        clear_mask=clear_mask,
        clear_fraction=clear_fraction,
        patch_clear_fraction=patch_clear,
        degradation=kind_used.astype(str),
        scene=scene,
        target_names=np.array(["non-informative", "informative"]),
        DESCR=_DESCR,
    )
