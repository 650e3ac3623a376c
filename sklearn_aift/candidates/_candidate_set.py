"""CandidateSet: a lazy, indexable pool of candidates made from images."""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import Any, Iterator

import numpy as np

from ..utils import resolve_seed
from ._sources import _default_protocol, _ImageSource, _Pool
from ._validation import iter_candidate_batches, materialize


class CandidateSet:
    """A lazy, array-like set of candidates whose patches are made on demand.

    Each candidate is a region of a source image (a box, a whole frame or an
    axis point) turned into ``m`` patches by a patch protocol
    (:mod:`sklearn_aift.augment`). The set behaves like a read-only ``uint8``
    array of shape ``(n, m, C, P, P)``: ``len``, ``.shape``, integer, boolean
    and slice indexing (returning another lazy ``CandidateSet``),
    ``numpy.asarray`` and batch-wise materialisation; so it goes wherever a
    candidate array goes (``AIFTNet``, the strategies, the learner, scikit-learn
    cross-validation), and only the batches being used are ever generated.

    Patches are reproducible: a candidate's patches depend only on its source
    image, region, the protocol and, for protocols that draw random numbers,
    the seed ``(random_state, row)`` where ``row`` is the candidate's position
    in the set it was created as (kept by every subset).

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list
        The source images, channels-last ``uint8`` (C = 1 or 3): a stacked
        array, a list of arrays of any sizes, or a list of image file paths
        read on demand (then only a few decoded images are kept in memory).
    protocol : BoxProtocol, FrameProtocol, AxisProtocol or None, default=None
        How patches are made. None picks :class:`~sklearn_aift.augment.FrameProtocol`
        when ``regions`` is None, :class:`~sklearn_aift.augment.BoxProtocol` for
        4 values per region and :class:`~sklearn_aift.augment.AxisProtocol` for 3.
    regions : array-like of shape (n, r) or None, default=None
        One region per candidate in the protocol's format (boxes ``(x0, y0, x1,
        y1)``; axis points ``(cx, cy, angle)``); None for whole-image candidates.
    image_index : array-like of int of shape (n,) or None, default=None
        The source image of each candidate; None means candidate ``i`` comes
        from image ``i``.
    random_state : int, Generator, RandomState or None, default=0
        Seed of the random protocols. Anything but an int is turned into an int
        once, at construction, so the set stays reproducible for its lifetime.
    image_mode : {"RGB", "L"} or None, default=None
        Colour mode file images are converted to ("RGB" when None); ignored
        for arrays.
    window : tuple of (float, float) or None, default=None
        ``(center, width)`` of the file values mapped to ``[0, 255]`` (see
        :func:`sklearn_aift.io.read_image`); None: a DICOM file's own window,
        else each image's actual range (8-bit images unchanged). Ignored for
        arrays.
    cache_dir : str or path-like or None, default=None
        Folder of an on-disk patch cache (``numpy.memmap`` files
        ``patches.npy`` and ``done.npy`` plus ``meta.json``): patches are
        generated once and read back afterwards, for pools that do not fit in
        memory. A folder holding the cache of a different set is rebuilt with
        a warning. One writing process at a time.

    Attributes
    ----------
    shape : tuple of int
        ``(n, m, C, P, P)``.
    dtype : numpy.dtype
        Always ``uint8``.
    ndim : int
        Always 5.
    n_patches : int
        ``m``, the patches per candidate.
    protocol : object
        The patch protocol.
    seed : int
        The resolved seed.
    image_index : ndarray of shape (n,)
        Source image of each candidate of this (sub)set.
    regions : ndarray of shape (n, r) or None
        Region of each candidate of this (sub)set.
    rows : ndarray of shape (n,)
        Position of each candidate in the set it was created as.

    Raises
    ------
    TypeError, ValueError
        When an argument is malformed; the message names it.

    See Also
    --------
    sklearn_aift.augment.BoxProtocol : Patches around boxes (polyp detection).
    sklearn_aift.augment.FrameProtocol : Patches of whole frames.
    sklearn_aift.augment.AxisProtocol : Patches along an axis (PE detection).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.augment import BoxProtocol
    >>> from sklearn_aift.candidates import CandidateSet
    >>> images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    >>> boxes = [[10, 10, 30, 30], [20, 24, 44, 40], [5, 30, 25, 50]]
    >>> X = CandidateSet(images, BoxProtocol(patch_size=16), boxes, image_index=[0, 0, 1])
    >>> X.shape
    (3, 96, 3, 16, 16)
    >>> sub = X[[2, 0]]
    >>> sub.shape, sub.rows.tolist()
    ((2, 96, 3, 16, 16), [2, 0])
    >>> np.array_equal(np.asarray(sub)[1], np.asarray(X)[0])
    True
    """

    def __init__(
        self,
        images: Any,
        protocol: Any = None,
        regions: Any = None,
        image_index: Any = None,
        *,
        random_state: Any = 0,
        image_mode: str | None = None,
        window: Any = None,
        cache_dir: Any = None,
    ):
        source = _ImageSource(images, image_mode, window)
        regions_arr = None if regions is None else np.array(regions, dtype=np.float64)
        if regions_arr is not None:
            if regions_arr.ndim != 2 or len(regions_arr) == 0:
                raise ValueError(
                    f"regions must be a non-empty 2-D array (one row per candidate); got shape "
                    f"{regions_arr.shape}."
                )
            if not np.isfinite(regions_arr).all():
                raise ValueError("regions contains NaN or infinite values.")
        if protocol is None:
            protocol = _default_protocol(regions_arr)
        for attr in ("generate", "output_shape", "region_size", "uses_random_state"):
            if not hasattr(protocol, attr):
                raise TypeError(
                    "protocol must be a patch protocol such as BoxProtocol(), FrameProtocol() "
                    f"or AxisProtocol(); got {protocol!r} (no {attr!r})."
                )
        protocol = copy.deepcopy(
            protocol
        )  # the set owns its protocol: later edits cannot change it
        protocol._validate()
        n = len(source) if regions_arr is None else len(regions_arr)
        if image_index is None:
            if n != len(source):
                raise ValueError(
                    f"regions has {n} rows but there are {len(source)} images; pass image_index "
                    f"to say which image each region belongs to."
                )
            index = np.arange(n, dtype=np.intp)
        else:
            index = np.asarray(image_index)
            if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
                raise ValueError(f"image_index must be a 1-D integer array; got {image_index!r}.")
            index = index.astype(np.intp)
            if regions_arr is not None and len(index) != n:
                raise ValueError(
                    f"image_index has {len(index)} entries but regions has {n} rows; they must "
                    f"match."
                )
            if len(index) == 0:
                raise ValueError("image_index is empty: no candidates.")
            if index.min() < 0 or index.max() >= len(source):
                raise ValueError(
                    f"image_index values must lie in [0, {len(source)}) (there are {len(source)} "
                    f"images); got values in [{index.min()}, {index.max()}]."
                )
        self._check_regions(protocol, regions_arr)
        pool = _Pool(source, index, regions_arr, protocol, resolve_seed(random_state), cache_dir)
        self._pool = pool
        self._rows = np.arange(len(index), dtype=np.intp)

    @staticmethod
    def _check_regions(protocol: Any, regions: np.ndarray | None) -> None:
        size = protocol.region_size
        if size == 0:
            if regions is not None:
                raise ValueError(
                    f"{type(protocol).__name__} uses whole images; regions must be None, got an "
                    f"array of shape {regions.shape}."
                )
            return
        if regions is None:
            raise ValueError(
                f"{type(protocol).__name__} needs regions, {protocol.region_doc}, one per "
                f"candidate."
            )
        if regions.shape[1] != size:
            raise ValueError(
                f"regions must have {size} values per candidate for {type(protocol).__name__} "
                f"({protocol.region_doc}); got shape {regions.shape}."
            )
        if size == 4:
            bad = np.flatnonzero(
                ~((regions[:, 2] > regions[:, 0]) & (regions[:, 3] > regions[:, 1]))
            )
            if len(bad):
                raise ValueError(
                    f"regions must be boxes (x0, y0, x1, y1) with x0 < x1 and y0 < y1; row "
                    f"{bad[0]} is {regions[bad[0]].tolist()} ({len(bad)} bad rows)."
                )

    @classmethod
    def _from_rows(cls, pool: _Pool, rows: np.ndarray) -> "CandidateSet":
        new = cls.__new__(cls)
        new._pool = pool
        new._rows = rows
        return new

    # ---- array-like protocol
    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(n, m, C, P, P)``: candidates, patches, channels, patch height and width."""
        return (len(self._rows),) + self._pool.patch_shape

    @property
    def dtype(self) -> np.dtype:
        """Always ``uint8``."""
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        """Always 5."""
        return 5

    @property
    def n_patches(self) -> int:
        """Patches per candidate, ``m``."""
        return self._pool.patch_shape[0]

    @property
    def protocol(self) -> Any:
        """The patch protocol (a private copy of the one given)."""
        return self._pool.protocol

    @property
    def seed(self) -> int:
        """The int seed resolved from ``random_state``."""
        return self._pool.seed

    @property
    def rows(self) -> np.ndarray:
        """Position of each candidate in the set it was created as."""
        return self._rows.copy()

    @property
    def image_index(self) -> np.ndarray:
        """Source image of each candidate."""
        return self._pool.image_index[self._rows]

    @property
    def regions(self) -> np.ndarray | None:
        """Region of each candidate (None for whole-image candidates)."""
        regions = self._pool.regions
        return None if regions is None else regions[self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            # scikit-learn's _safe_indexing uses X[indices, ...]
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            elif len(key) == 1:
                key = key[0]
            else:
                raise IndexError(
                    "a CandidateSet is indexed along candidates only (X[indices]); materialise "
                    "it with numpy.asarray(X[indices]) to index patches or pixels."
                )
        n = len(self._rows)
        if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(
            key, (bool, np.bool_)
        ):
            if not -n <= key < n:
                raise IndexError(f"candidate index {key} is out of range for {n} candidates.")
            return self._pool.generate(self._rows[[int(key)]])[0]
        if isinstance(key, slice):
            return self._from_rows(self._pool, self._rows[key])
        if isinstance(key, CandidateSet):
            raise IndexError("a CandidateSet cannot index another CandidateSet.")
        idx = np.asarray(key)
        if idx.ndim != 1:
            raise IndexError(
                f"candidate indices must be 1-D (an int array, a boolean mask or a slice); got "
                f"shape {idx.shape}."
            )
        if idx.dtype == np.bool_:
            if len(idx) != n:
                raise IndexError(
                    f"boolean mask has length {len(idx)} but there are {n} candidates."
                )
            return self._from_rows(self._pool, self._rows[idx])
        if idx.size == 0:
            return self._from_rows(self._pool, self._rows[:0])
        if idx.dtype.kind not in "iu":
            raise IndexError(
                f"candidate indices must be integers or booleans; got dtype {idx.dtype}."
            )
        if idx.max() >= n or idx.min() < -n:
            bad = idx[(idx >= n) | (idx < -n)][0]
            raise IndexError(f"candidate index {bad} is out of range for {n} candidates.")
        return self._from_rows(self._pool, self._rows[idx])

    def __iter__(self) -> Iterator[np.ndarray]:
        for row in self._rows:
            yield self._pool.generate(np.array([row]))[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.materialize()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"CandidateSet(n={len(self)}, shape={self.shape}, protocol={self.protocol!r}, "
            f"sources={self._pool.source.describe()})"
        )

    # ---- materialisation
    def materialize(self, indices: Any = None) -> np.ndarray:
        """Generate patches as a ``uint8`` array.

        Parameters
        ----------
        indices : array-like of int or bool, or None, default=None
            Candidates to generate (positions in this set, or a boolean mask);
            all when None.

        Returns
        -------
        patches : ndarray of shape (len(indices), m, C, P, P), uint8
            Freshly generated (or read from the on-disk cache) patches.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> X = CandidateSet(np.zeros((3, 32, 32), dtype=np.uint8))
        >>> X.materialize([0, 2]).shape
        (2, 21, 1, 64, 64)
        """
        if indices is None:
            return self._pool.generate(self._rows)
        return self._pool.generate(self[np.atleast_1d(np.asarray(indices))]._rows)

    def iter_batches(self, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, patches)`` for consecutive batches of candidates.

        Parameters
        ----------
        batch_size : int
            Candidates per batch.

        Yields
        ------
        start : int
            Position of the batch's first candidate.
        patches : ndarray of shape (b, m, C, P, P), uint8

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> X = CandidateSet(np.zeros((5, 32, 32, 3), dtype=np.uint8))
        >>> [(start, b.shape[0]) for start, b in X.iter_batches(2)]
        [(0, 2), (2, 2), (4, 1)]
        """
        return iter_candidate_batches(self, batch_size)

    def candidate_keys(self) -> np.ndarray:
        """Stable string keys identifying each candidate's patch content.

        A key hashes the source image's identity (file path, size and
        modification time, or a hash of the pixels of in-memory images), the
        region, the protocol and its parameters, and, for random protocols, the
        seed ``(random_state, row)``. Equal keys mean equal patches, across
        subsets, copies and processes.

        Returns
        -------
        keys : ndarray of str of shape (n,), dtype object
            32-character hexadecimal BLAKE2b digests, one per candidate.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> images = np.stack([np.zeros((16, 16)), np.ones((16, 16))]).astype(np.uint8)
        >>> X = CandidateSet(images)
        >>> keys = X.candidate_keys()
        >>> len(keys), keys[0] != keys[1], X[[1]].candidate_keys()[0] == keys[1]
        (2, True, True)
        """
        return self._pool.keys()[self._rows]

    def content_keys(self) -> np.ndarray:
        """Keys of each candidate's content: equal for identical sources and regions.

        Unlike :meth:`candidate_keys`, a file source is known by its decoded
        content (each file decoded once per path, size and modification time,
        see :func:`sklearn_aift.io.verify_image`), not its path, and the seed
        of random protocols is left out: two files holding the same image give
        equal keys. :func:`find_duplicates` uses them.

        Returns
        -------
        keys : ndarray of str of shape (n,), dtype object

        Raises
        ------
        UnreadableImageError
            If a source file cannot be decoded.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> images = np.stack([np.zeros((16, 16)), np.zeros((16, 16))]).astype(np.uint8)
        >>> keys = CandidateSet(images).content_keys()
        >>> bool(keys[0] == keys[1])
        True
        """
        return self._pool.content_keys()[self._rows]

    def readable_mask(self) -> np.ndarray:
        """Which candidates' source images can be decoded; warns naming the others.

        Every source file is decoded in full once (remembered by path, size and
        modification time, see :func:`sklearn_aift.io.verify_image`), so a
        truncated file whose header is intact is found here rather than when
        its patches are made. In-memory sources are always readable.

        Returns
        -------
        mask : ndarray of bool of shape (n,)
            False for the candidates whose source file cannot be read.

        Warns
        -----
        UserWarning
            Naming the unreadable files, when there are any.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> CandidateSet(np.zeros((2, 16, 16), np.uint8)).readable_mask().tolist()
        [True, True]
        """
        bad = self._pool.source.unreadable()
        mask = ~np.isin(self.image_index, bad)
        if not mask.all():
            files = [self._pool.source.items[i] for i in np.unique(self.image_index[~mask])]
            shown = ", ".join(files[:20]) + (f" and {len(files) - 20} more" if len(files) > 20
                                              else "")
            warnings.warn(
                f"{int((~mask).sum())} candidate(s) come from {len(files)} image file(s) that "
                f"cannot be read and are skipped: {shown}",
                UserWarning,
                stacklevel=2,
            )
        return mask

    def cache_info(self) -> dict:
        """State of the on-disk cache.

        Returns
        -------
        info : dict
            ``{"cache_dir": path or None, "cached": candidates of this set already
            stored, "n": len(self)}``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift.candidates import CandidateSet
        >>> CandidateSet(np.zeros((2, 8, 8), dtype=np.uint8)).cache_info()
        {'cache_dir': None, 'cached': 0, 'n': 2}
        """
        cache = self._pool._open_cache()
        cached = 0 if cache is None else int(cache[1][self._rows].sum())
        return {"cache_dir": self._pool.cache_dir, "cached": cached, "n": len(self)}


