"""The cold start's representative batch: what to ask about before the model knows anything.

With zero labels, M0's last layer is untrained, so entropy and diversity over
its patch predictions reflect the random head, not the data: the first AIFT
batches then tend to hold one class and lose to random picks. Until the
labeled set holds a few candidates of every class, the strategies instead pick
a *representative* batch: the candidates nearest to the centres of a k-means
clustering of the pool in the network's own (pretrained) feature space, larger
clusters first. Such a batch covers the pool's main modes, as random picks do
on average, but without their bad draws. Whether a learner is still in its
cold start is the strategy context's to say
(:meth:`~sklearn_aift._strategy_context.StrategyContext.in_cold_start`).
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA

logger = logging.getLogger(__name__)

# k-means runs on at most this many principal components of the features.
_N_COMPONENTS = 32
# Above this many candidates, mini-batch k-means keeps a round fast.
_MINIBATCH_ABOVE = 20_000


def k_means(n: int, k: int, seed: int) -> KMeans | MiniBatchKMeans:
    """k-means for ``k`` clusters of ``n`` rows (mini-batch k-means on large pools)."""
    if n > _MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, n_init=3, random_state=seed, batch_size=4096)
    return KMeans(n_clusters=k, n_init=3, random_state=seed)


def representative_order(features: np.ndarray, n_instances: int,
                         rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Rows nearest to the centres of ``n_instances`` k-means clusters, larger first.

    Returns the chosen rows and, as their scores, the share of the pool their
    cluster holds. ``rng`` seeds the projection and k-means.
    """
    n = len(features)
    k = min(int(n_instances), n)
    if k == n:
        return np.arange(n), np.full(n, 1.0 / n)
    X = features - features.mean(axis=0)
    scale = X.std(axis=0)
    X = X / np.where(scale > 0, scale, 1.0)
    n_components = min(_N_COMPONENTS, X.shape[1], n)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    if n_components < X.shape[1]:
        X = PCA(n_components=n_components, random_state=seed).fit_transform(X)
    km = k_means(n, k, seed)
    assignment = km.fit_predict(X)
    distances = np.linalg.norm(X - km.cluster_centers_[assignment], axis=1)
    sizes = np.bincount(assignment, minlength=k)
    chosen, shares = [], []
    for cluster in np.argsort(-sizes, kind="stable"):
        members = np.flatnonzero(assignment == cluster)
        if len(members):
            chosen.append(members[np.argmin(distances[members])])
            shares.append(sizes[cluster] / n)
    return np.asarray(chosen, dtype=np.intp), np.asarray(shares, dtype=np.float64)
