"""When to stop covering the pool and start asking about disagreement.

With few labels the network's disagreement is not yet evidence: its decision
boundary still moves with every batch, and the candidates it is unsure about
are often atypical ones that teach little about the bulk of the data (the
low-budget regime of Hacohen et al., ICML 2022, where typical candidates beat
uncertain ones). Once the labels cover the pool's structure, disagreement
pays (the high-budget regime).

The evidence used here is whether the labels already explain what the network
predicts: the *agreement* is the share of the unlabeled pool on which the
network's class equals the vote of the nearest labeled candidates in the
network's own feature space. While the two disagree, the network predicts
things that no label nearby supports, and part of the batch *covers* the pool
(the most typical candidate of each large cluster that holds no label, as
TypiClust does); as the agreement rises, a larger share goes to the AIFT
ranking, all of it from ``threshold`` on.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from ._cold_start import k_means
from ._density import typicality

#: Labeled neighbours whose vote the network is compared with.
N_VOTERS = 5


def neighbour_agreement(pool_features: np.ndarray, pool_classes: np.ndarray,
                        labeled_features: np.ndarray, labels: np.ndarray) -> float:
    """Share of the pool where the network's class equals its labeled neighbours' vote.

    Parameters
    ----------
    pool_features, labeled_features : ndarray of shape (n, d)
        Features of the unlabeled and the labeled candidates.
    pool_classes : ndarray of shape (n_pool,)
        The network's class of each unlabeled candidate.
    labels : ndarray of shape (n_labeled,)
        The labels of the labeled candidates.

    Returns
    -------
    agreement : float
        In [0, 1]; 0 when nothing is labeled.
    """
    if len(labels) == 0 or len(pool_classes) == 0:
        return 0.0
    voters = KNeighborsClassifier(n_neighbors=min(N_VOTERS, len(labels)))
    vote = voters.fit(labeled_features, labels).predict(pool_features)
    return float(np.mean(vote == pool_classes))


def disagreement_share(agreement: float, n_classes: int, threshold: float) -> float:
    """Share of the batch given to the disagreement ranking.

    0 at chance agreement (``1 / n_classes``) or below, 1 from ``threshold``
    on, linear between.
    """
    chance = 1.0 / max(int(n_classes), 2)
    if threshold <= chance:
        return 1.0
    return float(np.clip((agreement - chance) / (threshold - chance), 0.0, 1.0))


def uncovered_typical(pool_features: np.ndarray, labeled_features: np.ndarray, n: int,
                      rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the pool that cover it where the labels do not: TypiClust's choice.

    As TypiClust (Hacohen et al., ICML 2022) does: the pool and the labeled
    candidates are clustered together into ``n_labeled + n`` k-means
    clusters on the features as they are; from the largest clusters that
    hold no labeled candidate, in turn, the most typical member is taken
    (the one with the smallest mean distance to its 20 nearest neighbours
    within its cluster). Clusters run out before ``n`` only on tiny pools;
    the remaining picks then come from the most typical candidates of the
    whole pool.

    Parameters
    ----------
    pool_features : ndarray of shape (n_pool, d)
    labeled_features : ndarray of shape (n_labeled, d)
    n : int
        Rows to return (at most ``n_pool``).
    rng : RandomState
        Seeds k-means.

    Returns
    -------
    rows : ndarray of int
        Distinct rows of ``pool_features``, most useful first.
    shares : ndarray of float
        The share of the pool that each row's cluster holds, aligned with
        ``rows``.
    """
    n_pool = len(pool_features)
    n = min(int(n), n_pool)
    if n <= 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    features = np.concatenate([pool_features, labeled_features]).astype(np.float64)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    k = min(len(labeled_features) + n, len(features))
    assignment = k_means(len(features), k, seed).fit_predict(features)
    covered = set(assignment[n_pool:].tolist())
    sizes = np.bincount(assignment[:n_pool], minlength=k)
    rows: list[int] = []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(assignment[:n_pool] == cluster)
        if cluster in covered or not len(members):
            continue
        rows.append(int(members[np.argmax(typicality(features[members]))]))
        if len(rows) == n:
            break
    if len(rows) < n:
        taken = set(rows)
        typical = typicality(features[:n_pool])
        rest = [r for r in np.argsort(-typical, kind="stable") if r not in taken]
        rows.extend(int(r) for r in rest[: n - len(rows)])
    rows = np.asarray(rows, dtype=np.intp)
    return rows, sizes[assignment[rows]] / n_pool
