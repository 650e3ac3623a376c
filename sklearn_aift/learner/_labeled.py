"""The labeled set ``L`` and which of its candidates a pool holds, whatever its order or size.

:class:`LabeledSet` holds ``L`` in memory: candidates, labels, rounds and who
gave them. Every candidate is known by its key
(:func:`~sklearn_aift.candidates.candidate_keys`: a
:class:`~sklearn_aift.candidates.CandidateSet`'s own key, or the
:func:`~sklearn_aift.candidates.pixel_digest` of an array candidate), never by
its position, so any pool works on any call: the same pool, one shrunk with
``np.delete``, one grown with new candidates, or a new one. :class:`PoolView`
keys a pool once and tells its labeled candidates from the others;
:func:`identify` finds the keys of taught candidates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..candidates import DuplicateReport, candidate_keys, materialize, pixel_digest

__all__ = ["LabeledSet", "LastQuery", "PoolView", "identify"]


class LabeledSet:
    """The labeled candidates, in the order they were first taught.

    Each entry holds the candidate's key (its identity, see
    :func:`~sklearn_aift.candidates.candidate_keys`), the digest of its pixels,
    its pixels (None when the session reads them from the pool), its current
    label, the round of its latest label, who gave it and when. A candidate
    appears once; relabeling replaces its label.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.digests: list[str] = []
        self.labels: list[Any] = []
        self.rounds: list[int] = []
        self.annotators: list[str | None] = []
        self.times: list[str] = []
        self.pixels: list[np.ndarray] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, key: str, digest: str | None = None) -> int | None:
        """Position of the candidate known by ``key`` (or whose pixels have ``digest``)."""
        position = self._position.get(key)
        if position is None and digest is not None:
            position = self._position.get(digest)
        return position

    def alias(self, key: str, position: int) -> None:
        """Know ``key`` (another candidate with identical pixels) as the one at ``position``."""
        self._position.setdefault(key, position)

    def known(self) -> set[str]:
        """Every key and pixel digest of a labeled candidate."""
        return set(self._position)

    def add(
        self, key: str, digest: str, label: Any, round_: int, annotator: str | None, at: str,
        pixels: np.ndarray,
    ) -> None:
        """Append a new labeled candidate."""
        position = len(self.keys)
        self._position[key] = position
        self._position.setdefault(digest, position)
        self.keys.append(key)
        self.digests.append(digest)
        self.labels.append(label)
        self.rounds.append(int(round_))
        self.annotators.append(annotator)
        self.times.append(at)
        self.pixels.append(pixels)

    def relabel(
        self, position: int, label: Any, round_: int, annotator: str | None, at: str
    ) -> None:
        """Give the candidate at ``position`` a new label (in round ``round_``)."""
        self.labels[position] = label
        self.rounds[position] = int(round_)
        self.annotators[position] = annotator
        self.times[position] = at

    def remove(self, position: int) -> None:
        """Forget the candidate at ``position`` (its label was withdrawn)."""
        for column in (self.keys, self.digests, self.labels, self.rounds, self.annotators,
                       self.times, self.pixels):
            del column[position]
        self._position = {key: p - (p > position) for key, p in self._position.items()
                          if p != position}

    def check_like(self, pixels: np.ndarray) -> None:
        """Raise a ValueError unless ``pixels`` are candidates like the labeled ones."""
        first = next((p for p in self.pixels if p is not None), None)
        if first is None:
            return
        if pixels.dtype != first.dtype or pixels.shape[1:] != first.shape:
            raise ValueError(
                f"X holds candidates of shape {pixels.shape[1:]} and dtype {pixels.dtype}, but "
                f"the labeled set holds {first.shape} {first.dtype}; teach candidates like "
                f"those of the pool."
            )

    def changes(self, keys: list[str], labels: list[Any], *, strict: bool) -> list[int]:
        """Rows of a taught batch that add or change a label (repeats are dropped).

        Raises a ValueError when the batch gives one candidate two labels, or,
        with ``strict``, when it relabels a labeled candidate.
        """
        changes: list[int] = []
        in_batch: dict[str, int] = {}
        for j, (key, label) in enumerate(zip(keys, labels)):
            if key in in_batch:
                if labels[in_batch[key]] != label:
                    raise ValueError(
                        f"X holds candidate {key} twice, labeled {labels[in_batch[key]]!r} "
                        f"and {label!r}; give each candidate one label."
                    )
                continue
            in_batch[key] = j
            position = self.find(key)
            if position is not None and self.labels[position] == label:
                continue
            if position is not None and strict:
                raise ValueError(
                    f"candidate {key} is already labeled {self.labels[position]!r}; with "
                    f"strict=True it cannot be relabeled {label!r}."
                )
            changes.append(j)
        return changes

    def positions_after(self, round_: int) -> list[int]:
        """Positions of the candidates whose latest label came after round ``round_``."""
        return [p for p, r in enumerate(self.rounds) if r > round_]

    def stack(self, positions: Iterable[int]) -> np.ndarray:
        """The pixels of the candidates at ``positions``, stacked."""
        parts = [self.pixels[p] for p in positions]
        if any(part is None for part in parts):
            raise ValueError(
                "the session keeps no pixels of candidates read from files (keep_pixels=False); "
                "their pixels come from the pool passed to query()."
            )
        dtypes = {part.dtype for part in parts}
        if len(dtypes) > 1:
            raise ValueError(
                f"the labeled candidates mix pixel dtypes {sorted(map(str, dtypes))}; teach "
                f"candidates with the same dtype as the pool (uint8 or float)."
            )
        return np.stack(parts)

    def records(self) -> list[dict[str, Any]]:
        """One dict per labeled candidate (see ``ActiveLearner.labels_``)."""
        return [
            {"candidate_key": k, "label": y, "round": r, "annotator": a, "labeled_at": t}
            for k, y, r, a, t in zip(
                self.keys, self.labels, self.rounds, self.annotators, self.times
            )
        ]


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
            keys = np.asarray(content() if callable(content) else self.keys)
            copies = np.ones(len(self), dtype=bool)
            copies[np.unique(keys, return_index=True)[1]] = False
            if copies.any():  # one warning per message: shown once however many learners see it
                warnings.warn(f"X_pool: {DuplicateReport(keys)}; each content is queried once.",
                              UserWarning, stacklevel=4)
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


@dataclass
class LastQuery:
    """What the last :meth:`ActiveLearner.query` returned, kept to recognise taught candidates.

    Attributes
    ----------
    pool : PoolView
        The pool queried.
    indices : ndarray of int
        The positions chosen in it.
    scores : ndarray of float
        Their strategy scores.
    scoring_time : float
        Seconds the strategy ran.
    X : candidate array or CandidateSet
        ``pool.X[indices]``.
    """

    pool: PoolView
    indices: np.ndarray
    scores: np.ndarray
    scoring_time: float
    X: Any
    _aliases: dict[str, str] | None = None

    def aliases(self) -> dict[str, str]:
        """Pixel digest -> key of the queried candidates (for CandidateSet pools; computed once)."""
        if self._aliases is None:
            pixels = materialize(self.X, name="X_query")
            keys = self.pool.keys[self.indices]
            self._aliases = {pixel_digest(px): key for px, key in zip(pixels, keys)}
        return self._aliases


def _check_indices(indices: Any, n: int, query: LastQuery | None) -> np.ndarray:
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
    n_pool = len(query.pool)
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
    query: LastQuery | None,
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
        pool = query.pool
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
        if query is not None and query.pool.own_keys and not set(digests) <= known:
            aliases = query.aliases()
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