def concatenate_candidates(sets: Any) -> Any:
    """Join candidate sets along the candidate axis, lazily when possible.

    Parameters
    ----------
    sets : sequence of CandidateSet or ndarray
        Subsets of one ``CandidateSet`` (for example ``X[a]`` and ``X[b]``) are
        joined without generating anything; anything else is materialised and
        concatenated with NumPy.

    Returns
    -------
    joined : CandidateSet or ndarray of shape (sum n, m, C, P, P)
        A lazy set when every input is a subset of the same set, else an array.

    Raises
    ------
    ValueError
        If ``sets`` is empty or the patch shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import CandidateSet, concatenate_candidates
    >>> X = CandidateSet(np.zeros((4, 16, 16), dtype=np.uint8))
    >>> joined = concatenate_candidates([X[[0]], X[[3, 1]]])
    >>> type(joined).__name__, joined.rows.tolist()
    ('CandidateSet', [0, 3, 1])
    """
    sets = list(sets)
    if not sets:
        raise ValueError("sets is empty: nothing to concatenate.")
    if all(isinstance(s, CandidateSet) for s in sets) and all(
        s._pool is sets[0]._pool for s in sets
    ):
        rows = np.concatenate([s._rows for s in sets])
        return CandidateSet._from_rows(sets[0]._pool, rows)
    arrays = [materialize(s) for s in sets]
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"sets have different patch shapes {sorted(shapes)}; they must match.")
    return np.concatenate(arrays)

