"""Shared helpers of the dataset loaders: folder checks, image listing and reading."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..io import IMAGE_EXTENSIONS, is_dicom
from ..io import read_image as _read_image



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


def list_images(
    folder: Path, extensions: tuple = IMAGE_EXTENSIONS, ignored: list | None = None
) -> list[Path]:
    """Image files directly inside ``folder`` (by extension, case-insensitive), sorted.

    With ``.dcm`` among the extensions, DICOM files without it (``DICM`` at
    byte 128) count too. Other files (hidden ones aside) are appended to
    ``ignored`` when given.
    """
    exts = tuple(e.lower() for e in extensions)
    images = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.suffix.lower() in exts or (".dcm" in exts and is_dicom(p)):
            images.append(p)
        elif ignored is not None:
            ignored.append(p)
    return images


def read_image(path: Path, mode: str) -> np.ndarray:
    """Decode ``path`` to a uint8 array in ``mode`` ("RGB": (H, W, 3); "L": (H, W)).

    High bit depth is scaled over the image's range and DICOM windowed (see
    :func:`sklearn_aift.io.read_image`). Raises
    :class:`~sklearn_aift.io.UnreadableImageError` when the file cannot be decoded.
    """
    pixels = _read_image(path, mode=mode).pixels
    return pixels[:, :, 0] if mode == "L" else pixels


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
