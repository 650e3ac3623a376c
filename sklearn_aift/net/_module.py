"""The network AIFTNet trains: a torchvision backbone plus input handling.

The module normalises raw patches (uint8 or float, grey or RGB, any size)
itself, keeps its first ``n_frozen`` feature blocks frozen (no gradients,
always in eval mode) and can resume after those blocks, so that their outputs
come from the activation cache instead of being recomputed.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ..backbones import bypass_blocks, run_blocks

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
