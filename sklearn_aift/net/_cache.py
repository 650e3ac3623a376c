"""The activation cache: frozen-prefix outputs per candidate, in contiguous tables.

Frozen blocks of a network never change, so their outputs are computed once
per candidate and kept. Each distinct frozen part (its *fingerprint*) has its
own table: one contiguous block of rows ``(m, ...)``, one row per candidate,
found by the candidate's key. Gathering a whole pool is then one indexing
operation (a view when the pool is stored in order), not one lookup per
candidate. Tables live in memory, or in files of ``directory`` read through
short-lived memory maps, so that pools larger than RAM keep a flat resident
memory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import Any

import numpy as np
import torch

__all__ = ["ActivationCache"]

logger = logging.getLogger(__name__)


class _MemoryTable:
    """Rows of one shape in a tensor that grows by doubling."""

    def __init__(self, row_shape: tuple, dtype: torch.dtype):
        self.row_shape = row_shape
        self.dtype = dtype
        self.data = torch.empty((0, *row_shape), dtype=dtype)
        self.n_rows = 0

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape)) * torch.empty((), dtype=self.dtype).element_size()

    def append(self, values: torch.Tensor) -> np.ndarray:
        start, stop = self.n_rows, self.n_rows + len(values)
        if stop > len(self.data):
            grown = torch.empty((max(stop, 2 * len(self.data)), *self.row_shape), dtype=self.dtype)
            grown[:start] = self.data[:start]
            self.data = grown
        self.data[start:stop] = values
        self.n_rows = stop
        return np.arange(start, stop)

    def gather(self, rows: np.ndarray) -> torch.Tensor:
        if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
            return self.data[int(rows[0]) : int(rows[-1]) + 1]  # a view: no copy
        return self.data[torch.from_numpy(rows.astype(np.int64))]


class _DiskTable:
    """Rows of one shape appended to a file, read back through a temporary memory map."""

    def __init__(self, row_shape: tuple, dtype: torch.dtype, directory: str):
        self.row_shape = row_shape
        self.dtype = dtype
        self.np_dtype = torch.empty((), dtype=dtype).numpy().dtype
        fd, self.path = tempfile.mkstemp(prefix="activations-", suffix=".bin", dir=directory)
        os.close(fd)
        self.n_rows = 0

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape)) * self.np_dtype.itemsize

    def append(self, values: torch.Tensor) -> np.ndarray:
        with open(self.path, "ab") as fh:
            fh.write(np.ascontiguousarray(values.numpy(), dtype=self.np_dtype).tobytes())
        start = self.n_rows
        self.n_rows += len(values)
        return np.arange(start, self.n_rows)

    def gather(self, rows: np.ndarray) -> torch.Tensor:
        table = np.memmap(self.path, dtype=self.np_dtype, mode="r",
                          shape=(self.n_rows, *self.row_shape))
        try:
            out = np.array(table[rows])  # a copy, so the map can be closed
        finally:
            del table  # unmapping returns the pages: resident memory stays flat
        return torch.from_numpy(out)

    def remove(self) -> None:
        try:
            os.remove(self.path)
        except OSError:  # pragma: no cover - already gone
            pass


class ActivationCache:
    """Frozen-prefix activations per candidate, held in contiguous tables.

    Entries are identified by a *fingerprint* of the frozen part of a network
    (backbone, weights, number of frozen blocks, ``input_size``, mixed
    precision and the frozen parameter values) and a candidate *key*
    (:func:`sklearn_aift.candidates.candidate_keys`). Each fingerprint has a
    table of rows of shape ``(m, ...)``; a whole pool is gathered in one
    indexing step. Once ``max_bytes`` is reached new rows are no longer stored
    (they are computed again when needed): with a pool larger than the bound,
    evicting old rows would make every round miss, keeping the first ones does
    not.

    One instance can be shared by several :class:`AIFTNet` objects (pass it as
    ``activation_cache``): nets with the same frozen part then compute each
    candidate's activations once. Copies keep sharing: ``copy.deepcopy`` and
    :func:`sklearn.base.clone` return the same instance. Pickling keeps only
    the settings, not the entries (an unpickled cache starts empty), so
    pickled nets stay small.

    Parameters
    ----------
    max_bytes : int or None, default=2**30
        Upper bound on the stored bytes (1 GiB); None for no bound.
    directory : str, path-like or None, default=None
        Keep the tables in files of this existing folder (removed with the
        cache) instead of memory, for pools whose activations exceed RAM.
        Reads go through memory maps opened per call, so resident memory
        stays flat.

    Attributes
    ----------
    hits : int
        Candidate lookups that found their activations.
    misses : int
        Candidate lookups that found nothing.

    Examples
    --------
    >>> import copy, torch
    >>> from sklearn_aift.net import ActivationCache
    >>> cache = ActivationCache(max_bytes=1024)
    >>> cache.missing("fp", ["a", "b"])
    array([0, 1])
    >>> cache.store("fp", ["a", "b"], torch.zeros(2, 4, 8))
    True
    >>> cache.gather("fp", ["b", "a"]).shape, cache.nbytes, len(cache)
    (torch.Size([2, 4, 8]), 256, 2)
    >>> copy.deepcopy(cache) is cache
    True
    """

    def __init__(self, max_bytes: int | None = 2**30, directory: Any = None):
        self.max_bytes = max_bytes
        self.directory = directory
        self._lock = threading.RLock()
        self._index: dict[str, dict[Any, tuple[int, int]]] = {}
        self._tables: list = []
        self._owner: dict[str, list[int]] = {}  # fingerprint -> its table ids
        self._nbytes = 0
        self._full_logged = False
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored rows."""
        return self._nbytes

    def __len__(self) -> int:
        return sum(len(keys) for keys in self._index.values())

    def keys(self, fingerprint: str) -> set:
        """The candidate keys stored for ``fingerprint``.

        Parameters
        ----------
        fingerprint : str
            A frozen part's fingerprint.

        Returns
        -------
        keys : set
            Keys with stored activations.
        """
        return set(self._index.get(fingerprint, {}))

    def missing(self, fingerprint: str, keys: Any) -> np.ndarray:
        """Positions of ``keys`` without stored activations (counts hits and misses).

        Parameters
        ----------
        fingerprint : str
            A frozen part's fingerprint.
        keys : sequence of hashable
            Candidate keys.

        Returns
        -------
        positions : ndarray of int
            Indices into ``keys`` of the candidates to compute.
        """
        index = self._index.get(fingerprint, {})
        absent = np.array([k not in index for k in keys], dtype=bool)
        n_missing = int(absent.sum())
        with self._lock:
            self.misses += n_missing
            self.hits += len(absent) - n_missing
        return np.flatnonzero(absent)

    def store(self, fingerprint: str, keys: Any, values: torch.Tensor) -> bool:
        """Store the activations ``values[i]`` of candidate ``keys[i]``.

        Parameters
        ----------
        fingerprint : str
            The frozen part's fingerprint.
        keys : sequence of hashable
            One key per row of ``values``.
        values : torch.Tensor of shape (len(keys), m, ...)
            CPU activations.

        Returns
        -------
        stored : bool
            False when storing them would exceed ``max_bytes`` (nothing stored).
        """
        keys = list(keys)
        if len(keys) != len(values):
            raise ValueError(f"store got {len(keys)} keys for {len(values)} rows of values.")
        if not keys:
            return True
        values = values.detach().cpu()
        size = values.element_size() * values.nelement()
        with self._lock:
            if self.max_bytes is not None and self._nbytes + size > self.max_bytes:
                if not self._full_logged:
                    logger.warning(
                        "ActivationCache is full (max_bytes=%s): further activations are "
                        "computed when needed instead of stored.", self.max_bytes,
                    )
                    self._full_logged = True
                return False
            index = self._index.setdefault(fingerprint, {})
            table_id = self._table_for(fingerprint, tuple(values.shape[1:]), values.dtype)
            rows = self._tables[table_id].append(values)
            for key, row in zip(keys, rows):
                index[key] = (table_id, int(row))
            self._nbytes += size
        return True

    def _table_for(self, fingerprint: str, row_shape: tuple, dtype: torch.dtype) -> int:
        owned = self._owner.setdefault(fingerprint, [])
        for table_id in owned:
            table = self._tables[table_id]
            if table.row_shape == row_shape and table.dtype == dtype:
                return table_id
        if self.directory is None:
            table = _MemoryTable(row_shape, dtype)
        else:
            table = _DiskTable(row_shape, dtype, os.fspath(self.directory))
        self._tables.append(table)
        owned.append(len(self._tables) - 1)
        return len(self._tables) - 1

    def gather(self, fingerprint: str, keys: Any) -> torch.Tensor:
        """Stored activations of ``keys``, stacked: ``(len(keys), m, ...)``.

        Parameters
        ----------
        fingerprint : str
            The frozen part's fingerprint.
        keys : sequence of hashable
            Keys that are all stored (see :meth:`missing`).

        Returns
        -------
        activations : torch.Tensor
            A view of the table when the keys are stored contiguously in
            order, else a copy.

        Raises
        ------
        KeyError
            If a key has no stored activations.
        """
        index = self._index.get(fingerprint, {})
        with self._lock:
            located = [index[k] for k in keys]
            table_ids = {t for t, _ in located}
            if len(table_ids) != 1:
                raise KeyError(f"keys span {len(table_ids)} tables; gather them separately.")
            rows = np.fromiter((r for _, r in located), dtype=np.int64, count=len(located))
            return self._tables[table_ids.pop()].gather(rows)

    def clear(self) -> None:
        """Remove all entries (and their files) and reset the hit/miss counters."""
        with self._lock:
            for table in self._tables:
                if isinstance(table, _DiskTable):
                    table.remove()
            self._index.clear()
            self._tables = []
            self._owner = {}
            self._nbytes = 0
            self._full_logged = False
            self.hits = 0
            self.misses = 0

    def __del__(self) -> None:
        for table in getattr(self, "_tables", []):
            if isinstance(table, _DiskTable):
                table.remove()

    def __copy__(self) -> "ActivationCache":
        return self

    def __deepcopy__(self, memo: dict) -> "ActivationCache":
        return self

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes, "directory": self.directory}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __repr__(self) -> str:
        where = "" if self.directory is None else f", directory={os.fspath(self.directory)!r}"
        return (
            f"ActivationCache(max_bytes={self.max_bytes!r}{where}) with {len(self)} entries, "
            f"{self._nbytes} bytes"
        )
