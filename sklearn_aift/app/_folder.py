"""A folder of images as a pool of candidates known by their content.

The folder is scanned into a :class:`~sklearn_aift.candidates.CandidateSet`;
each candidate's key is its content key
(:meth:`~sklearn_aift.candidates.CandidateSet.content_keys`), so a file that is
touched, copied or renamed keeps its identity, and files holding the same image
are one candidate.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..candidates import CandidateSet
from ..io import IMAGE_EXTENSIONS, UnreadableImageError, is_dicom, verify_image

__all__ = ["ContentKeyed", "ImageFolder", "list_folder_images"]

_logger = logging.getLogger("sklearn_aift.app")


def list_folder_images(root: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS,
                       ignored: list | None = None) -> list[Path]:
    """Image files under ``root`` (nested folders included, hidden ones skipped), sorted.

    DICOM files count whatever their extension (``DICM`` at byte 128) when
    ``.dcm`` is among the extensions. Symbolic links that resolve outside
    ``root`` are left out with a warning: the server only ever serves files
    inside the folder it was given.

    Parameters
    ----------
    root : path-like
        The folder.
    extensions : sequence of str, default=IMAGE_EXTENSIONS
        File extensions (lower case, with the dot) that are images.
    ignored : list or None, default=None
        When given, the other files are appended to it.

    Returns
    -------
    paths : list of Path

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_aift.app import list_folder_images
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "a.jpg", "notes.txt", ".hidden.png"):
    ...     _ = (root / name).write_bytes(b"")
    >>> [p.name for p in list_folder_images(root)]
    ['a.jpg', 'b.png']
    """
    exts = tuple(e.lower() for e in extensions)
    inside = Path(root).resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(inside):
                _logger.warning("skipping %s: a link to %s, outside %s", path, path.resolve(),
                                inside)
                continue
            if path.suffix.lower() in exts or (".dcm" in exts and is_dicom(path)):
                found.append(path)
            elif ignored is not None:
                ignored.append(path)
    return sorted(found)


class ContentKeyed:
    """A candidate set whose keys are the content keys of its candidates.

    Indexing with an integer array gives another ``ContentKeyed``; an integer
    gives one candidate's patches. :func:`~sklearn_aift.candidates.candidate_keys`
    returns ``keys``, so the learner knows the candidates by their content.
    """

    def __init__(self, candidates: CandidateSet, keys: np.ndarray) -> None:
        self.update(candidates, keys)

    def update(self, candidates: CandidateSet, keys: np.ndarray) -> None:
        """Hold other candidates: the folder's pool is one object, rescanned in place.

        The learner keeps the pool it was last given and notices the new keys
        (see ``ActiveLearner.query``), so fine-tuning reads the files of the
        latest scan.
        """
        self.candidates = candidates
        self.keys = np.asarray(keys, dtype=object)

    @property
    def shape(self) -> tuple:
        return self.candidates.shape

    @property
    def dtype(self) -> np.dtype:
        return self.candidates.dtype

    @property
    def ndim(self) -> int:
        return self.candidates.ndim

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)):
            return self.candidates[index]
        index = np.asarray(index)
        return ContentKeyed(self.candidates[index], self.keys[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        pixels = self.candidates.materialize()
        return pixels if dtype is None else pixels.astype(dtype)

    def candidate_keys(self) -> np.ndarray:
        """The content keys (one per candidate)."""
        return self.keys

    def content_keys(self) -> np.ndarray:
        """The content keys (one per candidate)."""
        return self.keys


class ImageFolder:
    """The images of a folder, scanned into a content-keyed pool.

    Parameters
    ----------
    root : Path
        The folder (resolved).
    protocol : patch protocol
        A deterministic whole-image protocol making each image's patches.
    """

    def __init__(self, root: Path, protocol: Any) -> None:
        self.root = root
        self.protocol = protocol
        self.pool: ContentKeyed | None = None
        self.files: dict[str, Path] = {}  # id -> its file (the latest scan's when present)
        self.present: set[str] = set()  # ids of the latest scan
        self.ids_by_file: dict[str, str] = {}  # relative file -> id (copies included)
        self._skipped: set[Path] = set()  # files skipped and said so

    def scan(self) -> ContentKeyed:
        """Scan the folder into the pool (updated in place); earlier images stay servable.

        Returns
        -------
        pool : ContentKeyed

        Raises
        ------
        ValueError
            If the folder holds no readable image.
        """
        ignored: list[Path] = []
        paths, first, readable = [], {}, []
        for path in list_folder_images(self.root, ignored=ignored):
            digest = self.digest(path)
            if digest is None:
                continue
            readable.append((path, digest))
            if digest in first:
                self._warn_once(path, "%s holds the same image as %s: labeled once, as %s",
                                path, first[digest], first[digest])
                continue
            first[digest] = path
            paths.append(path)
        for path in ignored:
            self._warn_once(path, "skipping %s: not an image extension %s", path,
                            IMAGE_EXTENSIONS)
        if not paths:
            raise ValueError(f"images_dir {str(self.root)!r} holds no images with extensions "
                             f"{IMAGE_EXTENSIONS}.")
        candidates = CandidateSet([str(p) for p in paths], self.protocol, image_mode="RGB")
        ids = np.asarray(candidates.content_keys(), dtype=object)
        id_of = dict(zip(first, ids.tolist()))
        if self.pool is None:
            self.pool = ContentKeyed(candidates, ids)
        else:
            self.pool.update(candidates, ids)
        self.files.update(zip(ids.tolist(), paths))
        self.present = set(ids.tolist())
        self.ids_by_file = {self.relative(path): id_of[d] for path, d in readable}
        _logger.info("scanned %s: %d images", self.root, len(paths))
        return self.pool

    def _warn_once(self, path: Path, message: str, *args: Any) -> None:
        if path not in self._skipped:
            _logger.warning(message, *args)
            self._skipped.add(path)

    def digest(self, path: Path, warn: bool = True) -> str | None:
        """A file's content digest (decoded once per path, size and mtime); None if unreadable."""
        try:
            return verify_image(path)
        except UnreadableImageError as exc:
            if warn:
                self._warn_once(path, "skipping %s", exc)
            return None

    def available(self, candidate_id: str) -> bool:
        """Whether a candidate's image is in the folder and decodes (a stat when unchanged)."""
        path = self.files.get(candidate_id)
        return (candidate_id in self.present and path is not None
                and self.digest(path, warn=False) is not None)

    def relative(self, path: Path) -> str:
        """``path`` relative to the folder, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def file_of(self, candidate_id: str, fallback: str) -> str:
        """Where a candidate's image is now, else ``fallback`` (where it was)."""
        if candidate_id in self.present:
            return self.relative(self.files[candidate_id])
        return fallback
