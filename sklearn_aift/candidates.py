"""Candidate arrays: validation and batched materialisation.

A *candidate* is a bag of ``m`` patches of one image region. Every module that
takes candidates accepts either a NumPy array of shape ``(n, m, C, H, W)``
(``(n, C, H, W)`` meaning one patch per candidate) or a lazy array-like object
with ``.shape``, ``len()`` and integer-array indexing that returns the same
kind of object (such as :class:`CandidateSet`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import numbers
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from typing import Any, Iterator

import numpy as np
from PIL import Image

from .augment import AxisProtocol, BoxProtocol, FrameProtocol, _check_image

__all__ = [
    "CandidateSet",
    "KeyedCandidates",
    "candidate_keys",
    "concatenate_candidates",
    "pixel_digest",
    "check_candidates",
    "check_candidate_labels",
    "iter_candidate_batches",
    "materialize",
]


def _is_array_like(X: Any) -> bool:
    return hasattr(X, "shape") and hasattr(X, "__len__") and hasattr(X, "__getitem__")


def check_candidates(X: Any, *, name: str = "X", allow_empty: bool = False) -> Any:
    """Validate a candidate array or lazy candidate set without copying it.

    Parameters
    ----------
    X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or array-like
        The candidates. ``C`` must be 1 (grey) or 3 (RGB). NumPy arrays must be
        ``uint8`` in [0, 255] or floating point in [0, 1] and finite. Lazy
        objects need ``.shape``, ``len()`` and ``X[int_array]``; their pixel
        values are checked batch by batch when materialised.
    name : str, default="X"
        The argument name used in error messages.
    allow_empty : bool, default=False
        Whether zero candidates are accepted.

    Returns
    -------
    X : same object as given
        ``X`` itself, unchanged (never copied or coerced).

    Raises
    ------
    TypeError
        If ``X`` is not array-like or has an unsupported dtype.
    ValueError
        If the shape, channel count or pixel range is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import check_candidates
    >>> X = np.zeros((5, 4, 3, 32, 32), dtype=np.uint8)
    >>> check_candidates(X) is X
    True
    """
    if isinstance(X, (list, tuple)):
        raise TypeError(
            f"{name} must be a NumPy array or an array-like candidate set with .shape, "
            f"len() and integer-array indexing; got a {type(X).__name__}. "
            f"Convert it with numpy.asarray({name}) first."
        )
    if not _is_array_like(X):
        raise TypeError(
            f"{name} must be a NumPy array of shape (n, m, C, H, W) or (n, C, H, W), or a "
            f"CandidateSet; got {type(X).__name__}."
        )
    shape = tuple(X.shape)
    if len(shape) not in (4, 5):
        raise ValueError(
            f"{name} must have shape (n, m, C, H, W) or (n, C, H, W); got {len(shape)}-D "
            f"shape {shape}."
        )
    channels = shape[-3]
    if channels not in (1, 3):
        raise ValueError(
            f"{name} must have 1 (grey) or 3 (RGB) channels in axis -3; got {channels} "
            f"(shape {shape}). Channels come before height and width."
        )
    if not allow_empty and shape[0] == 0:
        raise ValueError(f"{name} is empty: it holds 0 candidates (shape {shape}).")
    if len(shape) == 5 and shape[1] == 0:
        raise ValueError(f"{name} has 0 patches per candidate (shape {shape}).")
    if isinstance(X, np.ndarray):
        check_pixel_values(X, name=name)
    return X


def check_pixel_values(X: np.ndarray, *, name: str = "X") -> None:
    """Check the dtype and value range of materialised pixels.

    Parameters
    ----------
    X : ndarray
        Pixels, ``uint8`` in [0, 255] or floating point in [0, 1].
    name : str, default="X"
        The argument name used in error messages.

    Raises
    ------
    TypeError
        If the dtype is neither ``uint8`` nor floating point.
    ValueError
        If a floating-point value is NaN, infinite or outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import check_pixel_values
    >>> check_pixel_values(np.full((1, 3, 8, 8), 0.5))
    """
    if X.dtype == np.uint8:
        return
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(
            f"{name} must hold uint8 pixels in [0, 255] or floats in [0, 1]; got dtype {X.dtype}."
        )
    if X.size == 0:
        return
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite pixel values.")
    low, high = float(X.min()), float(X.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} holds floats in [{low:g}, {high:g}]; float pixels must lie in [0, 1] "
            f"(pass uint8 for 0-255 images)."
        )


def check_candidate_labels(y: Any, n_candidates: int, *, name: str = "y") -> np.ndarray:
    """Validate candidate labels: one per candidate, 1-D, no missing values.

    Parameters
    ----------
    y : array-like of shape (n_candidates,)
        Candidate labels (numbers or strings).
    n_candidates : int
        The number of candidates the labels must match.
    name : str, default="y"
        The argument name used in error messages.

    Returns
    -------
    y : ndarray of shape (n_candidates,)
        The labels as a NumPy array (a view when ``y`` already is one).

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, its length differs from ``n_candidates`` or it holds
        NaN.

    Examples
    --------
    >>> from sklearn_aift.candidates import check_candidate_labels
    >>> check_candidate_labels([0, 1, 1], 3)
    array([0, 1, 1])
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per candidate); got shape {y.shape}.")
    if len(y) != n_candidates:
        raise ValueError(
            f"{name} has {len(y)} labels but there are {n_candidates} candidates; they must match."
        )
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"{name} contains NaN labels.")
    return y


