"""Batch-aware selection: which b of the best-ranked candidates to ask about together.

The paper takes the top b candidates by score. When candidates come from
consecutive video frames, the top b are near-duplicates and a round teaches
one thing b times. Two alternatives draw the batch from a shortlist of the
``omega * b`` best candidates instead:

* ``"randomized"``: ACFT's randomised selection (Zhou et al., MedIA 2021):
  b candidates drawn uniformly from the shortlist;
* ``"diverse"``: k-center greedy over the candidates' features: the best
  candidate first, then repeatedly the shortlisted candidate farthest from
  those already in the batch.

In both, the shortlist holds distinct candidates only: walking down the
ranking, a candidate with the same content as one already shortlisted is
skipped, and (``"diverse"``) so is one whose features lie closer than
``duplicate_tol`` times the median distance between the pool's candidates to
a shortlisted one (a near-copy).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

#: Batch selection modes of the AIFT strategies ("top" is the paper's).
BATCH_MODES = ("top", "randomized", "diverse")

# pairwise distances for the median are computed on at most this many candidates
_MEDIAN_SAMPLE = 500


def shortlist(order: np.ndarray, size: int, keys: np.ndarray,
              features: np.ndarray | None = None, tol: float = 0.0) -> np.ndarray:
    """The first ``size`` distinct entries of ``order`` (ranking positions).

    ``keys[i]`` identifies the content of position ``i``; with ``features``,
    a position closer than ``tol`` to a shortlisted one is a near-copy.
    """
    chosen: list[int] = []
    seen: set = set()
    for i in order:
        if keys[i] in seen:
            continue
        if features is not None and chosen and tol > 0:
            d = np.linalg.norm(features[chosen] - features[i], axis=1)
            if d.min() < tol:
                continue
        chosen.append(int(i))
        seen.add(keys[i])
        if len(chosen) == size:
            break
    return np.asarray(chosen, dtype=np.intp)


def median_distance(features: np.ndarray, rng: np.random.RandomState) -> float:
    """Median Euclidean distance between two candidates (on a sample of the pool)."""
    n = len(features)
    rows = np.arange(n) if n <= _MEDIAN_SAMPLE else rng.choice(n, _MEDIAN_SAMPLE, replace=False)
    F = features[rows]
    sq = np.sum(F ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * F @ F.T, 0.0)
    upper = d2[np.triu_indices(len(F), k=1)]
    return float(np.sqrt(np.median(upper))) if upper.size else 0.0


def k_center(features: np.ndarray, n: int) -> np.ndarray:
    """Greedy k-center: row 0 first, then the row farthest from those picked."""
    n = min(int(n), len(features))
    picked = [0]
    nearest = np.linalg.norm(features - features[0], axis=1)
    while len(picked) < n:
        nearest[picked] = -np.inf
        nxt = int(np.argmax(nearest))  # ties: the better-ranked row
        picked.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[nxt], axis=1))
    return np.asarray(picked, dtype=np.intp)


def select_batch(scores: np.ndarray, n: int, *, mode: str, omega: float, rng: Any,
                 keys: Callable[[np.ndarray], np.ndarray],
                 features: Callable[[], np.ndarray] | None = None,
                 duplicate_tol: float = 0.0) -> np.ndarray:
    """Positions (in ``scores``) of the batch, in the order they were chosen.

    ``keys(positions)`` gives the content keys of those positions;
    ``features()`` the features of every position (``"diverse"`` only).
    """
    order = np.argsort(-scores, kind="stable")
    if mode == "top":
        return order[:n]
    return _filled(_distinct_batch(scores, order, n, mode=mode, omega=omega, rng=rng, keys=keys,
                                   features=features, duplicate_tol=duplicate_tol), order, n)


def _filled(batch: np.ndarray, order: np.ndarray, n: int) -> np.ndarray:
    """``batch`` completed with the best-ranked others when too few distinct candidates remain."""
    if len(batch) >= min(n, len(order)):
        return batch
    rest = order[~np.isin(order, batch)][: n - len(batch)]
    return np.concatenate([batch, rest]).astype(np.intp)


def _distinct_batch(scores, order, n, *, mode, omega, rng, keys, features, duplicate_tol):
    size = max(n, int(math.ceil(omega * n)))
    if mode == "randomized":
        # content keys of a generous prefix of the ranking (duplicates are skipped)
        prefix = order[: min(len(order), 2 * size)]
        pool_keys = np.empty(len(scores), dtype=object)
        pool_keys[prefix] = keys(prefix)
        short = shortlist(prefix, size, pool_keys)
        if len(short) < min(size, len(order)) and len(prefix) < len(order):
            pool_keys[order] = keys(order)
            short = shortlist(order, size, pool_keys)
        drawn = rng.choice(len(short), size=min(n, len(short)), replace=False)
        return short[np.sort(drawn)]  # best-ranked first
    F = np.asarray(features(), dtype=np.float64)
    tol = duplicate_tol * median_distance(F, rng) if duplicate_tol > 0 else 0.0
    short = shortlist(order, size, keys(np.arange(len(scores))), F, tol)
    return short[k_center(F[short], n)]
