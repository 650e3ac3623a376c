"""Building AIFTNet's network and applying its settings: M0, freezing, input size, cache."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..backbones import build_backbone
from ..utils import derive_seed, resolve_seed
from ._cache import ActivationCache
from ._module import _AIFTModule


def new_seed_base(est) -> int:
    return resolve_seed(est.random_state)


def initial_signature(est, n_classes: int) -> tuple:
    rs = est.random_state if isinstance(est.random_state, (int, np.integer)) else None
    weights = os.fspath(est.weights) if isinstance(est.weights, os.PathLike) else est.weights
    return (est.backbone, weights, int(n_classes), rs)


def build_module(est, n_classes: int, seed_base: int, *, load_weights: bool = True):
    bb = build_backbone(
        est.backbone,
        est.weights,
        n_classes,
        random_state=derive_seed(seed_base, 0),
        progress=bool(est.verbose),
        load_weights=load_weights,
    )
    return _AIFTModule(bb, bb.native_size)


def input_size_for(est, module: _AIFTModule) -> tuple:
    size = est.input_size
    if size is None:
        size = module.native_size
    elif not isinstance(size, tuple):
        size = (size, size)
    size = (int(size[0]), int(size[1]))
    low = module.min_size
    if size[0] < low[0] or size[1] < low[1]:
        raise ValueError(
            f"input_size={est.input_size!r} makes patches {size[0]}x{size[1]} px, smaller "
            f"than the {low[0]}x{low[1]} px backbone {module.name!r} accepts; use "
            f"input_size >= {max(low)} (or None for {module.native_size[0]} px)."
        )
    return size


def n_frozen_for(est, module: _AIFTModule) -> int:
    """The number of frozen blocks ``freeze`` means for ``module``."""
    n_blocks, freeze = len(module.blocks), int(est.freeze)
    if n_blocks == 0:
        if freeze > 0:
            raise ValueError(
                f"freeze={freeze} but backbone {module.name!r} has no feature blocks that "
                f"can be frozen; use freeze=0 or a backbone listed in "
                f"sklearn_aift.backbones.feature_blocks."
            )
        return 0
    n_frozen = freeze if freeze >= 0 else n_blocks + freeze
    if not 0 <= n_frozen <= n_blocks:
        raise ValueError(
            f"freeze={freeze} does not fit the {n_blocks} feature blocks of backbone "
            f"{module.name!r}; use {-n_blocks} <= freeze <= {n_blocks} (-k trains the last "
            f"k blocks)."
        )
    return n_frozen


def configure(est, module: _AIFTModule, device: torch.device) -> _AIFTModule:
    """Apply the current freeze/input_size/amp/device settings to ``module``.

    Walking the network costs tens of milliseconds, so a module already in
    the wanted setting is returned as it is.
    """
    setting = (input_size_for(est, module), n_frozen_for(est, module), bool(est.amp), device)
    if getattr(module, "_setting", None) == setting:
        return module
    module.input_size, n_frozen, module.amp = setting[0], setting[1], setting[2]
    module.set_frozen(n_frozen)
    module = module.to(device)
    module._setting = setting
    return module


def initial_module(est, n_classes: int) -> tuple[_AIFTModule, int]:
    """The network before any fit (M0), built once per signature."""
    signature = initial_signature(est, n_classes)
    cached = getattr(est, "_initial", None)
    if cached is not None and cached[0] == signature:
        return cached[1], cached[2]
    seed_base = new_seed_base(est)
    module = build_module(est, n_classes, seed_base).eval()
    est._initial = (signature, module, seed_base)
    return module, seed_base


def inference_module(est, device: torch.device) -> _AIFTModule:
    if hasattr(est, "net_"):
        module = est.net_.module_
    else:
        module, _ = initial_module(est, est._prefit_n_classes())
    return configure(est, module, device)

# ------------------------------------------------------------------ cache helpers
def cache_for(est, module: _AIFTModule) -> ActivationCache | None:
    if module.n_frozen == 0 or est.activation_cache is None:
        return None
    if isinstance(est.activation_cache, ActivationCache):
        return est.activation_cache
    cache = getattr(est, "_auto_cache", None)
    if cache is None:
        cache = est._auto_cache = ActivationCache()
    return cache
