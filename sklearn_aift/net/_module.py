"""The network AIFTNet trains: a torchvision backbone plus input handling, and its passes.

The module normalises raw patches (uint8 or float, grey or RGB, any size)
itself, keeps its first ``n_frozen`` feature blocks frozen (no gradients,
always in eval mode) and can resume after those blocks, so that their outputs
come from the activation cache instead of being recomputed.
:meth:`_AIFTModule.configure` applies an estimator's ``input_size``,
``freeze``, ``amp`` and device to it.

:func:`forward_candidates` runs it over candidates. With an activation cache,
a pool is processed in chunks of a few thousand patches: the frozen prefix
runs only for candidates the cache lacks (:func:`frozen_activations`), then
the trainable rest of the network runs once per chunk on the gathered
activations. Without one, every batch of patches goes through the whole
network.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from tqdm.auto import tqdm

from ..backbones import bypass_blocks, run_blocks
from ..candidates import candidate_keys, materialize
from ._cache import ActivationCache

# Families whose forward applies global average pooling right after the last
# feature block: with every block frozen, a patch's cached activations can be
# pooled to (C, 1, 1) and the head computes the same logits from them.
_GLOBAL_POOL_FAMILIES = (
    torchvision.models.MobileNetV2,
    torchvision.models.MobileNetV3,
    torchvision.models.EfficientNet,
    torchvision.models.ResNet,
    torchvision.models.RegNet,
    torchvision.models.ShuffleNetV2,
    torchvision.models.MNASNet,
    torchvision.models.ConvNeXt,
)


class _AIFTModule(nn.Module):
    """Backbone plus input handling: uint8/float, grey->RGB, resize, normalise.

    ``n_frozen`` leading feature blocks are frozen. Inside
    :func:`cached_input` the input is the output of those blocks (see
    :meth:`prefix`) instead of images.
    """

    def __init__(self, backbone, input_size: tuple, amp: bool = False):
        super().__init__()
        self.backbone = backbone.model
        self.name = backbone.name
        self.head_name = backbone.head_name
        self.blocks = [tuple(b) for b in backbone.blocks]
        self.weights_id = backbone.weights_id
        self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1), persistent=False)
        self.input_size = tuple(input_size)
        self.native_size = tuple(backbone.native_size)
        self.min_size = tuple(backbone.min_size)
        self.amp = amp
        self.n_frozen = 0
        self.from_cache = False
        self._fingerprints: dict = {}

    # -- settings -----------------------------------------------------------------------------
    def configure(self, input_size: Any, freeze: int, amp: bool,
                  device: torch.device) -> "_AIFTModule":
        """Apply an estimator's ``input_size``, ``freeze`` and ``amp`` and move to ``device``.

        Walking the network costs tens of milliseconds, so a module already in
        the wanted setting is returned as it is.

        Raises
        ------
        ValueError
            If ``input_size`` is below the backbone's minimum or ``freeze``
            does not fit its feature blocks.
        """
        setting = (self._input_size_for(input_size), self._n_frozen_for(freeze), bool(amp),
                   device)
        if getattr(self, "_setting", None) == setting:
            return self
        self.input_size, n_frozen, self.amp = setting[0], setting[1], setting[2]
        self.set_frozen(n_frozen)
        module = self.to(device)
        module._setting = setting
        return module

    def _input_size_for(self, input_size: Any) -> tuple:
        size = self.native_size if input_size is None else input_size
        if not isinstance(size, tuple):
            size = (size, size)
        size = (int(size[0]), int(size[1]))
        low = self.min_size
        if size[0] < low[0] or size[1] < low[1]:
            raise ValueError(
                f"input_size={input_size!r} makes patches {size[0]}x{size[1]} px, smaller "
                f"than the {low[0]}x{low[1]} px backbone {self.name!r} accepts; use "
                f"input_size >= {max(low)} (or None for {self.native_size[0]} px)."
            )
        return size

    def _n_frozen_for(self, freeze: int) -> int:
        """The number of frozen blocks ``freeze`` means for this network."""
        n_blocks, freeze = len(self.blocks), int(freeze)
        if n_blocks == 0:
            if freeze > 0:
                raise ValueError(
                    f"freeze={freeze} but backbone {self.name!r} has no feature blocks that "
                    f"can be frozen; use freeze=0 or a backbone listed in "
                    f"sklearn_aift.backbones.feature_blocks."
                )
            return 0
        n_frozen = freeze if freeze >= 0 else n_blocks + freeze
        if not 0 <= n_frozen <= n_blocks:
            raise ValueError(
                f"freeze={freeze} does not fit the {n_blocks} feature blocks of backbone "
                f"{self.name!r}; use {-n_blocks} <= freeze <= {n_blocks} (-k trains the last "
                f"k blocks)."
            )
        return n_frozen

    # -- freezing -----------------------------------------------------------------------------
    def frozen_blocks(self) -> list:
        return self.blocks[: self.n_frozen]

    def frozen_modules(self) -> Iterator[tuple[str, nn.Module]]:
        for block in self.frozen_blocks():
            for qual in block:
                yield qual, self.backbone.get_submodule(qual)

    def set_frozen(self, n_frozen: int) -> None:
        self.n_frozen = int(n_frozen)
        frozen = {id(p) for _, mod in self.frozen_modules() for p in mod.parameters()}
        for p in self.backbone.parameters():
            p.requires_grad_(id(p) not in frozen)
        self.set_mode(self.training)

    def set_mode(self, training: bool) -> "_AIFTModule":
        """Walk every submodule: the trainable ones follow ``training``, frozen ones stay eval."""
        super().train(training)
        for _, mod in self.frozen_modules():
            mod.eval()
        return self

    def train(self, mode: bool = True) -> "_AIFTModule":
        # skorch calls train() at every training step; walking the whole backbone
        # each time (and re-setting every frozen block to eval) cost more than the
        # step itself, so a call that changes nothing returns at once.
        if mode == self.training:
            return self
        return self.set_mode(mode)

    @property
    def pools_cached_activations(self) -> bool:
        """Whether cached activations are pooled to ``(C, 1, 1)`` (every block frozen)."""
        return (
            bool(self.blocks)
            and self.n_frozen == len(self.blocks)
            and isinstance(self.backbone, _GLOBAL_POOL_FAMILIES)
        )

    # -- computing -----------------------------------------------------------------------------
    def _autocast(self):
        if self.amp and self.mean.is_cuda:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return nullcontext()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if tuple(x.shape[-2:]) != self.input_size:
            shrink = x.shape[-2] > self.input_size[0] or x.shape[-1] > self.input_size[1]
            x = F.interpolate(
                x, size=self.input_size, mode="bilinear", align_corners=False, antialias=shrink
            )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def prefix(self, x: torch.Tensor) -> torch.Tensor:
        """What the cache holds for raw patches ``x``: the frozen blocks' output
        (spatially averaged when :attr:`pools_cached_activations`)."""
        with self._autocast():
            out = run_blocks(self.backbone, self.frozen_blocks(), self.preprocess(x))
        if self.pools_cached_activations:
            out = out.float().mean(dim=(2, 3), keepdim=True)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            out = self.backbone(x if self.from_cache else self.preprocess(x))
        return out.float()

    @torch.no_grad()
    def calibrate_norms(self, batches) -> int:
        """Estimate the running statistics of the frozen blocks' batch norms from data.

        A randomly initialised network has running mean 0 and variance 1 in
        every batch norm, which in eval mode normalises nothing: activations
        shrink towards zero block after block. One pass in training mode with
        a cumulative average (``momentum=None``) gives them the statistics of
        the data, as training would. Returns the number of calibrated layers.
        """
        norms = [m for _, mod in self.frozen_modules() for m in mod.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return 0
        saved = [(m, m.momentum) for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        try:
            for x in batches:
                run_blocks(self.backbone, self.frozen_blocks(), self.preprocess(x.to(self.mean.device)))
        finally:
            for m, momentum in saved:
                m.momentum = momentum
                m.eval()
        return len(norms)

    # -- identity of the frozen part -----------------------------------------------------------
    def fingerprint(self, device: torch.device) -> str:
        """A digest of everything the cached activations depend on.

        Hashing the frozen parameters costs milliseconds, so the digest is
        remembered per setting together with the version counters of the frozen
        tensors (which every in-place change, ``load_state_dict`` included,
        increments): it is recomputed only when a frozen tensor changed.
        """
        tensors = [t for _, mod in self.frozen_modules()
                   for t in (*mod.parameters(), *mod.buffers())]
        setting = (self.n_frozen, self.input_size, bool(self.amp and device.type == "cuda"),
                   device.type, self.pools_cached_activations)
        versions = tuple(t._version for t in tensors)
        found = self._fingerprints.get(setting)
        if found is None or found[0] != versions:
            found = self._fingerprints[setting] = (versions, self._compute_fingerprint(setting))
        return found[1]

    def _compute_fingerprint(self, setting: tuple) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps([self.name, self.weights_id, *map(str, setting)]).encode())
        h.update(self.mean.cpu().numpy().tobytes() + self.std.cpu().numpy().tobytes())
        for qual, mod in self.frozen_modules():
            for name, tensor in mod.state_dict().items():
                h.update(f"{qual}.{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
                raw = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                h.update(raw.numpy().tobytes())
        return h.hexdigest()



@contextmanager
def cached_input(module: _AIFTModule, flag: bool = True):
    """Within the context, ``module`` takes frozen-prefix activations as input.

    The frozen blocks are bypassed once for the whole context (not per
    batch); without ``flag`` nothing changes.
    """
    if not flag or module.from_cache:
        yield module
        return
    previous = module.from_cache
    module.from_cache = True
    try:
        with bypass_blocks(module.backbone, module.frozen_blocks()):
            yield module
    finally:
        module.from_cache = previous


# -- passes over candidates ------------------------------------------------------------------
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
