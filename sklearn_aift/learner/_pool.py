"""Candidate identity: which labeled candidates a pool holds, whatever its order or size.

Every candidate is known by its key (:func:`~sklearn_aift.candidates.candidate_keys`:
a :class:`~sklearn_aift.candidates.CandidateSet`'s own key, or the
:func:`~sklearn_aift.candidates.pixel_digest` of an array candidate), never by
its position, so any pool works on any call: the same pool, one shrunk with
``np.delete``, one grown with new candidates, or a new one.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..candidates import DuplicateReport, candidate_keys, materialize, pixel_digest
from ._labeled import LabeledSet

__all__ = ["PoolView", "identify"]


class PoolView:
    """A pool passed to one call, with the key of each of its candidates.

    Parameters
    ----------
    X_pool : candidate array or CandidateSet
        A validated pool.
    """

    def __init__(self, X_pool: Any) -> None:
        self.X = X_pool
        self.keys = candidate_keys(X_pool)
        self.own_keys = callable(getattr(X_pool, "candidate_keys", None))
        self._copies: np.ndarray | None = None
        self._unreadable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def copies(self) -> np.ndarray:
        """Which candidates repeat the content of an earlier one of the pool (computed once).

        Identical content is one candidate: only the first copy is ever queried.
        """
        if self._copies is None:
            content = getattr(self.X, "content_keys", None)
            report = DuplicateReport(content() if callable(content) else self.keys)
            copies = np.zeros(len(self), dtype=bool)
            for group in report.groups:
                copies[group[1:]] = True
            if report:  # one warning per message: shown once however many learners see it
                warnings.warn(f"X_pool: {report}; each content is queried once.", UserWarning,
                              stacklevel=4)
            self._copies = copies
        return self._copies

    def unreadable(self) -> np.ndarray:
        """Candidates whose source file cannot be read (a warning names them; found once)."""
        if self._unreadable is None:
            readable = getattr(self.X, "readable_mask", None)
            self._unreadable = (~readable() if callable(readable)
                                else np.zeros(len(self), dtype=bool))
        return self._unreadable

    def queryable_mask(self, labeled: LabeledSet) -> np.ndarray:
        """Candidates that may be queried: unlabeled, readable, the first of identical ones."""
        return ~(self.labeled_mask(labeled) | self.copies() | self.unreadable())

    def labeled_mask(self, labeled: LabeledSet) -> np.ndarray:
        """Which candidates of the pool are labeled (by key or by pixel digest)."""
        known = labeled.known()
        return np.fromiter((key in known for key in self.keys), dtype=bool, count=len(self))

    def labeled_positions(self, labeled: LabeledSet) -> np.ndarray:
        """Positions in this pool of the labeled candidates it holds, in the order taught."""
        first: dict[str, int] = {}
        for position, key in enumerate(self.keys):
            first.setdefault(key, position)
        found = []
        for key, digest in zip(labeled.keys, labeled.digests):
            position = first.get(key, first.get(digest))
            if position is not None:
                found.append(position)
        return np.asarray(found, dtype=np.intp)


def _query_aliases(query: dict[str, Any]) -> dict[str, str]:
    """Pixel digest -> key of the last query's candidates (for CandidateSet pools)."""
    if query.get("aliases") is None:
        pixels = materialize(query["X"], name="X_query")
        keys = query["pool"].keys[query["indices"]]
        query["aliases"] = {pixel_digest(px): key for px, key in zip(pixels, keys)}
    return query["aliases"]


def _check_indices(indices: Any, n: int, query: dict[str, Any] | None) -> np.ndarray:
    if query is None:
        raise ValueError(
            "indices refer to the pool of the last query, but this learner has not queried "
            "yet; call query(X_pool) first or teach without indices."
        )
    array = np.asarray(indices)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D array of pool indices; got {indices!r}.")
    if len(array) != n:
        raise ValueError(
            f"indices has {len(array)} entries but X holds {n} candidates; they must match."
        )
    n_pool = len(query["pool"])
    if array.size and (array.min() < 0 or array.max() >= n_pool):
        raise ValueError(
            f"indices {array.tolist()} do not fit the pool of the last query "
            f"({n_pool} candidates)."
        )
    return array.astype(np.intp)


def identify(
    X: Any,
    pixels: np.ndarray,
    labeled: LabeledSet,
    *,
    query: dict[str, Any] | None,
    indices: Any = None,
) -> tuple[list[str], list[str]]:
    """Keys and pixel digests of the candidates ``X`` (their materialised ``pixels``).

    ``indices``, when given, are positions in the pool of the last query. A
    plain array cut from a CandidateSet pool is recognised through the pixel
    digests of the last query's candidates; a candidate already labeled keeps
    the key it was labeled under.

    Raises
    ------
    ValueError
        If ``indices`` do not fit the last query's pool, or ``X`` is not the
        pool's candidates at ``indices``.
    """
    digests = [pixel_digest(px) for px in pixels]
    own = getattr(X, "candidate_keys", None)
    if indices is not None:
        indices = _check_indices(indices, len(pixels), query)
        pool = query["pool"]
        keys = [str(k) for k in pool.keys[indices]]
        given = None  # an array cut from a CandidateSet pool cannot be checked cheaply
        if callable(own) and pool.own_keys:
            given = [str(k) for k in candidate_keys(X)]
        elif not callable(own) and not pool.own_keys:
            given = digests
        if given is not None and given != keys:
            wrong = [int(i) for i, a, b in zip(indices, given, keys) if a != b]
            raise ValueError(
                f"X is not X_pool[indices] for the pool of the last query: the candidates at "
                f"pool positions {wrong[:5]} differ."
            )
    elif callable(own):
        keys = [str(k) for k in candidate_keys(X)]
    else:
        aliases: dict[str, str] = {}
        known = labeled.known()
        if query is not None and query["pool"].own_keys and not set(digests) <= known:
            aliases = _query_aliases(query)
        keys = [aliases.get(d, d) for d in digests]
    first_of: dict[str, str] = {}
    for j, (key, digest) in enumerate(zip(keys, digests)):
        position = labeled.find(key, digest)
        if position is not None:
            # identical pixels are one candidate: a copy is known from now on as the original
            labeled.alias(key, position)
            keys[j] = labeled.keys[position]
        else:
            keys[j] = first_of.setdefault(digest, key)  # copies within this batch: one candidate
    return keys, digests