def materialize(X: Any, indices: np.ndarray | None = None, *, name: str = "X") -> np.ndarray:
    """Return candidates as a 5-D NumPy array ``(n, m, C, H, W)``.

    Parameters
    ----------
    X : ndarray or array-like candidate set
        Validated candidates (see :func:`check_candidates`).
    indices : ndarray of int, default=None
        The candidates to materialise; all of them when None.
    name : str, default="X"
        The argument name used in error messages.

    Returns
    -------
    patches : ndarray of shape (n, m, C, H, W)
        The pixels, in their original dtype (``uint8`` stays ``uint8``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import materialize
    >>> materialize(np.zeros((2, 3, 8, 8), dtype=np.uint8)).shape
    (2, 1, 3, 8, 8)
    """
    batch = X if indices is None else X[np.asarray(indices, dtype=np.intp)]
    batch = np.asarray(batch)
    check_pixel_values(batch, name=name)
    if batch.ndim == 4:
        batch = batch[:, None]
    return batch


def iter_candidate_batches(
    X: Any, batch_size: int, *, name: str = "X"
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, patches)`` for consecutive batches of candidates.

    Only one batch is materialised at a time, so lazy candidate sets are never
    generated whole.

    Parameters
    ----------
    X : ndarray or array-like candidate set
        Validated candidates (see :func:`check_candidates`).
    batch_size : int
        Candidates per batch (at least 1).
    name : str, default="X"
        The argument name used in error messages.

    Yields
    ------
    start : int
        Index of the first candidate of the batch.
    patches : ndarray of shape (b, m, C, H, W)
        The batch, as returned by :func:`materialize`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import iter_candidate_batches
    >>> X = np.zeros((5, 2, 1, 8, 8), dtype=np.uint8)
    >>> [(start, b.shape[0]) for start, b in iter_candidate_batches(X, 2)]
    [(0, 2), (2, 2), (4, 1)]
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    n = len(X)
    for start in range(0, n, int(batch_size)):
        stop = min(start + int(batch_size), n)
        yield start, materialize(X, np.arange(start, stop), name=name)


