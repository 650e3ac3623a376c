"""One image reader for the package: PIL formats, high bit depth and DICOM."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from ..utils import check_window

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageData",
    "UnreadableImageError",
    "is_dicom",
    "read_image",
    "verify_image",
]

IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".dcm",
)

_MODES = ("RGB", "L")
# PIL modes holding more than 8 bits per pixel (16-bit PNG/TIFF, 32-bit int/float TIFF)
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


class UnreadableImageError(OSError):
    """An image file that cannot be decoded (missing, truncated, corrupt or unsupported).

    A subclass of :class:`OSError`; the message names the file and the reason,
    also kept in the attributes ``path`` and ``reason``.

    Examples
    --------
    >>> from sklearn_aift.io import UnreadableImageError, read_image
    >>> try:
    ...     read_image("no-such-file.png")
    ... except UnreadableImageError as exc:
    ...     print("no-such-file.png" in str(exc))
    True
    """


class ImageData(NamedTuple):
    """One decoded image: the network's 8-bit pixels and what a viewer needs.

    Attributes
    ----------
    pixels : ndarray of uint8 of shape (H, W, C)
        The image as the network sees it, in the requested mode (C = 3 for
        "RGB", 1 for "L"): ``raw`` mapped linearly from ``window`` to
        ``[0, 255]`` (inverted for MONOCHROME1 DICOM).
    raw : ndarray of shape (H, W) or (H, W, 3)
        The decoded values at their full depth (float64 for 16-bit, 32-bit and
        DICOM images after the rescale slope and intercept; uint8 otherwise).
    window : tuple of (float, float)
        ``(center, width)`` of the values mapped to ``[0, 255]``: the one
        given, else the DICOM file's own window, else the image's actual
        range (8-bit images: ``(127.5, 255.0)``, the identity).
    inverted : bool
        True for MONOCHROME1 DICOM images (high values shown dark).
    """

    pixels: np.ndarray
    raw: np.ndarray
    window: tuple
    inverted: bool


def is_dicom(path: Any) -> bool:
    """Whether ``path`` is a DICOM file: a ``.dcm`` extension or ``DICM`` at byte 128.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    dicom : bool
        False for files that cannot be opened.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from sklearn_aift.io import is_dicom
    >>> is_dicom(get_testdata_file("CT_small.dcm")), is_dicom("photo.png")
    (True, False)
    """
    path = os.fspath(path)
    if path.lower().endswith(".dcm"):
        return True
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _to_uint8(raw: np.ndarray, window: tuple) -> np.ndarray:
    """``raw`` mapped linearly from ``window`` (center, width) onto [0, 255]."""
    center, width = window
    low = center - width / 2.0
    scaled = (np.asarray(raw, dtype=np.float64) - low) * (255.0 / width)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)  # float TIFF gaps
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _range_window(raw: np.ndarray) -> tuple:
    """The window spanning the actual values (never clips)."""
    finite = raw[np.isfinite(raw)]
    if finite.size == 0:
        return (0.5, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return (low, 1.0)  # a constant image maps to mid-grey, not to 0 or 255
    return ((low + high) / 2.0, high - low)


def _to_mode(grey_or_rgb: np.ndarray, mode: str) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 to (H, W, C) in ``mode``."""
    if grey_or_rgb.ndim == 2:
        if mode == "L":
            return grey_or_rgb[:, :, None]
        return np.repeat(grey_or_rgb[:, :, None], 3, axis=2)
    if mode == "RGB":
        return grey_or_rgb
    return np.asarray(Image.fromarray(grey_or_rgb, "RGB").convert("L"))[:, :, None]


def _decode_pil(path: str) -> tuple[np.ndarray, tuple | None, bool]:
    """(raw, default window or None, inverted) of a PIL-readable file."""
    with Image.open(path) as im:
        im.load()
        if im.mode in _HIGH_DEPTH_MODES:
            raw = np.asarray(im, dtype=np.float64)
            return raw, None, False
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")  # palette, alpha, CMYK, 1-bit: to colour
        return np.asarray(im), (127.5, 255.0), False


def _first(value: Any) -> float | None:
    """A DICOM number, or the first of several (window presets); None when absent."""
    from pydicom.multival import MultiValue

    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _decode_dicom(path: str) -> tuple[np.ndarray, tuple | None, bool]:
    """(raw, the file's window or None, inverted) of a single-frame DICOM file."""
    import pydicom

    ds = pydicom.dcmread(path)
    if "PixelData" not in ds:
        raise ValueError("the DICOM file holds no image (no Pixel Data element)")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if n_frames > 1:
        raise ValueError(
            f"a multi-frame DICOM file ({n_frames} frames) is not read: save one file per "
            f"frame to use its frames as candidates"
        )
    pixels = ds.pixel_array
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        rgb = pixels if pixels.dtype == np.uint8 else np.asarray(pixels, dtype=np.float64)
        return rgb, None, False
    raw = np.asarray(pixels, dtype=np.float64)
    slope = _first(ds.get("RescaleSlope"))
    intercept = _first(ds.get("RescaleIntercept"))
    raw = raw * (1.0 if slope is None else slope) + (0.0 if intercept is None else intercept)
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    window = (center, width) if center is not None and width is not None and width > 0 else None
    return raw, window, photometric == "MONOCHROME1"


