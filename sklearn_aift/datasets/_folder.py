"""Image folders (one subfolder per class) as frame candidates."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ..augment import FrameProtocol
from ..candidates import CandidateSet, _resolve_seed
from ._base import (
    _READ_ERRORS,
    IMAGE_EXTENSIONS,
    check_dir,
    check_image_file,
    list_images,
    warn_skipped,
)

__all__ = ["load_image_folder"]


def load_image_folder(
    root: Any,
    *,
    protocol: Any = None,
    image_mode: str = "RGB",
    extensions: tuple = IMAGE_EXTENSIONS,
    verify: bool = True,
    cache_dir: Any = None,
    return_X_y: bool = False,
    random_state: int = 0,
) -> Any:
    """Images in one subfolder per class (the ImageFolder layout) as frame candidates.

    ``root/<class>/<image>``: every image is a candidate labelled with its
    folder; classes are the subfolder names in sorted order and the targets
    their positions, as in :func:`sklearn.datasets.load_files`. Images are read
    lazily from disk when patches are made, so folders larger than memory
    work; images of any size are fine (the protocol's crops are relative to
    each image).

    Parameters
    ----------
    root : str or path-like
        The folder holding one subfolder per class.
    protocol : patch protocol or None, default=None
        A whole-image protocol; None means ``FrameProtocol()`` (21 patches of 64
        pixels: the image, its quadrants and its 4 x 4 cells).
    image_mode : {"RGB", "L"}, default="RGB"
        Colour mode images are converted to (3 or 1 channels).
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File extensions taken as images (case-insensitive): by default ``.jpg``,
        ``.jpeg``, ``.png``, ``.bmp``, ``.tif``, ``.tiff``, ``.gif``, ``.webp``.
        Other files are ignored.
    verify : bool, default=True
        Decode every image once at loading to find unreadable files (else only
        their headers are read).
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
        ndarray of the class folder names; ``filenames``: ndarray of the image
        paths; ``DESCR``.
    (data, target) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` is missing or not a folder.
    ValueError
        If ``root`` has no class subfolders or no readable images, or
        ``image_mode`` is unknown.

    Warns
    -----
    UserWarning
        Listing unreadable image files (skipped) and class folders without
        images.

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
    ...         image = Image.fromarray(np.full((40, 50, 3), value, np.uint8))
    ...         image.save(root / name / f"{i}.png")
    >>> images = load_image_folder(root)
    >>> images.data.shape, images.target.tolist(), images.target_names.tolist()
    ((4, 21, 3, 64, 64), [0, 0, 1, 1], ['benign', 'malignant'])
    >>> tmp.cleanup()
    """
    folder = check_dir(root, "root")
    if image_mode not in ("RGB", "L"):
        raise ValueError(f"image_mode must be 'RGB' or 'L'; got {image_mode!r}.")
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
    paths, target, unreadable, empty = [], [], [], []
    for label, name in enumerate(classes):
        files = list_images(folder / name, extensions)
        n_ok = 0
        for path in files:
            try:
                check_image_file(path, full=verify)
            except _READ_ERRORS:
                unreadable.append(path)
                continue
            paths.append(str(path))
            target.append(label)
            n_ok += 1
        if n_ok == 0:
            empty.append(folder / name)
    warn_skipped(unreadable, "cannot be read as images")
    warn_skipped(empty, "are class folders without readable images")
    if not paths:
        raise ValueError(
            f"no readable images with extensions {tuple(extensions)} under {str(folder)!r}."
        )
    data = CandidateSet(
        paths,
        protocol,
        random_state=_resolve_seed(random_state),
        image_mode=image_mode,
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
        DESCR=f"Images from {str(folder)!r}, one class per subfolder.",
    )
