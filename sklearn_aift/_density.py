"""Typicality: how representative a candidate is of the pool, for density-weighted selection.

With few labels, ranking by disagreement alone picks ambiguous and atypical
candidates (outliers, artefacts) that teach the network little about the
bulk of the data. Weighting the score by how typical a candidate is
(information density, Settles & Craven, EMNLP 2008; the typicality of
TypiClust, Hacohen et al., ICML 2022) prefers informative candidates from
dense regions of the feature space.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

#: Neighbours the typicality is measured over (TypiClust's k).
N_NEIGHBORS = 20


def typicality(features: np.ndarray, n_neighbors: int = N_NEIGHBORS) -> np.ndarray:
    """Inverse mean distance to the ``n_neighbors`` nearest other candidates, max 1.

    Rows are candidates. A pool of one candidate (or of identical ones) is
    uniformly typical (all ones).
    """
    X = np.asarray(features, dtype=np.float64)
    n = len(X)
    k = min(int(n_neighbors), n - 1)
    if k < 1:
        return np.ones(n)
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    mean = distances[:, 1:].mean(axis=1)
    if not np.any(mean > 0):
        return np.ones(n)
    floor = mean[mean > 0].min()
    typical = 1.0 / np.maximum(mean, floor)
    return typical / typical.max()
