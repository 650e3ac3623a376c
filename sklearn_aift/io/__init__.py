"""Reading image files: one reader for the whole package.

:func:`read_image` decodes PNG, JPEG, TIFF, BMP, GIF, WebP and DICOM files to
the network's 8-bit pixels while keeping their full depth and display window;
:func:`verify_image` decodes a file once (remembered by path, size and
modification time) to find truncated or corrupt files and identical content.
"""

from ._reader import (
    IMAGE_EXTENSIONS,
    ImageData,
    UnreadableImageError,
    is_dicom,
    read_image,
    verify_image,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageData",
    "UnreadableImageError",
    "is_dicom",
    "read_image",
    "verify_image",
]
