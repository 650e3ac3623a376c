"""Kvasir-SEG (and any images/ + masks/ polyp dataset) as polyp candidates."""

from __future__ import annotations

import json
import logging
import os
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.utils import Bunch

from ..augment import BoxProtocol
from ..candidates import ON_CONFLICT, CandidateSet, DuplicateReport, pixel_digest
from ..io import UnreadableImageError
from ..utils import check_int, resolve_seed
from ._base import check_dir, list_images, read_image, warn_skipped

__all__ = ["load_kvasir_seg"]

logger = logging.getLogger(__name__)

_BOX_FILE = "kavsir_bboxes.json"

_DESCR = """\
Polyp candidates from a polyp segmentation dataset
==================================================

Frames in ``images/`` with a binary polyp mask of the same name in ``masks/``
(white = polyp, thresholded at 128), as in Kvasir-SEG (Jha et al., MMM 2020).
Candidates imitate a CAD candidate generator: positives (1) at the polyp
bounding boxes, negatives (0) at boxes of mucosa that hold no polyp pixel.
Each candidate's patches come from the box protocol of Zhou et al. (CVPR
2017, sec. 4.2). Kvasir-SEG may be used for research and educational purposes
only; cite the Kvasir-SEG paper when publishing results.
"""


def _match_pairs(images_dir: Path, masks_dir: Path) -> list[tuple[str, Path, Path]]:
    images = list_images(images_dir)
    masks = list_images(masks_dir)
    if not images:
        raise ValueError(f"no image files found in {str(images_dir)!r}.")
    by_stem_img = {p.stem: p for p in images}
    by_stem_mask = {p.stem: p for p in masks}
    no_image = sorted(set(by_stem_mask) - set(by_stem_img))
    no_mask = sorted(set(by_stem_img) - set(by_stem_mask))
    if no_image or no_mask:
        parts = []
        if no_image:
            parts.append(
                f"{len(no_image)} mask(s) in {str(masks_dir)!r} have no image of the same name in "
                f"{str(images_dir)!r}: {', '.join(no_image[:10])}"
            )
        if no_mask:
            parts.append(
                f"{len(no_mask)} image(s) in {str(images_dir)!r} have no mask of the same name in "
                f"{str(masks_dir)!r}: {', '.join(no_mask[:10])}"
            )
        raise ValueError("images and masks do not match: " + "; ".join(parts) + ".")
    return [(stem, by_stem_img[stem], by_stem_mask[stem]) for stem in sorted(by_stem_img)]


