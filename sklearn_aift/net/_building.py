"""Building AIFTNet's network: the backbone with its new last layer (M0) and its seed.

The functions return what they build; :class:`~sklearn_aift.net.AIFTNet`
keeps it (its M0 before the first fit, its fitted network, its seed base).
"""

from __future__ import annotations

import os

import numpy as np

from ..backbones import build_backbone
from ..utils import derive_seed, resolve_seed
from ._module import _AIFTModule


def initial_signature(est, n_classes: int) -> tuple:
    """What M0 depends on: backbone, weights, number of classes and an int seed."""
    rs = est.random_state if isinstance(est.random_state, (int, np.integer)) else None
    weights = os.fspath(est.weights) if isinstance(est.weights, os.PathLike) else est.weights
    return (est.backbone, weights, int(n_classes), rs)


def build_module(est, n_classes: int, seed_base: int, *, load_weights: bool = True) -> _AIFTModule:
    """The backbone of ``est`` with a new ``n_classes`` last layer seeded from ``seed_base``.

    With ``load_weights=False`` the pretrained weights are not read (a
    checkpoint's state replaces them).
    """
    bb = build_backbone(
        est.backbone,
        est.weights,
        n_classes,
        random_state=derive_seed(seed_base, 0),
        progress=bool(est.verbose),
        load_weights=load_weights,
    )
    return _AIFTModule(bb, bb.native_size)


def build_initial(est, n_classes: int) -> tuple[_AIFTModule, int]:
    """M0, the network before any fit (in eval mode), and the seed base it was drawn with."""
    seed_base = resolve_seed(est.random_state)
    return build_module(est, n_classes, seed_base).eval(), seed_base