# --------------------------------------------------------------------------- identity
def pixel_digest(patches: np.ndarray) -> str:
    """Return the BLAKE2b digest identifying one candidate's pixels.

    Parameters
    ----------
    patches : ndarray of shape (m, C, H, W) or (C, H, W)
        One candidate (a single patch is treated as ``m = 1``).

    Returns
    -------
    digest : str
        32 hexadecimal characters covering dtype, shape and bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import pixel_digest
    >>> a = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    >>> pixel_digest(a) == pixel_digest(a.copy()), pixel_digest(a) == pixel_digest(a + 1)
    (True, False)
    """
    patches = np.ascontiguousarray(patches)
    if patches.ndim == 3:
        patches = patches[None]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{patches.dtype.str}{patches.shape}".encode())
    h.update(memoryview(patches).cast("B"))
    return h.hexdigest()


# Digests of in-memory pools, computed once per array object: id(array) ->
# (weak reference, layout, sample digest, keys). The sample digest (a strided
# sample of the bytes) catches most in-place edits of a pool between calls.
_POOL_KEYS: dict[int, tuple] = {}
_POOL_KEYS_LOCK = threading.Lock()
_SAMPLE_BYTES = 1 << 16


def _layout(X: np.ndarray) -> tuple:
    return (X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str)


def _sample_digest(X: np.ndarray) -> str:
    flat = X.reshape(-1) if X.flags.c_contiguous else np.ascontiguousarray(X).reshape(-1)
    step = max(1, flat.size // _SAMPLE_BYTES)
    return hashlib.blake2b(np.ascontiguousarray(flat[::step]).tobytes(), digest_size=16).hexdigest()


def _forget(array_id: int) -> None:
    with _POOL_KEYS_LOCK:
        _POOL_KEYS.pop(array_id, None)


def _array_keys(X: np.ndarray) -> np.ndarray:
    entry = _POOL_KEYS.get(id(X))
    layout = _layout(X)
    if entry is not None and entry[0]() is X and entry[1] == layout:
        if entry[2] == _sample_digest(X):
            return entry[3]
    keys = np.empty(len(X), dtype=object)
    for i in range(len(X)):
        keys[i] = pixel_digest(X[i])
    keys.flags.writeable = False
    try:
        ref = weakref.ref(X, lambda _, i=id(X): _forget(i))
    except TypeError:  # pragma: no cover - ndarray subclasses without weakref support
        return keys
    with _POOL_KEYS_LOCK:
        _POOL_KEYS[id(X)] = (ref, layout, _sample_digest(X), keys)
    return keys


class KeyedCandidates:
    """Candidates whose keys are already known: an array plus one key per candidate.

    Code that has identified its candidates (the learner's labeled set) passes
    them this way, so that the network does not digest the same pixels again
    at every fit. Indexing returns another ``KeyedCandidates``;
    :func:`candidate_keys` returns ``keys``.

    Parameters
    ----------
    X : ndarray of shape (n, m, C, H, W) or (n, C, H, W)
        The candidates.
    keys : sequence of str of length n
        Their keys (as :func:`candidate_keys` of the pool they come from).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import KeyedCandidates, candidate_keys
    >>> X = KeyedCandidates(np.zeros((3, 2, 1, 4, 4), dtype=np.uint8), ["a", "b", "c"])
    >>> X.shape, list(candidate_keys(X[np.array([2, 0])]))
    ((3, 2, 1, 4, 4), ['c', 'a'])
    """

    def __init__(self, X: np.ndarray, keys: Any):
        self.X = np.asarray(X)
        self.keys = np.asarray(keys, dtype=object)
        if len(self.keys) != len(self.X):
            raise ValueError(f"keys has {len(self.keys)} entries for {len(self.X)} candidates.")

    @property
    def shape(self) -> tuple:
        return self.X.shape

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def ndim(self) -> int:
        return self.X.ndim

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, numbers.Integral):
            return self.X[index]  # one candidate's pixels, as an array would give
        index = np.asarray(index) if not isinstance(index, slice) else index
        return KeyedCandidates(self.X[index], self.keys[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.X if dtype is None else self.X.astype(dtype)

    def candidate_keys(self) -> np.ndarray:
        """The keys given at construction.

        Returns
        -------
        keys : ndarray of object of shape (n,)
        """
        return self.keys


def candidate_keys(X: Any) -> np.ndarray:
    """Stable string keys identifying every candidate of a pool by its content.

    A :class:`CandidateSet` gives its own keys (image identity, region,
    protocol and seed: no pixels are generated). Other inputs are identified by
    the :func:`pixel_digest` of each candidate. For a NumPy array the digests
    are computed once and remembered for as long as that array object lives,
    so passing the same pool again costs nothing; a pool whose pixels are
    edited in place between calls is detected by a sample of its bytes, so
    pass a new array rather than editing a pool in place.

    Parameters
    ----------
    X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or candidate set
        Validated candidates (see :func:`check_candidates`).

    Returns
    -------
    keys : ndarray of str of shape (n,), dtype object
        One key per candidate; equal keys mean equal candidates. Read-only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.candidates import candidate_keys
    >>> X = np.zeros((3, 2, 1, 4, 4), dtype=np.uint8)
    >>> X[2] += 1
    >>> keys = candidate_keys(X)
    >>> bool(keys[0] == keys[1]), bool(keys[0] == keys[2]), candidate_keys(X) is keys
    (True, False, True)
    """
    own = getattr(X, "candidate_keys", None)
    if callable(own):
        keys = np.asarray(own(), dtype=object)
        if len(keys) != len(X):
            raise ValueError(
                f"X.candidate_keys() returned {len(keys)} keys for {len(X)} candidates."
            )
        return keys
    if isinstance(X, np.ndarray):
        return _array_keys(X)
    keys = np.empty(len(X), dtype=object)
    for start, batch in iter_candidate_batches(X, 64):
        for j, patches in enumerate(batch):
            keys[start + j] = pixel_digest(patches)
    return keys


# --------------------------------------------------------------------------- CandidateSet
_KEY_VERSION = "v1"
_CACHE_VERSION = 1


def _resolve_seed(random_state: Any) -> int:
    """An int seed from None, an int, a Generator or a RandomState."""
    if isinstance(random_state, bool):
        raise TypeError(
            f"random_state must be None, an int or a random generator; got {random_state!r}."
        )
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state}.")
        return int(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2**63))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator or a RandomState; got "
        f"{random_state!r}."
    )