def read_image(path: Any, *, mode: str = "RGB", window: Any = None) -> ImageData:
    """Decode an image file to the network's 8-bit pixels, keeping its full depth.

    PNG, JPEG, TIFF, BMP, GIF and WebP are read with Pillow; DICOM files (a
    ``.dcm`` extension or ``DICM`` at byte 128) with pydicom, after the rescale
    slope and intercept, with the file's window as the default window and
    MONOCHROME1 images inverted. Images of more than 8 bits (16-bit PNG/TIFF,
    32-bit float TIFF, 12/16-bit DICOM without a window) are mapped to 8 bits
    over their actual range, never clipped; a given ``window`` replaces that
    range. Multi-frame DICOM files are refused (save one file per frame).

    Parameters
    ----------
    path : str or path-like
        The image file.
    mode : {"RGB", "L"}, default="RGB"
        Colour mode of ``pixels``: 3 channels (grey repeated) or 1 (colour
        converted to luminance).
    window : tuple of (float, float) or None, default=None
        ``(center, width)`` of the raw values mapped onto ``[0, 255]``; values
        outside are clipped. None: the DICOM file's own window, else the
        image's actual range.

    Returns
    -------
    image : ImageData
        ``pixels`` (uint8, ``(H, W, C)``), ``raw``, ``window`` and ``inverted``.

    Raises
    ------
    UnreadableImageError
        If the file is missing, truncated, corrupt, not an image, or a
        multi-frame DICOM file; the message names the file.
    ValueError
        If ``mode`` is not "RGB" or "L", or ``window`` has a width <= 0.
    TypeError
        If ``window`` is not a pair of numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from PIL import Image
    >>> from sklearn_aift.io import read_image
    >>> tmp = TemporaryDirectory()
    >>> path = Path(tmp.name) / "grey16.png"
    >>> Image.fromarray(np.array([[1000, 30000], [30000, 60000]], np.uint16)).save(path)
    >>> image = read_image(path, mode="L")
    >>> image.pixels[..., 0].tolist(), image.window
    ([[0, 125], [125, 255]], (30500.0, 59000.0))
    >>> read_image(path, mode="L", window=(30000, 2)).pixels[..., 0].tolist()
    [[0, 128], [128, 255]]
    >>> tmp.cleanup()
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'RGB' or 'L'; got {mode!r}.")
    window = check_window(window)
    path = os.fspath(path)
    raw, default, inverted = _decode(path)
    if window is None:
        window = default if default is not None else _range_window(raw)
    if raw.dtype == np.uint8 and window == (127.5, 255.0):
        eight = raw
    else:
        eight = _to_uint8(raw, window)
    if inverted:
        eight = 255 - eight
    return ImageData(_to_mode(eight, mode), raw, window, inverted)


def _unreadable(path: str, reason: str) -> UnreadableImageError:
    error = UnreadableImageError(f"cannot read image {path!r}: {reason}")
    error.path, error.reason = path, reason
    return error


def _decode(path: str) -> tuple[np.ndarray, tuple | None, bool]:
    try:
        if is_dicom(path):
            return _decode_dicom(path)
        return _decode_pil(path)
    except Exception as exc:  # any decoder failure: the file is unreadable, say which
        raise _unreadable(path, str(exc) or type(exc).__name__) from exc


# full decodes already made: (path, size, mtime_ns) -> digest of the decoded values
_VERIFIED: OrderedDict = OrderedDict()
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 100_000


def verify_image(path: Any) -> str:
    """Decode an image file fully, once, and return the digest of its content.

    The result is remembered for the file's ``(path, size, mtime)``, so a
    folder is decoded once per process however often it is listed; a file
    changed since is decoded again. Equal digests mean identical decoded
    values, default window and inversion (whatever the file names or
    formats), hence identical network input.

    Parameters
    ----------
    path : str or path-like
        The image file.

    Returns
    -------
    digest : str
        32 hexadecimal characters.

    Raises
    ------
    UnreadableImageError
        If the file cannot be decoded (missing, truncated, corrupt,
        multi-frame DICOM); the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from PIL import Image
    >>> from sklearn_aift.io import verify_image
    >>> tmp = TemporaryDirectory(); root = Path(tmp.name)
    >>> Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "a.png")
    >>> Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "b.bmp")
    >>> verify_image(root / "a.png") == verify_image(root / "b.bmp")
    True
    >>> tmp.cleanup()
    """
    path = os.path.abspath(os.fspath(path))
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _unreadable(path, exc.strerror or str(exc)) from exc
    key = (path, st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        digest = _VERIFIED.get(key)
    if digest is not None:
        return digest
    raw, window, inverted = _decode(path)
    raw = np.ascontiguousarray(raw)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{raw.dtype.str}{raw.shape}{window}{inverted}".encode())
    h.update(memoryview(raw).cast("B"))
    digest = h.hexdigest()
    with _VERIFIED_LOCK:
        _VERIFIED[key] = digest
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return digest
