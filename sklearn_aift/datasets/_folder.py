"""Image folders (one subfolder per class) as frame candidates."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ..augment import FrameProtocol
from ..candidates import ON_CONFLICT, CandidateSet, DuplicateReport
from ..io import IMAGE_EXTENSIONS, UnreadableImageError, verify_image
from ..utils import resolve_seed
from ._base import check_dir, list_images, warn_skipped

__all__ = ["load_image_folder"]


def load_image_folder(
    root: Any,
    *,
    positive_class: str | None = None,
    protocol: Any = None,
    image_mode: str = "RGB",
    window: Any = None,
    extensions: tuple = IMAGE_EXTENSIONS,
    on_conflict: str = "raise",
    cache_dir: Any = None,
    return_X_y: bool = False,
    random_state: int = 0,
) -> Any:
    """Images in one subfolder per class (the ImageFolder layout) as frame candidates.

    ``root/<class>/<image>``: every image is a candidate labelled with its
    folder; classes are the subfolders holding readable images, in sorted
    order, and the targets their positions, as in
    :func:`sklearn.datasets.load_files`. With two classes, target 1 is the
    positive class of AUC and plots: by default the later folder name in
    sorted order, whatever that means for your data, so name it with
    ``positive_class``. Images are read
    lazily from disk when patches are made, so folders larger than memory
    work; images of any size are fine (the protocol's crops are relative to
    each image). Every file is decoded once at loading (remembered by path,
    size and modification time) with :func:`sklearn_aift.io.read_image`'s
    reader: unreadable files (truncated, corrupt, multi-frame DICOM) are
    skipped with a warning naming them, and so are files of other extensions.

    Files with identical decoded content are one candidate, the first in
    sorted order (an expert is never asked twice for the same pixels); they
    are reported once in a warning and in ``duplicates``. Identical files in
    different class folders carry conflicting labels: refused by default,
    listing them, or resolved by ``on_conflict``.

    Parameters
    ----------
    root : str or path-like
        The folder holding one subfolder per class.
    positive_class : str or None, default=None
        The name of the class folder whose images are the positive class
        (target 1, ``target_names[1]``); the other class is target 0. Needs
        exactly two class folders with images. None keeps the sorted order.
    protocol : patch protocol or None, default=None
        A whole-image protocol; None means ``FrameProtocol()`` (21 patches of 64
        pixels: the image, its quadrants and its 4 x 4 cells).
    image_mode : {"RGB", "L"}, default="RGB"
        Colour mode images are converted to (3 or 1 channels).
    window : tuple of (float, float) or None, default=None
        ``(center, width)`` of the values mapped to ``[0, 255]`` for 16-bit,
        float and DICOM images (see :func:`sklearn_aift.io.read_image`); None:
        a DICOM file's own window, else each image's actual range.
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File extensions taken as images (case-insensitive): by default ``.jpg``,
        ``.jpeg``, ``.png``, ``.bmp``, ``.tif``, ``.tiff``, ``.gif``, ``.webp``
        and ``.dcm``. Other files are skipped with a warning.
    on_conflict : {"raise", "drop", "first"}, default="raise"
        Identical images in different class folders: refuse them (ValueError
        listing the files), leave every copy out (``"drop"``), or keep the
        first in sorted order with its folder's label (``"first"``).
    cache_dir : path or None, default=None
        On-disk patch cache of the returned :class:`~sklearn_aift.candidates.CandidateSet`.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    random_state : int, default=0
        Seed of random protocols.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: lazy :class:`~sklearn_aift.candidates.CandidateSet`
        (n, m, C, P, P); ``target``: int64 ndarray (n,); ``target_names``:
        ndarray of the names of the class folders that hold images (folders
        without readable images are left out), ``target_names[t]`` being the
        class of target ``t``; ``filenames``: ndarray of the image paths;
        ``duplicates``: the :class:`~sklearn_aift.candidates.DuplicateReport`
        of the readable files (positions in the sorted list of readable
        files, conflicts included); ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` is missing or not a folder.
    ValueError
        If ``root`` has no class subfolders or no readable images,
        ``image_mode`` or ``on_conflict`` is unknown, ``positive_class`` is
        not one of exactly two class folders with images, or identical images
        sit in different class folders and ``on_conflict="raise"``.

    Warns
    -----
    UserWarning
        Listing unreadable image files and files of other extensions
        (skipped), class folders without images, and identical images (once).

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from PIL import Image
    >>> from sklearn_aift.datasets import load_image_folder
    >>> tmp = TemporaryDirectory(); root = Path(tmp.name)
    >>> for name, value in [("benign", 60), ("malignant", 200)]:
    ...     (root / name).mkdir()
    ...     for i in range(2):
    ...         image = Image.fromarray(np.full((40, 50, 3), value + i, np.uint8))
    ...         image.save(root / name / f"{i}.png")
    >>> images = load_image_folder(root)
    >>> images.data.shape, images.target.tolist(), images.target_names.tolist()
    ((4, 21, 3, 64, 64), [0, 0, 1, 1], ['benign', 'malignant'])
    >>> images = load_image_folder(root, positive_class="benign")
    >>> images.target.tolist(), images.target_names.tolist()
    ([1, 1, 0, 0], ['malignant', 'benign'])
    >>> tmp.cleanup()
    """
    folder = check_dir(root, "root")
    if image_mode not in ("RGB", "L"):
        raise ValueError(f"image_mode must be 'RGB' or 'L'; got {image_mode!r}.")
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}; got {on_conflict!r}.")
    if protocol is None:
        protocol = FrameProtocol()
    if getattr(protocol, "region_size", None) != 0:
        raise ValueError(
            f"protocol must be a whole-image protocol (such as FrameProtocol()); got {protocol!r}."
        )
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(
            f"root {str(folder)!r} has no class subfolders; expected root/<class>/<image files>."
        )
    images, digests, unreadable, ignored = [], [], [], []
    for name in classes:
        for path in list_images(folder / name, extensions, ignored):
            try:
                digests.append(verify_image(path))
            except UnreadableImageError as exc:
                unreadable.append(f"{path} ({exc.reason})")
                continue
            images.append((str(path), name))
    warn_skipped(unreadable, "cannot be read as images")
    warn_skipped(ignored, f"do not have an image extension {tuple(extensions)}")
    duplicates = DuplicateReport(digests, [name for _, name in images],
                                 [path for path, _ in images])
    if duplicates:
        keep = duplicates.keep(on_conflict)  # raises on conflicts by default
        warnings.warn(f"{str(folder)!r}: {duplicates}; each content is one candidate.",
                      UserWarning, stacklevel=2)
        images = [images[i] for i in keep]
    with_images = {name for _, name in images}
    empty = [name for name in classes if name not in with_images]
    warn_skipped([folder / name for name in empty], "are class folders without readable images")
    classes = [name for name in classes if name in with_images]
    if not classes:
        raise ValueError(
            f"no readable images with extensions {tuple(extensions)} under {str(folder)!r}."
        )
    # images stay in sorted folder order whichever class is positive; only targets change
    if positive_class is not None:
        classes = _put_positive_last(classes, positive_class, empty, folder)
    label_of = {name: label for label, name in enumerate(classes)}
    paths = [path for path, _ in images]
    target = [label_of[name] for _, name in images]
    data = CandidateSet(
        paths,
        protocol,
        random_state=resolve_seed(random_state),
        image_mode=image_mode,
        window=window,
        cache_dir=cache_dir,
    )
    target = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=np.array(classes),
        filenames=np.array(paths),
        duplicates=duplicates,
        DESCR=f"Images from {str(folder)!r}, one class per subfolder.",
    )


def _put_positive_last(classes: list, positive_class: Any, empty: list, folder) -> list:
    """The two class names ordered (negative, positive), or a ValueError saying why not."""
    if not isinstance(positive_class, str) or positive_class not in classes:
        why = (
            "a class folder without readable images"
            if positive_class in empty
            else "not a class folder"
        )
        raise ValueError(
            f"positive_class={positive_class!r} is {why} under {str(folder)!r}; expected one "
            f"of the class folders with images: {classes}."
        )
    if len(classes) != 2:
        raise ValueError(
            f"positive_class={positive_class!r} needs exactly two class folders with images "
            f"under {str(folder)!r}; found {len(classes)}: {classes}."
        )
    return [name for name in classes if name != positive_class] + [positive_class]