def _default_protocol(regions: np.ndarray | None) -> Any:
    if regions is None:
        return FrameProtocol()
    if regions.shape[1] == BoxProtocol.region_size:
        return BoxProtocol()
    if regions.shape[1] == AxisProtocol.region_size:
        return AxisProtocol()
    raise ValueError(
        f"cannot infer a protocol for regions with {regions.shape[1]} values per candidate; "
        f"pass protocol= explicitly."
    )


def _protocol_key(protocol: Any) -> str:
    params = sorted(protocol.get_params(deep=False).items())
    return f"{type(protocol).__name__}{params!r}"


class _ImageSource:
    """The source images of a pool: an in-memory stack, a list of arrays or files."""

    def __init__(self, images: Any, image_mode: str | None):
        if isinstance(images, np.ndarray):
            self._init_stack(images)
        elif isinstance(images, (list, tuple)):
            self._init_list(list(images), image_mode)
        else:
            raise TypeError(
                "images must be a uint8 array of shape (N, H, W) or (N, H, W, C), or a list "
                f"of such images or of image file paths; got {type(images).__name__}."
            )
        self._lru: OrderedDict = OrderedDict()
        self._digests: list | None = None

    # ---- construction
    def _init_stack(self, images: np.ndarray) -> None:
        if images.dtype != np.uint8:
            raise TypeError(f"images must hold uint8 pixels; got dtype {images.dtype}.")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            hint = ""
            if images.ndim == 4 and images.shape[1] in (1, 3):
                hint = " Source images are channels-last: use images.transpose(0, 2, 3, 1)."
            raise ValueError(
                f"images must have shape (N, H, W) or (N, H, W, C) with C in (1, 3); got "
                f"{images.shape}.{hint}"
            )
        if len(images) == 0:
            raise ValueError("images is empty: no source images given.")
        self.kind = "array"
        self.items = images
        self.n_channels = int(images.shape[-1])
        self.mode = None

    def _init_list(self, items: list, image_mode: str | None) -> None:
        if not items:
            raise ValueError("images is empty: no source images given.")
        if all(isinstance(it, (str, os.PathLike)) for it in items):
            mode = "RGB" if image_mode is None else image_mode
            if mode not in ("RGB", "L"):
                raise ValueError(f"image_mode must be 'RGB' or 'L'; got {image_mode!r}.")
            self.kind = "files"
            self.items = [os.fspath(it) for it in items]
            self.n_channels = 3 if mode == "RGB" else 1
            self.mode = mode
            return
        arrays = []
        for i, it in enumerate(items):
            if isinstance(it, (str, os.PathLike)):
                raise TypeError("images mixes file paths and arrays; give one kind only.")
            arrays.append(_check_image(it, name=f"images[{i}]"))
        channels = {a.shape[2] for a in arrays}
        if len(channels) != 1:
            raise ValueError(
                f"images mixes channel counts {sorted(channels)}; all must be grey (1) or all "
                f"RGB (3)."
            )
        self.kind = "list"
        self.items = arrays
        self.n_channels = channels.pop()
        self.mode = None

    def __len__(self) -> int:
        return len(self.items)

    # ---- access
    def get(self, index: int) -> np.ndarray:
        if self.kind != "files":
            return self.items[index]
        if index in self._lru:
            self._lru.move_to_end(index)
            return self._lru[index]
        image = self._read(self.items[index])
        self._lru[index] = image
        if len(self._lru) > 16:
            self._lru.popitem(last=False)
        return image

    def _read(self, path: str) -> np.ndarray:
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert(self.mode))
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot read source image {path!r}: {exc}") from exc
        return arr[:, :, None] if arr.ndim == 2 else arr

    def digest(self, index: int) -> str:
        """Content identity of one source (file: path, size, mtime; array: hash)."""
        if self._digests is None:
            self._digests = [None] * len(self.items)
        d = self._digests[index]
        if d is None:
            if self.kind == "files":
                path = os.path.abspath(self.items[index])
                try:
                    st = os.stat(path)
                    d = f"file:{path}:{st.st_size}:{st.st_mtime_ns}:{self.mode}"
                except OSError:
                    d = f"file:{path}:missing:{self.mode}"
            else:
                arr = np.ascontiguousarray(self.items[index])
                h = hashlib.blake2b(arr.data, digest_size=16)
                h.update(repr(arr.shape).encode())
                d = f"array:{h.hexdigest()}"
            self._digests[index] = d
        return d

    def describe(self) -> str:
        if self.kind == "files":
            return f"{len(self.items)} image files"
        return f"{len(self.items)} in-memory images"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_lru"] = OrderedDict()
        return state