def _read_box_file(path: Path) -> dict:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the box file {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(
            f"the box file {str(path)!r} must map frame ids to {{height, width, bbox: [...]}}; "
            f"got a {type(data).__name__}."
        )
    return data


def _boxes_from_entry(entry: Any, frame: str, path: Path, width: int, height: int) -> np.ndarray:
    try:
        sx, sy = width / float(entry["width"]), height / float(entry["height"])
        boxes = [
            (b["xmin"] * sx, b["ymin"] * sy, b["xmax"] * sx, b["ymax"] * sy) for b in entry["bbox"]
        ]
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(
            f"malformed entry for frame {frame!r} in {str(path)!r}: expected "
            f"{{'height': int, 'width': int, 'bbox': [{{'xmin', 'ymin', 'xmax', 'ymax'}}, ...]}}; "
            f"got {entry!r}."
        ) from exc
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _boxes_from_mask(mask: np.ndarray, min_area: int) -> np.ndarray:
    labels, n = ndimage.label(mask)
    boxes = []
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None or (labels[sl] == k).sum() < min_area:
            continue
        boxes.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _clean_boxes(boxes: np.ndarray, width: int, height: int, min_size: float) -> np.ndarray:
    boxes = boxes.copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    return boxes[keep]


def _integral(a: np.ndarray) -> np.ndarray:
    """Summed-area table with a zero first row and column."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.int32)
    np.cumsum(a, axis=0, dtype=np.int32, out=s[1:, 1:])
    np.cumsum(s[1:, 1:], axis=1, out=s[1:, 1:])
    return s


def _window_sums(s: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """Sum of every bh x bw window; entry [y, x] is the window with top-left (x, y)."""
    return s[bh:, bw:] - s[:-bh, bw:] - s[bh:, :-bw] + s[:-bh, :-bw]


def _sample_negatives(
    rng: np.random.Generator,
    forbidden: np.ndarray,
    dark: np.ndarray,
    sizes: list[tuple[float, float]],
    min_size: float,
    max_dark: float,
) -> list[tuple[float, float, float, float]]:
    """Boxes of the given sizes holding no forbidden pixel and few dark ones."""
    height, width = forbidden.shape
    forbidden = forbidden.copy()
    dark_int = _integral(dark)
    out = []
    for w, h in sizes:
        while True:
            bw, bh = int(round(min(w, width))), int(round(min(h, height)))
            if min(bw, bh) < min_size:
                break
            ok = _window_sums(_integral(forbidden), bh, bw) == 0
            ok &= _window_sums(dark_int, bh, bw) <= max_dark * bw * bh
            ys, xs = np.nonzero(ok)
            if len(ys):
                k = rng.integers(len(ys))
                x0, y0 = int(xs[k]), int(ys[k])
                out.append((float(x0), float(y0), float(x0 + bw), float(y0 + bh)))
                forbidden[y0 : y0 + bh, x0 : x0 + bw] = True  # negatives do not overlap
                break
            w, h = w * 0.8, h * 0.8
    return out


def _sample_hard_negatives(
    rng: np.random.Generator,
    mask: np.ndarray,
    dark: np.ndarray,
    sizes: list[tuple[float, float]],
    max_overlap: float,
    max_dark: float,
    taken: np.ndarray,
) -> list[tuple[float, float, float, float]]:
    """Boxes that touch a polyp: some polyp pixels, at most ``max_overlap`` of the box,
    and no pixel of ``taken`` (other negatives)."""
    height, width = mask.shape
    mask_int, dark_int = _integral(mask), _integral(dark)
    taken = taken.copy()
    out = []
    for w, h in sizes:
        bw, bh = int(round(min(w, width))), int(round(min(h, height)))
        if bw < 1 or bh < 1 or bw >= width or bh >= height:
            continue
        polyp = _window_sums(mask_int, bh, bw)
        ok = (polyp > 0) & (polyp <= max_overlap * bw * bh)
        ok &= _window_sums(dark_int, bh, bw) <= max_dark * bw * bh
        ok &= _window_sums(_integral(taken), bh, bw) == 0
        ys, xs = np.nonzero(ok)
        if len(ys):
            k = rng.integers(len(ys))
            x0, y0 = int(xs[k]), int(ys[k])
            out.append((float(x0), float(y0), float(x0 + bw), float(y0 + bh)))
            taken[y0 : y0 + bh, x0 : x0 + bw] = True
    return out


def load_kvasir_seg(
    data_dir: Any,
    *,
    protocol: Any = None,
    negatives_per_frame: int = 1,
    hard_negatives_per_frame: int = 0,
    max_hard_overlap: float = 0.2,
    boxes: Any = "auto",
    test_size: float | None = 0.25,
    max_frames: int | None = None,
    min_box_size: float = 8,
    max_dark_fraction: float = 0.25,
    cache_dir: Any = None,
    on_conflict: str = "raise",
    return_X_y: bool = False,
    random_state: int = 0,
) -> Any:
    """Polyp candidates from Kvasir-SEG or any ``images/`` + ``masks/`` folder.

    Candidates are made the way a CAD candidate generator would give them:

    * **positives** (label 1): the polyp bounding boxes, from the box file
      (Kvasir-SEG's ``kavsir_bboxes.json``, whose boxes are in original pixels
      and are scaled to the stored image size) when present, else from the
      connected components of the mask (pixels >= 128; components smaller than
      ``min_box_size**2`` pixels are dropped as compression noise);
    * **negatives** (label 0): ``negatives_per_frame`` boxes per frame of mucosa,
      each the size of one of the frame's polyp boxes (drawn at random; the
      median polyp box of the set for frames without polyps), placed uniformly
      at random among the positions where the box holds **no polyp pixel**
      (IoU with the mask = 0), at most ``max_dark_fraction`` dark pixels
      (black frame border: every channel < 30) and no pixel of another
      negative of the frame; when no position exists the size shrinks by 20%
      until it would fall below ``min_box_size`` (then the negative is left
      out and counted in ``n_negatives_missing``). The box itself is polyp-free;
      the larger-scale and translated patches of a negative near a polyp can
      show the polyp's rim, as candidates of a real generator do;
    * **hard negatives** (label 0): ``hard_negatives_per_frame`` more boxes of
      a polyp's size that touch or ring a polyp: they hold some polyp pixels,
      but at most ``max_hard_overlap`` of the box (the false positives a
      detector makes at a lesion's edge). They do not overlap each other or
      the random negatives; a frame without polyps, or without such a
      position, gets none (counted in ``n_negatives_missing``).

    ``negatives_per_frame=2, hard_negatives_per_frame=2`` gives an imbalanced
    CAD-like pool of about one positive in five candidates.

    Each candidate's patches come from ``protocol``
    (:class:`~sklearn_aift.augment.BoxProtocol`, 96 patches, by default) and are
    made lazily from the image files. The frames are split into train and test
    with ``random_state`` (no patient ids are given), so all candidates of a
    frame fall on the same side; ``groups`` gives each candidate's frame for
    other frame-wise splits (e.g. ``GroupKFold``).

    Parameters
    ----------
    data_dir : str or path-like
        Folder with ``images/`` and ``masks/`` holding files of the same names
        (extensions may differ).
    protocol : patch protocol or None, default=None
        A box protocol; None means ``BoxProtocol()`` (96 patches of 64 px).
        ``BoxProtocol(shift=0)`` gives 24 patches (3 scales x 8 orientations).
    negatives_per_frame : int, default=1
        Random mucosa negatives sought per frame (0 for none).
    hard_negatives_per_frame : int, default=0
        Hard negatives (touching a polyp) sought per frame.
    max_hard_overlap : float, default=0.2
        Largest share of polyp pixels in a hard negative's box, in (0, 1).
    boxes : {"auto", "masks"} or path, default="auto"
        Where polyp boxes come from: ``"auto"`` uses ``data_dir/kavsir_bboxes.json``
        when it exists, else the masks; ``"masks"`` always uses the masks; a
        path names a box file in the Kvasir-SEG format. Frames missing from a
        box file use their mask.
    test_size : float or None, default=0.25
        Fraction of frames in the test split; None or 0 puts every frame in
        the training split.
    max_frames : int or None, default=None
        Load only this many frames, drawn with ``random_state`` (for quick runs).
    min_box_size : float, default=8
        Smallest box side kept, in pixels.
    max_dark_fraction : float, default=0.25
        Largest share of dark pixels in a negative box.
    cache_dir : path or None, default=None
        On-disk patch cache of the returned :class:`~sklearn_aift.candidates.CandidateSet`.
    on_conflict : {"raise", "drop", "first"}, default="raise"
        Frames with identical images are one frame (the first by name, with a
        warning reporting them); when their masks differ (conflicting
        annotations) they are refused listing the files, left out
        (``"drop"``) or the first is kept with its mask (``"first"``).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    random_state : int, default=0
        Seed of the negative boxes, the frame split and ``max_frames``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: lazy :class:`~sklearn_aift.candidates.CandidateSet`
        (n, m, 3, P, P); ``target``: ndarray (n,), 1 = polyp, 0 = mucosa;
        ``groups``: ndarray (n,), frame number of each candidate;
        ``boxes``: ndarray (n, 4), the candidate boxes ``(x0, y0, x1, y1)`` in
        image pixels; ``train_index``, ``test_index``: candidate indices of the
        frame-wise split; ``frame_ids``: ndarray (n_frames,) of names;
        ``image_paths``, ``mask_paths``: lists of the frames' files;
        ``box_source``: ndarray (n_frames,) of "file" or "masks";
        ``n_negatives_missing``: negatives that found no room;
        ``kind``: ndarray (n,) of "polyp", "negative" or "hard negative";
        ``target_names``: ``["mucosa", "polyp"]``; ``duplicates``: the
        :class:`~sklearn_aift.candidates.DuplicateReport` of the readable
        frames (labels: the mask files); ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``data_dir``, ``images/`` or ``masks/`` is missing.
    ValueError
        If there are no images, masks and images do not match by name, the box
        file is malformed, every frame is unreadable, or identical images have
        different masks and ``on_conflict="raise"``.

    Warns
    -----
    UserWarning
        Listing image or mask files that cannot be read or whose sizes differ
        (those frames are skipped), and identical frames (once).

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from PIL import Image
    >>> from sklearn_aift.augment import BoxProtocol
    >>> from sklearn_aift.datasets import load_kvasir_seg
    >>> tmp = TemporaryDirectory(); root = Path(tmp.name)
    >>> (root / "images").mkdir(); (root / "masks").mkdir()
    >>> for i in range(4):
    ...     frame = np.full((64, 64, 3), 150 + i, np.uint8)  # distinct frames
    ...     Image.fromarray(frame).save(root / "images" / f"f{i}.png")
    ...     mask = np.zeros((64, 64), np.uint8); mask[10:30, 12:34] = 255
    ...     Image.fromarray(mask).save(root / "masks" / f"f{i}.png")
    >>> polyps = load_kvasir_seg(root, protocol=BoxProtocol(patch_size=16, shift=0))
    >>> polyps.data.shape, polyps.target.tolist()
    ((8, 24, 3, 16, 16), [1, 0, 1, 0, 1, 0, 1, 0])
    >>> polyps.boxes[0].tolist()
    [12.0, 10.0, 34.0, 30.0]
    >>> len(polyps.train_index), len(polyps.test_index)
    (6, 2)
    >>> tmp.cleanup()
    """
    root = check_dir(data_dir, "data_dir")
    images_dir = check_dir(root / "images", "images folder")
    masks_dir = check_dir(root / "masks", "masks folder")
    check_int(negatives_per_frame, "negatives_per_frame", min_value=0)
    check_int(hard_negatives_per_frame, "hard_negatives_per_frame", min_value=0)
    if not isinstance(max_hard_overlap, (int, float)) or not 0 < max_hard_overlap < 1:
        raise ValueError(f"max_hard_overlap must be a number in (0, 1); got {max_hard_overlap!r}.")
    if test_size is not None and not (isinstance(test_size, (int, float)) and 0 <= test_size < 1):
        raise ValueError(f"test_size must be a number in [0, 1) or None; got {test_size!r}.")
    check_int(max_frames, "max_frames", allow_none=True)
    if not isinstance(min_box_size, (int, float)) or min_box_size < 1:
        raise ValueError(f"min_box_size must be a number >= 1; got {min_box_size!r}.")
    if protocol is None:
        protocol = BoxProtocol()
    if getattr(protocol, "region_size", None) != 4:
        raise ValueError(
            f"protocol must be a box protocol (such as BoxProtocol()); got {protocol!r}."
        )
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}; got {on_conflict!r}.")
    seed = resolve_seed(random_state)

    pairs = _match_pairs(images_dir, masks_dir)
    if max_frames is not None and max_frames < len(pairs):
        pick = np.sort(np.random.default_rng([seed, 1]).permutation(len(pairs))[:max_frames])
        pairs = [pairs[i] for i in pick]

    box_file = None
    if isinstance(boxes, str) and boxes in ("auto", "masks"):
        if boxes == "auto" and (root / _BOX_FILE).is_file():
            box_file = root / _BOX_FILE
    else:
        try:
            box_file = Path(os.fspath(boxes))
        except TypeError as exc:
            raise ValueError(f"boxes must be 'auto', 'masks' or a path; got {boxes!r}.") from exc
        if not box_file.is_file():
            raise FileNotFoundError(f"box file {str(box_file)!r} (boxes=) does not exist.")
    box_entries = {} if box_file is None else _read_box_file(box_file)

    # read every frame once: readability, mask, dark border, boxes
    frames, contents = [], []
    unreadable, mismatched = [], []
    for stem, img_path, mask_path in pairs:
        try:
            image = read_image(img_path, "RGB")
            mask = read_image(mask_path, "L") >= 128
        except UnreadableImageError as exc:
            unreadable.append(f"{exc.path} ({exc.reason})")
            continue
        if mask.shape != image.shape[:2]:
            mismatched.append(mask_path)
            continue
        height, width = mask.shape
        if stem in box_entries:
            pos = _boxes_from_entry(box_entries[stem], stem, box_file, width, height)
            source = "file"
        else:
            pos = _boxes_from_mask(mask, int(min_box_size) ** 2)
            source = "masks"
        pos = _clean_boxes(pos, width, height, min_box_size)
        dark = np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2]) < 30
        frames.append((stem, img_path, mask_path, mask, dark, pos, source))
        contents.append((pixel_digest(image), pixel_digest(mask)))
    warn_skipped(unreadable, "cannot be read as images (their frames are left out)")
    warn_skipped(mismatched, "have a different size than their image (their frames are left out)")
    if not frames:
        raise ValueError(f"no readable image/mask pairs in {str(root)!r}.")
    frames, duplicates = _one_frame_per_image(frames, contents, on_conflict)

    all_pos = np.concatenate([f[5] for f in frames])
    if len(all_pos):
        median_size = (
            float(np.median(all_pos[:, 2] - all_pos[:, 0])),
            float(np.median(all_pos[:, 3] - all_pos[:, 1])),
        )
    else:
        median_size = (float(frames[0][3].shape[1]) / 4, float(frames[0][3].shape[0]) / 4)

    regions, labels, groups, kinds = [], [], [], []
    missing = 0
    for g, (stem, _, _, mask, dark, pos, _) in enumerate(frames):
        rng = np.random.default_rng([seed, zlib.crc32(stem.encode())])
        if len(pos):
            picks = rng.integers(len(pos), size=negatives_per_frame)
            sizes = [(pos[k, 2] - pos[k, 0], pos[k, 3] - pos[k, 1]) for k in picks]
        else:
            sizes = [median_size] * negatives_per_frame
        neg = _sample_negatives(rng, mask, dark, sizes, min_box_size, max_dark_fraction)
        missing += negatives_per_frame - len(neg)
        hard: list = []
        if hard_negatives_per_frame and len(pos):
            hard_rng = np.random.default_rng([seed, zlib.crc32(stem.encode()), 1])
            picks = hard_rng.integers(len(pos), size=hard_negatives_per_frame)
            hard_sizes = [(pos[k, 2] - pos[k, 0], pos[k, 3] - pos[k, 1]) for k in picks]
            taken = np.zeros_like(mask)
            for x0, y0, x1, y1 in neg:
                taken[int(y0) : int(y1), int(x0) : int(x1)] = True
            hard = _sample_hard_negatives(hard_rng, mask, dark, hard_sizes, max_hard_overlap,
                                          max_dark_fraction, taken)
        missing += hard_negatives_per_frame - len(hard)
        for box, label, kind in (
            [(b, 1, "polyp") for b in pos]
            + [(b, 0, "negative") for b in neg]
            + [(b, 0, "hard negative") for b in hard]
        ):
            regions.append(box)
            labels.append(label)
            groups.append(g)
            kinds.append(kind)
    if missing:
        logger.info("%d negative boxes found no polyp-free room and were left out", missing)
    if not regions:
        raise ValueError(
            f"no candidates in {str(root)!r}: no polyp boxes and no room for negatives."
        )
    regions = np.asarray(regions, dtype=np.float64)
    target = np.asarray(labels, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)

    n_frames = len(frames)
    n_test = 0 if not test_size else max(1, int(round(test_size * n_frames)))
    n_test = min(n_test, n_frames - 1)
    test_frames = np.random.default_rng([seed, 2]).permutation(n_frames)[:n_test]
    is_test = np.isin(groups, test_frames)

    data = CandidateSet(
        [str(f[1]) for f in frames],
        protocol,
        regions,
        image_index=groups,
        random_state=seed,
        image_mode="RGB",
        cache_dir=cache_dir,
    )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        groups=groups,
        boxes=regions,
        train_index=np.flatnonzero(~is_test),
        test_index=np.flatnonzero(is_test),
        frame_ids=np.array([f[0] for f in frames]),
        image_paths=[str(f[1]) for f in frames],
        mask_paths=[str(f[2]) for f in frames],
        box_source=np.array([f[6] for f in frames]),
        n_negatives_missing=int(missing),
        kind=np.array(kinds),
        target_names=np.array(["mucosa", "polyp"]),
        duplicates=duplicates,
        DESCR=_DESCR,
    )


def _one_frame_per_image(frames: list, contents: list, on_conflict: str) -> tuple:
    """Frames with identical images kept once (the first); masks that differ are conflicts."""
    report = DuplicateReport(
        [image for image, _ in contents],
        labels=[mask for _, mask in contents],
        names=[f"{f[1]} (mask {Path(f[2]).name})" for f in frames],
    )
    if not report:
        return frames, report
    keep = report.keep(on_conflict)  # raises on conflicting masks by default
    warnings.warn(f"{report} (labels: mask digests); each image is one frame.", UserWarning,
                  stacklevel=3)
    return [frames[i] for i in keep], report
