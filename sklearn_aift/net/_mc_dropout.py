"""Monte Carlo dropout: several stochastic forward passes of an AIFTNet's network."""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
import torch

from ..candidates import check_candidates
from ._module import forward_candidates, n_patches


def mc_dropout_proba(estimator: Any, X: Any, patch: Callable, n_samples: int = 20,
                     random_state: int = 0) -> np.ndarray:
    """Patch probabilities of ``n_samples`` forward passes with dropout left on.

    Used by :class:`~sklearn_aift.peers.BALDSampling`. Frozen-prefix
    activations come from the estimator's activation cache as in
    :meth:`AIFTNet.predict_patch_proba`.

    Parameters
    ----------
    estimator : AIFTNet
        The network (fitted, or M0 before any fit); it is not changed.
    X : candidate array or CandidateSet
        Candidates ``(n, m, C, H, W)`` or ``(n, C, H, W)``.
    patch : callable
        ``patch(module)`` returns a copy of the network whose dropout layers
        stay active in eval mode (baal's ``patch_module``).
    n_samples : int, default=20
        Forward passes.
    random_state : int, default=0
        Seeds the dropout masks.

    Returns
    -------
    P : ndarray of shape (n, m, K, n_samples)
        Patch probabilities of each pass.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift import AIFTNet
    >>> from sklearn_aift.net import mc_dropout_proba
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, random_state=0)
    >>> mc_dropout_proba(net, np.zeros((2, 3, 3, 32, 32), dtype=np.uint8), lambda m: m,
    ...                  n_samples=2).shape
    (2, 3, 2, 2)
    """
    X = check_candidates(X, allow_empty=True)
    device = estimator._device()
    module = patch(copy.deepcopy(estimator._inference_module(device)))
    n, m = len(X), n_patches(X)
    out: np.ndarray | None = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(random_state))
        for t in range(int(n_samples)):
            def collect(rows: np.ndarray, logits: torch.Tensor, t: int = t) -> None:
                nonlocal out
                proba = torch.softmax(logits.double(), dim=-1).cpu().numpy()
                if out is None:
                    out = np.empty((n, m, proba.shape[-1], int(n_samples)))
                out[rows, ..., t] = proba.reshape(len(rows), m, -1)

            if n:
                forward_candidates(module, X, device, int(estimator.batch_size),
                                   estimator._cache_for(module), collect)
    if out is None:
        return np.empty((0, m, 0, int(n_samples)))
    return out
