"""Running the network over candidates: frozen-prefix activations and the rest.

With an activation cache, a pool is processed in chunks of a few thousand
patches: the frozen prefix runs only for candidates the cache lacks, then the
trainable rest of the network runs once per chunk on the gathered
activations. Without one, every batch of patches goes through the whole
network.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torchvision
from tqdm.auto import tqdm

from ..candidates import candidate_keys, materialize
from ._cache import ActivationCache
from ._module import _GLOBAL_POOL_FAMILIES, _AIFTModule, cached_input

# Patches per forward pass over cached activations: large batches amortise the
# per-call cost; 4096 rows of MobileNetV2's 1280 features are 21 MB.
CHUNK_PATCHES = 4096
# Families whose trainable rest never writes into its input in place, so that
# cached activations can be passed without a copy.
_NO_INPLACE_ON_INPUT = _GLOBAL_POOL_FAMILIES + (torchvision.models.AlexNet, torchvision.models.VGG)


def n_patches(X: Any) -> int:
    return X.shape[1] if len(X.shape) == 5 else 1


def _as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.require(pixels, requirements=["C", "W"]))


def frozen_activations(
    module: _AIFTModule,
    X: Any,
    rows: np.ndarray,
    keys: np.ndarray,
    cache: ActivationCache,
    device: torch.device,
    batch_size: int,
    fingerprint: str | None = None,
) -> torch.Tensor:
    """Cached activations ``(len(rows), m, ...)`` of candidates ``X[rows]``.

    Candidates the cache lacks go through the frozen prefix in batches of
    about ``batch_size`` patches and are stored; when the cache is full they
    are kept for this call only. ``fingerprint`` is the module's (computed
    here when None; a caller looping over chunks computes it once).
    """
    if fingerprint is None:
        fingerprint = module.fingerprint(device)
    m = n_patches(X)
    missing = cache.missing(fingerprint, keys)
    unstored: dict[int, torch.Tensor] = {}
    per_batch = max(1, batch_size // m)
    was_training = module.training
    module.train(False)
    try:
        for start in range(0, len(missing), per_batch):
            pos = missing[start : start + per_batch]
            raw = materialize(X, rows[pos])
            pixels = _as_tensor(raw.reshape(len(pos) * m, *raw.shape[2:]))
            with torch.no_grad():
                out = module.prefix(pixels.to(device)).detach().cpu()
            out = out.reshape(len(pos), m, *out.shape[1:])
            if not cache.store(fingerprint, keys[pos], out):
                unstored.update(zip(pos.tolist(), out))
    finally:
        module.train(was_training)
    if not unstored:
        return cache.gather(fingerprint, keys)
    stored = np.setdiff1d(np.arange(len(keys)), list(unstored))
    first = next(iter(unstored.values()))
    acts = torch.empty((len(keys), *first.shape), dtype=first.dtype)
    if len(stored):
        acts[torch.from_numpy(stored)] = cache.gather(fingerprint, keys[stored])
    for pos, act in unstored.items():
        acts[pos] = act
    return acts


def forward_candidates(
    module: _AIFTModule,
    X: Any,
    device: torch.device,
    batch_size: int,
    cache: ActivationCache | None,
    collect: Callable[[np.ndarray, torch.Tensor], None],
    *,
    verbose: bool = False,
) -> None:
    """Run the network (in eval mode) over every candidate of ``X``.

    ``collect(rows, logits)`` receives the logits ``(len(rows) * m, K)`` of
    consecutive candidates ``rows``.
    """
    n, m = len(X), n_patches(X)
    module.train(False)  # skorch leaves the module in training mode after a fit
    with tqdm(total=n, desc="predict", unit="candidate", disable=not verbose) as bar:
        if cache is None:
            per_batch = max(1, batch_size // m)
            for start in range(0, n, per_batch):
                rows = np.arange(start, min(start + per_batch, n))
                raw = materialize(X, rows)
                inputs = _as_tensor(raw.reshape(len(rows) * m, *raw.shape[2:]))
                with torch.inference_mode():
                    collect(rows, module(inputs.to(device)))
                bar.update(len(rows))
            return
        keys = candidate_keys(X)
        copy_input = not isinstance(module.backbone, _NO_INPLACE_ON_INPUT)
        per_chunk = max(1, CHUNK_PATCHES // m)
        fingerprint = module.fingerprint(device)  # frozen weights do not change in a call
        for start in range(0, n, per_chunk):
            rows = np.arange(start, min(start + per_chunk, n))
            acts = frozen_activations(module, X, rows, keys[rows], cache, device, batch_size,
                                      fingerprint)
            acts = acts.reshape(len(rows) * m, *acts.shape[2:])
            if copy_input:
                acts = acts.clone()
            with torch.inference_mode(), cached_input(module):
                collect(rows, module(acts.to(device)))
            bar.update(len(rows))


def head_input_hook(module: _AIFTModule, store: list) -> Any:
    """Register a forward hook that appends the last layer's input to ``store``."""
    head = module.backbone.get_submodule(module.head_name)
    return head.register_forward_hook(lambda _m, args, _out: store.append(args[0].detach()))