class _Pool:
    """Everything a CandidateSet and its subsets share."""

    def __init__(self, source, image_index, regions, protocol, seed, cache_dir):
        self.source = source
        self.image_index = image_index
        self.regions = regions
        self.protocol = protocol
        self.seed = seed
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        m, c, h, w = protocol.output_shape(source.n_channels)
        self.patch_shape = (m, c, h, w)
        self.uses_random = bool(protocol.uses_random_state)
        self._keys: np.ndarray | None = None
        self._cache: tuple | None = None

    def __len__(self) -> int:
        return len(self.image_index)

    # ---- keys
    def keys(self) -> np.ndarray:
        if self._keys is None:
            proto = _protocol_key(self.protocol)
            keys = np.empty(len(self), dtype=object)
            for row in range(len(self)):
                h = hashlib.blake2b(digest_size=16)
                h.update(_KEY_VERSION.encode())
                h.update(self.source.digest(int(self.image_index[row])).encode())
                if self.regions is not None:
                    h.update(self.regions[row].tobytes())
                h.update(proto.encode())
                h.update(repr(self.patch_shape).encode())
                if self.uses_random:
                    h.update(f"seed:{self.seed}:{row}".encode())
                keys[row] = h.hexdigest()
            self._keys = keys
        return self._keys

    # ---- generation
    def rng(self, row: int) -> np.random.Generator | None:
        if not self.uses_random:
            return None
        return np.random.default_rng([self.seed, int(row)])

    def generate_one(self, row: int) -> np.ndarray:
        image = self.source.get(int(self.image_index[row]))
        region = None if self.regions is None else self.regions[row]
        return self.protocol._generate(image, region, self.rng(row))

    def generate(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows),) + self.patch_shape, dtype=np.uint8)
        if len(rows) == 0:
            return out
        self.protocol._validate()
        cache = self._open_cache()
        todo = np.arange(len(rows))
        if cache is not None:
            patches, done = cache
            hit = done[rows]
            if hit.any():
                out[hit] = patches[rows[hit]]
            todo = np.flatnonzero(~hit)
        # visit candidates grouped by source image so each file is read once per batch
        order = todo[np.argsort(self.image_index[rows[todo]], kind="stable")]
        for i in order:
            out[i] = self.generate_one(rows[i])
        if cache is not None and len(todo):
            patches, done = cache
            new_rows = rows[todo]
            patches[new_rows] = out[todo]
            patches.flush()
            done[new_rows] = True
            done.flush()
        return out

    # ---- memmap cache
    def _fingerprint(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((len(self), self.patch_shape)).encode())
        for key in self.keys():
            h.update(key.encode())
        return h.hexdigest()

    def _open_cache(self):
        if self.cache_dir is None:
            return None
        if self._cache is not None:
            return self._cache
        folder = self.cache_dir
        os.makedirs(folder, exist_ok=True)
        meta_path = os.path.join(folder, "meta.json")
        patches_path = os.path.join(folder, "patches.npy")
        done_path = os.path.join(folder, "done.npy")
        fingerprint = self._fingerprint()
        shape = (len(self),) + self.patch_shape
        meta = None
        if os.path.exists(meta_path):
            try:
                with open(meta_path) as fh:
                    meta = json.load(fh)
            except (OSError, ValueError):
                meta = None
        reuse = (
            meta is not None
            and meta.get("version") == _CACHE_VERSION
            and meta.get("fingerprint") == fingerprint
            and os.path.exists(patches_path)
            and os.path.exists(done_path)
        )
        if reuse:
            patches = np.lib.format.open_memmap(patches_path, mode="r+")
            done = np.lib.format.open_memmap(done_path, mode="r+")
            if patches.shape != shape or done.shape != (len(self),):
                reuse = False
        if not reuse:
            if meta is not None:
                warnings.warn(
                    f"the patch cache in {folder!r} belongs to a different candidate set; "
                    f"it is rebuilt.",
                    stacklevel=4,
                )
            done = np.lib.format.open_memmap(
                done_path, mode="w+", dtype=np.bool_, shape=(len(self),)
            )
            patches = np.lib.format.open_memmap(
                patches_path, mode="w+", dtype=np.uint8, shape=shape
            )
            tmp = meta_path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(
                    {"version": _CACHE_VERSION, "fingerprint": fingerprint, "shape": shape}, fh
                )
            os.replace(tmp, meta_path)
        self._cache = (patches, done)
        return self._cache

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None  # memmaps are reopened on first use
        return state


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
        cache_dir: Any = None,
    ):
        source = _ImageSource(images, image_mode)
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
        pool = _Pool(source, index, regions_arr, protocol, _resolve_seed(random_state), cache_dir)
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
