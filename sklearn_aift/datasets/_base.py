"""Shared helpers of the dataset loaders: folder checks, image listing and reading."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp")

# what PIL raises on missing, truncated, corrupt or absurdly large files


def check_dir(path: Any, name: str) -> Path:
    """Return ``path`` as a Path to an existing folder, else raise naming it."""
    try:
        folder = Path(os.fspath(path))
    except TypeError as exc:
        raise TypeError(f"{name} must be a path to a folder; got {path!r}.") from exc
    if not folder.exists():
        raise FileNotFoundError(f"{name} {str(folder)!r} does not exist.")
    if not folder.is_dir():
        raise NotADirectoryError(f"{name} {str(folder)!r} is not a folder.")
    return folder


def list_images(folder: Path, extensions: tuple = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files directly inside ``folder`` (by extension, case-insensitive), sorted."""
    exts = tuple(e.lower() for e in extensions)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
    )


def read_image(path: Path, mode: str) -> np.ndarray:
    """Decode ``path`` to a uint8 array converted to ``mode`` ("RGB" or "L").

    Raises one of ``sklearn_aift.utils.READ_ERRORS`` when the file cannot be decoded.
    """
    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def check_image_file(path: Path, full: bool = True) -> tuple[int, int]:
    """``(width, height)`` of an image file; decodes it fully when ``full``."""
    with Image.open(path) as im:
        if full:
            im.load()
        return im.size


def warn_skipped(paths: list, reason: str, stacklevel: int = 3) -> None:
    """Warn once about skipped files, listing them (the first 20)."""
    if not paths:
        return
    shown = ", ".join(str(p) for p in paths[:20])
    more = f" and {len(paths) - 20} more" if len(paths) > 20 else ""
    warnings.warn(
        f"skipped {len(paths)} file(s) that {reason}: {shown}{more}",
        UserWarning,
        stacklevel=stacklevel,
    )
