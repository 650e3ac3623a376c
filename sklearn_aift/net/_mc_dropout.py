"""Monte Carlo dropout: several stochastic forward passes of an AIFTNet's network."""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
import torch

from ..candidates import check_candidates
from ._building import cache_for, inference_module
from ._inference import forward_candidates, n_patches


def mc_dropout_proba(estimator: Any, X: Any, patch: Callable, n_samples: int = 20,
                     random_state: int = 0) -> np.ndarray:
    """Patch probabilities of ``n_samples`` forward passes with dropout left on.

    ``patch(module)`` returns a copy of the network whose dropout layers stay
    active in eval mode (baal's ``patch_module``); the estimator's own network
    is not changed. Frozen-prefix activations come from the estimator's
    activation cache as in :meth:`AIFTNet.predict_patch_proba`.

    Returns an array of shape ``(n, m, K, n_samples)``.
    """
    X = check_candidates(X, allow_empty=True)
    device = estimator._device()
    module = patch(copy.deepcopy(inference_module(estimator, device)))
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
                                   cache_for(estimator, module), collect)
    if out is None:
        return np.empty((0, m, 0, int(n_samples)))
    return out
