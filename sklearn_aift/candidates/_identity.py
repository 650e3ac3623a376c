"""Candidate identity: stable keys for pools, digests of pixels computed once."""

from __future__ import annotations

import hashlib
import numbers
import threading
import weakref
from typing import Any

import numpy as np

from ._validation import iter_candidate_batches


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


