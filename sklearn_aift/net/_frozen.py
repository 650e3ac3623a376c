"""An AIFTNet's frozen prefix seen from outside: its fingerprint and its activations.

A study whose runs all start from the same pretrained network computes the
frozen blocks' outputs once and gives every run a cache holding them
(:mod:`sklearn_aift.experiment`); these two functions are what it needs of
the network.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..candidates import candidate_keys
from ._cache import ActivationCache
from ._module import frozen_activations

__all__ = ["cache_frozen_activations", "frozen_fingerprint"]


def frozen_fingerprint(estimator: Any) -> str | None:
    """The fingerprint of the frozen prefix of the estimator's current network.

    Parameters
    ----------
    estimator : AIFTNet
        The network (fitted, or M0 before any fit).

    Returns
    -------
    fingerprint : str or None
        What the activation cache files the prefix's outputs under (see
        :class:`ActivationCache`); None when no block is frozen.

    Examples
    --------
    >>> from sklearn_aift import AIFTNet
    >>> from sklearn_aift.net import frozen_fingerprint
    >>> params = dict(backbone="mobilenet_v3_small", weights=None, input_size=32, random_state=0)
    >>> len(frozen_fingerprint(AIFTNet(**params, freeze=2))), frozen_fingerprint(
    ...     AIFTNet(**params, freeze=0))
    (32, None)
    """
    device = estimator._device()
    module = estimator._inference_module(device)
    return module.fingerprint(device) if module.n_frozen else None


def cache_frozen_activations(estimator: Any, X: Any, cache: ActivationCache,
                             keys: Any = None) -> None:
    """Store in ``cache`` the frozen-prefix activations of the candidates it lacks.

    Parameters
    ----------
    estimator : AIFTNet
        The network, with frozen blocks (see :func:`frozen_fingerprint`).
    X : candidate array or CandidateSet
        Validated candidates.
    cache : ActivationCache
        Where the activations go, under the prefix's fingerprint.
    keys : array-like of str, default=None
        The candidates' keys when already known; computed otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift import AIFTNet
    >>> from sklearn_aift.net import ActivationCache, cache_frozen_activations
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, freeze=2,
    ...               random_state=0)
    >>> cache = ActivationCache(max_bytes=None)
    >>> X = np.random.default_rng(0).integers(0, 256, (3, 2, 3, 32, 32), dtype=np.uint8)
    >>> cache_frozen_activations(net, X, cache)
    >>> cache.misses  # the three candidates were computed and stored
    3
    """
    device = estimator._device()
    module = estimator._inference_module(device)
    keys = candidate_keys(X) if keys is None else np.asarray(keys)
    frozen_activations(module, X, np.arange(len(X)), keys, cache, device,
                       int(estimator.batch_size))
