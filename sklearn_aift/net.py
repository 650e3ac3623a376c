"""AIFTNet: a pretrained CNN, fine-tuned continuously, that classifies candidates.

:class:`AIFTNet` is a scikit-learn classifier over *candidates* (bags of ``m``
augmented patches, see :mod:`sklearn_aift.candidates`). It wraps a torchvision
backbone (:mod:`sklearn_aift.backbones`) and trains it with a skorch
:class:`~skorch.NeuralNet` that it builds inside ``fit``; it does not subclass
skorch, so it follows scikit-learn's estimator rules (``clone``,
``get_params``/``set_params``, ``Pipeline``, ``GridSearchCV``, pickling).

:class:`ActivationCache` stores the output of the frozen prefix of the backbone
per candidate, so AIFT rounds over the same pool compute it only once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from numbers import Integral, Real
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.history import History
from torch import nn
from tqdm.auto import tqdm

from .backbones import build_backbone, bypass_blocks, run_blocks
from .candidates import check_candidate_labels, check_candidates, materialize

__all__ = ["AIFTNet", "ActivationCache"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "sklearn_aift.AIFTNet"
CHECKPOINT_VERSION = 1

# skorch settings reachable through AIFTNet(**kwargs) and set_params.
SKORCH_PREFIXES = (
    "optimizer__",
    "criterion__",
    "iterator_train__",
    "iterator_valid__",
    "callbacks__",
)
# skorch settings AIFTNet controls itself, and the parameter to use instead.
_RESERVED = {
    "optimizer__lr": "lr",
    "optimizer__momentum": "momentum",
    "optimizer__param_groups": "lr, head_lr, lr_incremental and head_lr_incremental",
    "iterator_train__shuffle": "random_state (patches are always shuffled)",
    "iterator_train__generator": "random_state",
    "iterator_train__batch_size": "batch_size",
    "iterator_valid__batch_size": "batch_size",
    "iterator_train__drop_last": "batch_size",
}


# --------------------------------------------------------------------------- cache
class ActivationCache:
    """A bounded in-memory store of frozen-prefix activations, per candidate.

    Keys are ``(fingerprint, candidate_key)`` pairs: the fingerprint identifies
    the frozen part of a network (backbone, weights, ``freeze``, ``input_size``,
    mixed precision and the frozen parameter values), the candidate key its
    pixels. Values are CPU tensors of shape ``(m, ...)``. The least recently
    used entries are evicted beyond ``max_bytes``.

    One instance can be shared by several :class:`AIFTNet` objects (pass it as
    ``activation_cache``): nets with the same frozen part then compute each
    candidate's activations once. Copies keep sharing: ``copy.deepcopy`` and
    :func:`sklearn.base.clone` return the same instance. Pickling keeps only
    the settings, not the entries (an unpickled cache starts empty), so
    pickled nets stay small.

    Parameters
    ----------
    max_bytes : int or None, default=2**30
        Upper bound on the stored tensor bytes (1 GiB); None for no bound. An
        entry larger than the bound is not stored.

    Attributes
    ----------
    hits : int
        Lookups that found an entry.
    misses : int
        Lookups that found nothing.

    Examples
    --------
    >>> import copy, torch
    >>> from sklearn_aift.net import ActivationCache
    >>> cache = ActivationCache(max_bytes=1024)
    >>> cache.put(("fp", "a"), torch.zeros(4, 8))
    True
    >>> cache.get(("fp", "a")).shape, cache.nbytes, copy.deepcopy(cache) is cache
    (torch.Size([4, 8]), 128, True)
    """

    def __init__(self, max_bytes: int | None = 2**30):
        self.max_bytes = max_bytes
        self._entries: OrderedDict = OrderedDict()
        self._nbytes = 0
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored tensors."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries

    def get(self, key: Any) -> torch.Tensor | None:
        """Return the tensor stored under ``key``, or None.

        Parameters
        ----------
        key : hashable
            A ``(fingerprint, candidate_key)`` pair.

        Returns
        -------
        value : torch.Tensor or None
            The stored activations, or None when absent.
        """
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Any, value: torch.Tensor) -> bool:
        """Store ``value`` under ``key``, evicting old entries beyond ``max_bytes``.

        Parameters
        ----------
        key : hashable
            A ``(fingerprint, candidate_key)`` pair.
        value : torch.Tensor
            Activations; kept as given (callers pass CPU tensors that own
            their storage).

        Returns
        -------
        stored : bool
            False when ``value`` alone exceeds ``max_bytes``.
        """
        size = value.element_size() * value.nelement()
        if self.max_bytes is not None and size > self.max_bytes:
            return False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._nbytes -= old.element_size() * old.nelement()
            self._entries[key] = value
            self._nbytes += size
            while self.max_bytes is not None and self._nbytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._nbytes -= evicted.element_size() * evicted.nelement()
        return True

    def clear(self) -> None:
        """Remove all entries and reset the hit/miss counters."""
        with self._lock:
            self._entries.clear()
            self._nbytes = 0
            self.hits = 0
            self.misses = 0

    def __copy__(self) -> "ActivationCache":
        return self

    def __deepcopy__(self, memo: dict) -> "ActivationCache":
        return self

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __repr__(self) -> str:
        return (
            f"ActivationCache(max_bytes={self.max_bytes!r}) with {len(self)} entries, "
            f"{self._nbytes} bytes"
        )


def _candidate_keys(X: Any, batch_size: int) -> list:
    """Stable content keys, one per candidate."""
    if hasattr(X, "candidate_keys"):
        keys = list(X.candidate_keys())
        if len(keys) != len(X):
            raise ValueError(
                f"X.candidate_keys() returned {len(keys)} keys for {len(X)} candidates."
            )
        return keys
    if isinstance(X, np.ndarray):
        return [_hash_candidate(X[i]) for i in range(len(X))]
    keys = []
    for start in range(0, len(X), batch_size):
        batch = materialize(X, np.arange(start, min(start + batch_size, len(X))))
        keys.extend(_hash_candidate(c) for c in batch)
    return keys


def _hash_candidate(patches: np.ndarray) -> str:
    patches = np.ascontiguousarray(patches)
    if patches.ndim == 3:
        patches = patches[None]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{patches.dtype.str}{patches.shape}".encode())
    h.update(memoryview(patches).cast("B"))
    return h.hexdigest()


# --------------------------------------------------------------------------- module
class _AIFTModule(nn.Module):
    """Backbone plus input handling: uint8/float, grey->RGB, resize, normalise.

    ``n_frozen`` leading feature blocks are frozen (no gradients, always in
    eval mode). When ``from_cache`` is set, the input is the output of those
    blocks instead of images.
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
        self.train(self.training)

    def train(self, mode: bool = True) -> "_AIFTModule":
        super().train(mode)
        for _, mod in self.frozen_modules():
            mod.eval()
        return self

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
        """Output of the frozen blocks for raw patches ``x``."""
        with self._autocast():
            return run_blocks(self.backbone, self.frozen_blocks(), self.preprocess(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            if self.from_cache:
                with bypass_blocks(self.backbone, self.frozen_blocks()):
                    out = self.backbone(x)
            else:
                out = self.backbone(self.preprocess(x))
        return out.float()


@contextmanager
def _cached_input(module: _AIFTModule, flag: bool):
    previous = module.from_cache
    module.from_cache = flag
    try:
        yield module
    finally:
        module.from_cache = previous


# --------------------------------------------------------------------------- data
class _PatchDataset(torch.utils.data.Dataset):
    """Patches of candidates, each with its candidate's label; fetched per batch."""

    def __init__(self, X: Any, y: np.ndarray, n_patches: int):
        self.X = X
        self.y = y
        self.m = n_patches

    def __len__(self) -> int:
        return len(self.y) * self.m

    def __getitem__(self, index: int):
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list) -> list:
        indices = np.asarray(indices, dtype=np.intp)
        cand, patch = np.divmod(indices, self.m)
        unique, inverse = np.unique(cand, return_inverse=True)
        pixels = np.require(materialize(self.X, unique)[inverse, patch], requirements=["C", "W"])
        tensor = torch.from_numpy(pixels)
        labels = torch.from_numpy(self.y[cand].astype(np.int64))
        return [(tensor[i], labels[i]) for i in range(len(indices))]


class _ActivationDataset(torch.utils.data.Dataset):
    """Frozen-prefix activations of patches, each with its candidate's label."""

    def __init__(self, activations: list, y: np.ndarray, n_patches: int):
        self.activations = activations
        self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
        self.m = n_patches

    def __len__(self) -> int:
        return len(self.y) * self.m

    def __getitem__(self, index: int):
        cand, patch = divmod(int(index), self.m)
        return self.activations[cand][patch], self.y[cand]


# --------------------------------------------------------------------------- schedule
class _LRSchedule(Callback):
    """Sets every parameter group's learning rate at the start of each epoch.

    ``base`` maps a group role (``body_weight``, ``body_bias``, ``head_weight``,
    ``head_bias``) to its learning rate in the fit's first epoch; epoch ``e``
    (0-based, counted within the fit) uses ``base * gamma ** e``.
    """

    def __init__(self, base: dict, gamma: float):
        self.base = base
        self.gamma = gamma

    def initialize(self):
        self.epoch_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs):
        factor = self.gamma**self.epoch_
        for group in net.optimizer_.param_groups:
            group["lr"] = self.base[group.get("role", "body_weight")] * factor
        self.epoch_ += 1


def _derive_seed(*keys: int) -> int:
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


# --------------------------------------------------------------------------- estimator
class AIFTNet(ClassifierMixin, BaseEstimator):
    """A pretrained CNN that classifies candidates and fine-tunes continuously.

    The estimator at the centre of AIFT (Zhou et al., CVPR 2017). It wraps a
    torchvision classification network whose last layer is replaced by one
    with ``n_classes`` outputs, and trains it with a skorch
    :class:`~skorch.NeuralNet` built inside ``fit``. Inputs are *candidates*:
    arrays ``(n, m, C, H, W)`` (``m`` augmented patches per candidate) or
    ``(n, C, H, W)`` (one patch each), ``uint8`` in [0, 255] or float in [0, 1],
    grey (``C=1``, repeated to 3 channels) or RGB, or a lazy ``CandidateSet``.
    Patches are resized to ``input_size`` and ImageNet-normalised inside the
    network, so raw images are passed as they are.

    Training gives each patch its candidate's label. A candidate's probability
    is the mean of its patches' probabilities (paper, sec. 4.3).

    **Continuous fine-tuning.** With ``warm_start=True`` every ``fit`` after the
    first continues from the current weights (M_t <- F(L, M_{t-1})) and keeps
    the optimizer's momentum buffers. Learning rates follow the supplement's
    Table 3 (polyp detection): in fit number ``t`` (0-based, counted since the
    network was initialised, see ``n_fits_``) and its epoch ``e`` (0-based)::

        t == 0 (AIFT1):  body = lr * gamma**e,  head = head_lr * gamma**e,
                         for max_epochs epochs
        t >= 1 (AIFT+):  body = lr_incremental * gamma_incremental**e,
                         head = head_lr_incremental * gamma_incremental**e,
                         for max_epochs_incremental epochs

    where "head" is the replaced last layer (fc8 for AlexNet) and "body" all
    other trainable layers; every bias (including batch-norm shifts) uses twice
    the rate of the weights of its part. The schedule restarts at ``e = 0`` in
    every fit (unlike skorch's ``LRScheduler``, which adds a decay step per
    refit). ``partial_fit`` runs one epoch at rate ``e = 0`` of fit number
    ``t``.

    **Freezing and the activation cache.** ``freeze=k`` keeps the first ``k``
    feature blocks of the backbone (see
    :func:`sklearn_aift.backbones.feature_blocks`; for AlexNet blocks 1-5 are
    conv1-conv5 of the paper's Table 2, each with its ReLU and pooling) frozen:
    no gradient, batch norm and dropout always in eval mode. Their outputs then
    never change, so they are computed once per candidate and kept in an
    :class:`ActivationCache`, keyed by the candidate's content
    (``X.candidate_keys()`` when ``X`` has it, else a BLAKE2b hash of the
    candidate's pixels) and a fingerprint of the frozen part (backbone, weights,
    ``freeze``, ``input_size``, ``amp``, device type and the frozen parameter
    values). Predicting on a pool and then fitting on labeled candidates of that
    pool reuses the activations.

    Parameters
    ----------
    backbone : str, default="alexnet"
        Any torchvision classification model name
        (:func:`sklearn_aift.backbones.list_backbones`). The paper uses AlexNet.
    weights : str, path-like or None, default="DEFAULT"
        Weights the network starts from: a torchvision weights name of the
        backbone (``"DEFAULT"``, ``"IMAGENET1K_V1"``), a path to a state-dict
        file, or None for random initialisation ("learning from scratch"). Files
        come from torch hub's cache ``$TORCH_HOME/hub/checkpoints`` and are
        downloaded only when missing; without them an error explains what to
        put where (see :func:`sklearn_aift.backbones.build_backbone`).
    classes : array-like or None, default=None
        All class labels, when known in advance (AIFT starts from few labels,
        so the first fit may see only one class). None infers them from ``y``
        at the first fit. Before any fit the network has ``len(classes)``
        outputs, or 2 when None.
    lr : float, default=1e-3
        Learning rate of the body's weights in the first fit (Table 3, AIFT1: α).
    head_lr : float or None, default=None
        Learning rate of the last layer's weights in the first fit; None means
        ``10 * lr`` (Table 3, AIFT1: α_fc8 = 0.01).
    lr_incremental : float or None, default=None
        Body learning rate in every later fit; None means ``lr / 10``
        (Table 3, AIFT+: α = 0.0001).
    head_lr_incremental : float or None, default=None
        Last-layer learning rate in every later fit; None means
        ``10 * lr_incremental`` (Table 3, AIFT+: α_fc8 = 0.001).
    momentum : float, default=0.9
        SGD momentum (Table 3: μ).
    gamma : float, default=0.95
        Per-epoch learning-rate factor in the first fit (Table 3, AIFT1: γ).
    gamma_incremental : float, default=0.1
        Per-epoch learning-rate factor in every later fit (Table 3, AIFT+: γ).
    max_epochs : int, default=5
        Epochs of the first fit (Table 3, AIFT1).
    max_epochs_incremental : int, default=3
        Epochs of every later fit (Table 3, AIFT+).
    batch_size : int, default=64
        Patches per training and inference batch.
    input_size : int, (int, int) or None, default=None
        Side (or ``(height, width)``) patches are resized to inside the
        network; None uses the size the backbone's weights were evaluated at
        (224 for AlexNet). Must not be below the backbone's minimum (63 for
        AlexNet).
    freeze : int, default=0
        Number of leading feature blocks kept frozen (0: fine-tune every
        layer, as in the paper).
    activation_cache : "auto", ActivationCache or None, default="auto"
        Where frozen-prefix activations are kept: "auto" uses a private cache
        of this instance (1 GiB bound), an :class:`ActivationCache` is shared
        with every net given the same instance (clones included), None disables
        caching. Only used when ``freeze > 0``.
    warm_start : bool, default=True
        Whether a later ``fit`` continues from the current network (AIFT's
        continuous fine-tuning) instead of starting again from ``weights``.
    device : str or torch.device, default="auto"
        "auto" uses CUDA when available, else the CPU.
    amp : bool, default=False
        Mixed precision on CUDA (``torch.autocast`` with bfloat16); ignored on
        the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the new last layer (and the whole network when ``weights=None``),
        and, together with the fit number, the patch shuffling and dropout of
        every fit, so that a network reloaded from a checkpoint continues
        exactly like an uninterrupted one.
    callbacks : list or None, default=None
        skorch callbacks (or ``(name, callback)`` pairs) added to training.
        They are re-initialised at every fit.
    verbose : int, default=0
        0 is silent; otherwise skorch prints an epoch table during ``fit`` and
        tqdm progress bars show inference.
    **kwargs
        skorch settings with the prefixes ``optimizer__`` (e.g.
        ``optimizer__weight_decay=5e-4``), ``criterion__``,
        ``iterator_train__``, ``iterator_valid__`` and ``callbacks__``; they are
        parameters like the others (``get_params``, ``set_params``,
        ``GridSearchCV``). Settings AIFTNet controls (learning rates, momentum,
        shuffling, batch size) are rejected with the parameter to use instead.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_fits_ : int
        Completed fits (``fit`` or ``partial_fit`` calls) since the network
        was initialised.
    net_ : skorch.NeuralNet
        The skorch net of the latest fit (its ``history`` spans all fits).
    module_ : torch.nn.Module
        The network (a read-only property: ``net_.module_``).

    See Also
    --------
    sklearn_aift.backbones.build_backbone : Backbones and their weights.

    Notes
    -----
    Pickling keeps the fitted network but not the activation cache's entries
    (an :class:`ActivationCache` pickles as an empty cache with the same
    bound); ``copy.deepcopy`` and :func:`sklearn.base.clone` share the cache.

    Predictions before any fit use the pretrained body and a fresh last layer
    (the paper's cold start with M0); the first ``fit`` starts from that same
    network. Changing ``backbone`` or ``classes`` starts the network anew at
    the next ``fit``; ``weights`` is read only when the network is initialised.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift import AIFTNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 255, size=(8, 2, 3, 32, 32), dtype=np.uint8)
    >>> y = np.array(["neg", "pos"] * 4)
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
    ...               max_epochs=1, batch_size=8, random_state=0)
    >>> net.predict_patch_proba(X).shape  # works before fit
    (8, 2, 2)
    >>> net.fit(X, y).classes_
    array(['neg', 'pos'], dtype='<U3')
    >>> net.predict_proba(X).shape, net.n_fits_
    ((8, 2), 1)
    """

    _parameter_constraints: dict = {
        "backbone": [str],
        "weights": [str, os.PathLike, None],
        "classes": ["array-like", None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "head_lr": [Interval(Real, 0, None, closed="neither"), None],
        "lr_incremental": [Interval(Real, 0, None, closed="neither"), None],
        "head_lr_incremental": [Interval(Real, 0, None, closed="neither"), None],
        "momentum": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "gamma_incremental": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_epochs_incremental": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "freeze": [Interval(Integral, 0, None, closed="left")],
        "activation_cache": [StrOptions({"auto"}), ActivationCache, None],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "amp": ["boolean"],
        "random_state": ["random_state"],
        "callbacks": [list, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone: str = "alexnet",
        weights: Any = "DEFAULT",
        *,
        classes: Any = None,
        lr: float = 1e-3,
        head_lr: float | None = None,
        lr_incremental: float | None = None,
        head_lr_incremental: float | None = None,
        momentum: float = 0.9,
        gamma: float = 0.95,
        gamma_incremental: float = 0.1,
        max_epochs: int = 5,
        max_epochs_incremental: int = 3,
        batch_size: int = 64,
        input_size: Any = None,
        freeze: int = 0,
        activation_cache: Any = "auto",
        warm_start: bool = True,
        device: Any = "auto",
        amp: bool = False,
        random_state: Any = None,
        callbacks: list | None = None,
        verbose: int = 0,
        **kwargs: Any,
    ):
        self.backbone = backbone
        self.weights = weights
        self.classes = classes
        self.lr = lr
        self.head_lr = head_lr
        self.lr_incremental = lr_incremental
        self.head_lr_incremental = head_lr_incremental
        self.momentum = momentum
        self.gamma = gamma
        self.gamma_incremental = gamma_incremental
        self.max_epochs = max_epochs
        self.max_epochs_incremental = max_epochs_incremental
        self.batch_size = batch_size
        self.input_size = input_size
        self.freeze = freeze
        self.activation_cache = activation_cache
        self.warm_start = warm_start
        self.device = device
        self.amp = amp
        self.random_state = random_state
        self.callbacks = callbacks
        self.verbose = verbose
        for key, value in kwargs.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ params
    def _skorch_kwargs(self) -> dict:
        """Extra keyword parameters: public attributes that are neither declared
        parameters nor fitted attributes (validated in ``fit``)."""
        declared = set(self._get_param_names())
        return {
            k: v
            for k, v in vars(self).items()
            if k not in declared and not k.startswith("_") and not k.endswith("_")
        }

    def get_params(self, deep: bool = True) -> dict:
        """Get parameters, including skorch settings given as keyword arguments.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators (none here).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.

        Examples
        --------
        >>> from sklearn_aift import AIFTNet
        >>> AIFTNet(optimizer__weight_decay=5e-4).get_params()["optimizer__weight_decay"]
        0.0005
        """
        params = super().get_params(deep=deep)
        params.update(self._skorch_kwargs())
        return params

    def set_params(self, **params: Any) -> "AIFTNet":
        """Set parameters, including skorch settings such as ``optimizer__weight_decay``.

        Parameters
        ----------
        **params : dict
            Estimator parameters, or skorch settings with a prefix listed in
            the class documentation. They take effect at the next ``fit``;
            like every parameter, unknown names are reported there (a
            ``TypeError``), not here.

        Returns
        -------
        self : AIFTNet
            The estimator.

        Examples
        --------
        >>> from sklearn_aift import AIFTNet
        >>> net = AIFTNet().set_params(lr=0.01, optimizer__nesterov=True)
        >>> net.get_params()["optimizer__nesterov"]
        True
        """
        declared = set(self._get_param_names())
        extra = {
            k: v
            for k, v in params.items()
            if k.startswith(SKORCH_PREFIXES) or k.partition("__")[0] not in declared
        }
        for key, value in extra.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in extra}
        if rest:
            super().set_params(**rest)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Inputs are 4-D/5-D candidate arrays (or lazy candidate sets), never 2-D.
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = False
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.poor_score = True
        # Fixed random_state gives identical results on the CPU; CUDA kernels may not.
        try:
            tags.non_deterministic = self._device().type == "cuda"
        except ValueError:
            tags.non_deterministic = False
        return tags

    def _check_all_params(self) -> None:
        self._validate_params()
        for key in self._skorch_kwargs():
            if not key.startswith(SKORCH_PREFIXES) or key in SKORCH_PREFIXES:
                raise TypeError(
                    f"AIFTNet got an unexpected parameter {key!r}. Its parameters are "
                    f"{', '.join(sorted(self._get_param_names()))}; skorch settings take a "
                    f"prefix: {', '.join(SKORCH_PREFIXES)}."
                )
            if key in _RESERVED:
                raise ValueError(
                    f"{key} is controlled by AIFTNet; use its parameter {_RESERVED[key]} instead."
                )
        size = self.input_size
        if isinstance(size, tuple) and (
            len(size) != 2
            or not all(_positive_int(s) for s in size)
        ):
            raise ValueError(
                f"input_size must be a positive int, a (height, width) pair of positive ints "
                f"or None; got {size!r}."
            )
        self._device()

    def _device(self) -> torch.device:
        if isinstance(self.device, str) and self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or a torch.device; got "
                f"{self.device!r}."
            ) from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} requested but CUDA is not available.")
        return device

    def _lr_plan(self, fit_index: int) -> tuple[dict, float, int]:
        """Base learning rates per group role, gamma and epochs of fit ``fit_index``."""
        if fit_index == 0:
            body = float(self.lr)
            head = float(self.head_lr) if self.head_lr is not None else 10.0 * body
            gamma, epochs = float(self.gamma), int(self.max_epochs)
        else:
            body = float(self.lr_incremental) if self.lr_incremental is not None else self.lr / 10.0
            head = (
                float(self.head_lr_incremental)
                if self.head_lr_incremental is not None
                else 10.0 * body
            )
            gamma, epochs = float(self.gamma_incremental), int(self.max_epochs_incremental)
        base = {
            "body_weight": body,
            "body_bias": 2.0 * body,
            "head_weight": head,
            "head_bias": 2.0 * head,
        }
        return base, gamma, epochs

    # ------------------------------------------------------------------ model building
    def _new_seed_base(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(self.random_state, np.random.RandomState):
            return int(self.random_state.randint(np.iinfo(np.int32).max))
        return int(self.random_state)

    def _initial_signature(self, n_classes: int) -> tuple:
        rs = self.random_state if isinstance(self.random_state, (int, np.integer)) else None
        weights = os.fspath(self.weights) if isinstance(self.weights, os.PathLike) else self.weights
        return (self.backbone, weights, int(n_classes), rs)

    def _build_module(self, n_classes: int, seed_base: int, *, load_weights: bool = True):
        bb = build_backbone(
            self.backbone,
            self.weights,
            n_classes,
            random_state=_derive_seed(seed_base, 0),
            progress=bool(self.verbose),
            load_weights=load_weights,
        )
        return _AIFTModule(bb, bb.native_size)

    def _input_size(self, module: _AIFTModule) -> tuple:
        size = self.input_size
        if size is None:
            size = module.native_size
        elif not isinstance(size, tuple):
            size = (size, size)
        size = (int(size[0]), int(size[1]))
        low = module.min_size
        if size[0] < low[0] or size[1] < low[1]:
            raise ValueError(
                f"input_size={self.input_size!r} makes patches {size[0]}x{size[1]} px, smaller "
                f"than the {low[0]}x{low[1]} px backbone {module.name!r} accepts; use "
                f"input_size >= {max(low)} (or None for {module.native_size[0]} px)."
            )
        return size

    def _configure(self, module: _AIFTModule, device: torch.device) -> _AIFTModule:
        """Apply the current freeze/input_size/amp/device settings to ``module``."""
        n_blocks = len(module.blocks)
        if self.freeze > n_blocks:
            if n_blocks == 0:
                raise ValueError(
                    f"freeze={self.freeze} but backbone {module.name!r} has no feature blocks that "
                    f"can be frozen; use freeze=0 or a backbone listed in "
                    f"sklearn_aift.backbones.feature_blocks."
                )
            raise ValueError(
                f"freeze={self.freeze} exceeds the {n_blocks} feature blocks of backbone "
                f"{module.name!r}; use 0 <= freeze <= {n_blocks}."
            )
        module.input_size = self._input_size(module)
        module.set_frozen(self.freeze)
        module.amp = bool(self.amp)
        return module.to(device)

    def _initial_module(self, n_classes: int) -> tuple[_AIFTModule, int]:
        """The network before any fit (M0), built once per signature."""
        signature = self._initial_signature(n_classes)
        cached = getattr(self, "_initial", None)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        seed_base = self._new_seed_base()
        module = self._build_module(n_classes, seed_base).eval()
        self._initial = (signature, module, seed_base)
        return module, seed_base

    def _prefit_n_classes(self) -> int:
        return len(np.unique(np.asarray(self.classes))) if self.classes is not None else 2

    @property
    def module_(self) -> nn.Module:
        """The fitted network (``net_.module_``)."""
        if not hasattr(self, "net_"):
            raise AttributeError("module_ exists after fit; this AIFTNet is not fitted yet.")
        return self.net_.module_

    def _inference_module(self, device: torch.device) -> _AIFTModule:
        if hasattr(self, "net_"):
            module = self.net_.module_
        else:
            module, _ = self._initial_module(self._prefit_n_classes())
        return self._configure(module, device)

    # ------------------------------------------------------------------ cache helpers
    def _cache(self, module: _AIFTModule) -> ActivationCache | None:
        if module.n_frozen == 0 or self.activation_cache is None:
            return None
        if isinstance(self.activation_cache, ActivationCache):
            return self.activation_cache
        cache = getattr(self, "_auto_cache", None)
        if cache is None:
            cache = self._auto_cache = ActivationCache()
        return cache

    def _fingerprint(self, module: _AIFTModule, device: torch.device) -> str:
        h = hashlib.blake2b(digest_size=16)
        setup = [module.name, module.weights_id, module.n_frozen, list(module.input_size)]
        setup += [bool(module.amp and device.type == "cuda"), device.type]
        h.update(json.dumps(setup).encode())
        h.update(module.mean.cpu().numpy().tobytes() + module.std.cpu().numpy().tobytes())
        for qual, mod in module.frozen_modules():
            for name, tensor in mod.state_dict().items():
                h.update(f"{qual}.{name}{tensor.dtype}{tuple(tensor.shape)}".encode())
                raw = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                h.update(raw.numpy().tobytes())
        return h.hexdigest()

    def _activations(self, module, X, indices, keys, cache, fingerprint, device) -> list:
        """Frozen-prefix activations of candidates ``indices``, computed on misses."""
        acts = [cache.get((fingerprint, keys[i])) for i in indices]
        missing = [j for j, a in enumerate(acts) if a is None]
        if missing:
            raw = materialize(X, np.asarray(indices)[missing])
            u, m = raw.shape[:2]
            pixels = _as_tensor(raw.reshape(u * m, *raw.shape[2:]))
            with torch.no_grad():
                out = module.prefix(pixels.to(device)).detach().cpu()
            out = out.reshape(u, m, *out.shape[1:])
            for j, act in zip(missing, out):
                act = act.clone()
                cache.put((fingerprint, keys[indices[j]]), act)
                acts[j] = act
        return acts

    # ------------------------------------------------------------------ inference
    def predict_patch_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of every patch of every candidate.

        Works before any fit: the pretrained body with a fresh last layer
        (seeded by ``random_state``), as in the paper's cold start.

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Candidates (``uint8`` in [0, 255] or float in [0, 1]; ``C`` is 1 or 3).

        Returns
        -------
        P : ndarray of shape (n, m, K)
            float64 probabilities; each row sums to 1. ``K`` is
            ``len(classes_)``, or before fit ``len(classes)`` (2 when None).

        Raises
        ------
        ValueError
            If ``X`` has the wrong shape, channel count or pixel values.
        TypeError
            If ``X`` is not an array or candidate set, or has a wrong dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((3, 4, 1, 40, 40), dtype=np.uint8)
        >>> P = AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
        ...             random_state=0).predict_patch_proba(X)
        >>> P.shape, bool(np.allclose(P.sum(-1), 1))
        ((3, 4, 2), True)
        """
        self._check_all_params()
        X = check_candidates(X, allow_empty=True)
        device = self._device()
        module = self._inference_module(device)
        return self._predict_patches(module, X, device)

    def _predict_patches(self, module: _AIFTModule, X: Any, device: torch.device) -> np.ndarray:
        n = len(X)
        m = X.shape[1] if len(X.shape) == 5 else 1
        k = _n_outputs(module)
        P = np.empty((n, m, k), dtype=np.float64)
        if n == 0:
            return P
        per_batch = max(1, int(self.batch_size) // m)
        cache = self._cache(module)
        keys = fingerprint = None
        if cache is not None:
            keys = _candidate_keys(X, per_batch)
            fingerprint = self._fingerprint(module, device)
        module.eval()  # skorch switches to training mode at each training step
        with tqdm(total=n, desc="predict", unit="candidate", disable=not self.verbose) as bar:
            for start in range(0, n, per_batch):
                idx = np.arange(start, min(start + per_batch, n))
                if cache is not None:
                    acts = self._activations(module, X, idx, keys, cache, fingerprint, device)
                    inputs, flag = torch.cat(acts), True
                else:
                    raw = _candidate_batch(X, idx[0], idx[-1] + 1)
                    flat = raw.reshape(len(idx) * m, *raw.shape[2:])
                    inputs, flag = _as_tensor(flat), False
                with torch.inference_mode(), _cached_input(module, flag):
                    logits = module(inputs.to(device))
                    proba = torch.softmax(logits.double(), dim=-1)
                P[idx] = proba.cpu().numpy().reshape(len(idx), m, k)
                bar.update(len(idx))
        return P

    def predict_proba(self, X: Any) -> np.ndarray:
        """Candidate probabilities: the mean over each candidate's patches (sec. 4.3).

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Candidates.

        Returns
        -------
        proba : ndarray of shape (n, K)
            Columns follow ``classes_``; rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((2, 3, 3, 32, 32), dtype=np.uint8)
        >>> AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
        ...         random_state=0).predict_proba(X).shape
        (2, 2)
        """
        return self.predict_patch_proba(X).mean(axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class label of each candidate.

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Candidates.

        Returns
        -------
        y : ndarray of shape (n,)
            Labels from ``classes_`` with the highest mean patch probability.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before the first fit (the labels are not known yet).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((4, 1, 3, 32, 32), dtype=np.uint8)
        >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
        ...               max_epochs=1, random_state=0).fit(X, [0, 1, 0, 1])
        >>> net.predict(X).shape
        (4,)
        """
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(
                "This AIFTNet is not fitted yet; call fit or partial_fit (or load_checkpoint) "
                "first. predict_patch_proba and predict_proba work before fit."
            )

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any) -> "AIFTNet":
        """Fine-tune on labeled candidates.

        With ``warm_start=True`` and a fitted network this continues from the
        current weights for ``max_epochs_incremental`` epochs (AIFT+);
        otherwise it starts from the pretrained network for ``max_epochs``
        epochs (AIFT1). See the class documentation for the learning rates.

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Labeled candidates; every patch inherits its candidate's label.
        y : array-like of shape (n,)
            Candidate labels (numbers or strings).

        Returns
        -------
        self : AIFTNet
            The fitted estimator.

        Raises
        ------
        ValueError
            If ``X`` or ``y`` is invalid, ``len(X) != len(y)``, a continued fit
            sees labels unseen before, or the first fit sees a single class and
            ``classes`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((4, 2, 3, 32, 32), dtype=np.uint8)
        >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
        ...               max_epochs=1, max_epochs_incremental=1, random_state=0)
        >>> net.fit(X, [0, 1, 0, 1]).fit(X, [0, 1, 1, 1]).n_fits_
        2
        """
        return self._fit(X, y, classes=None, partial=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> "AIFTNet":
        """Run one incremental epoch on labeled candidates.

        Initialises the network on the first call (from ``classes``, else the
        ``classes`` parameter, else the labels of ``y``) and always continues
        from the current weights afterwards. The epoch uses the learning rates
        of epoch 0 of fit number ``n_fits_`` (see the class documentation).

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Labeled candidates.
        y : array-like of shape (n,)
            Candidate labels.
        classes : array-like or None, default=None
            All labels; only used by the first call.

        Returns
        -------
        self : AIFTNet
            The estimator.

        Raises
        ------
        ValueError
            If ``y`` holds labels unseen at the first call, or ``classes``
            differs from ``classes_`` at a later call.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((2, 2, 3, 32, 32), dtype=np.uint8)
        >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, random_state=0)
        >>> net.partial_fit(X, [1, 1], classes=[0, 1]).classes_
        array([0, 1])
        """
        return self._fit(X, y, classes=classes, partial=True)

    def _continuing(self, partial: bool) -> bool:
        if not hasattr(self, "net_") or not (partial or self.warm_start):
            return False
        if self.net_.module_.name != self.backbone:
            return False
        if self.classes is not None and not _same_labels(_unique(self.classes), self.classes_):
            return False
        return True

    def _fit(self, X: Any, y: Any, *, classes: Any, partial: bool) -> "AIFTNet":
        self._check_all_params()
        X = check_candidates(X)
        y = check_candidate_labels(y, len(X))
        device = self._device()
        if self._continuing(partial):
            new_classes = None if classes is None else _unique(classes)
            if partial and new_classes is not None and not _same_labels(new_classes, self.classes_):
                raise ValueError(
                    f"classes={_unique(classes).tolist()} differs from classes_="
                    f"{list(self.classes_)} set at the first fit."
                )
            _check_known_labels(y, self.classes_)
            module = self.net_.module_
            fit_index = self.n_fits_
            optimizer_state = self.net_.optimizer_.state_dict()["state"]
            history = self.net_.history_
            classes_ = self.classes_
        else:
            classes_ = self._first_classes(y, classes if partial else None)
            module, seed_base = self._initial_module(len(classes_))
            self._initial = None  # the network now belongs to the fit
            self._seed_base = seed_base
            fit_index, optimizer_state, history = 0, None, None
        module = self._configure(module, device)
        y_enc = np.searchsorted(classes_, y)
        base, gamma, epochs = self._lr_plan(fit_index)
        if partial:
            epochs = 1
        m = X.shape[1] if len(X.shape) == 5 else 1
        n_items = len(X) * m
        seed = _derive_seed(self._seed_base, 1, fit_index)
        generator = torch.Generator().manual_seed(seed)
        # a last batch of one patch would break batch norm in training mode: drop it
        drop_last = n_items > 1 and n_items % self.batch_size == 1
        net = self._make_net(module, device, base, gamma, generator, drop_last=drop_last)
        net.initialize()
        if optimizer_state is not None:
            state = net.optimizer_.state_dict()
            state["state"] = optimizer_state
            net.optimizer_.load_state_dict(state)
        if history is not None:
            net.history_ = history
        cache = self._cache(module)
        if cache is not None:
            dataset = self._activation_dataset(module, X, y_enc, m, cache, device)
        else:
            dataset = _PatchDataset(X, y_enc, m)
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), _cached_input(module, cache is not None):
            torch.manual_seed(seed)
            net.notify("on_train_begin", X=dataset, y=None)
            net.fit_loop(dataset, None, epochs=epochs)
            net.notify("on_train_end", X=dataset, y=None)
        module.eval()
        self.net_ = net
        self.classes_ = classes_
        self.n_fits_ = fit_index + 1
        return self

    def _first_classes(self, y: np.ndarray, classes: Any) -> np.ndarray:
        source = classes if classes is not None else self.classes
        if source is not None:
            classes_ = np.unique(np.asarray(source))
            name = "classes"
            _check_known_labels(y, classes_, name=name)
        else:
            classes_ = np.unique(y)
        if len(classes_) < 2:
            raise ValueError(
                f"y holds a single class ({classes_.tolist()}) and classes is None; pass "
                f"classes=[...] with all labels (AIFT's first labels may all be of one class)."
            )
        return classes_

    def _activation_dataset(self, module, X, y_enc, m, cache, device) -> _ActivationDataset:
        keys = _candidate_keys(X, max(1, int(self.batch_size) // m))
        fingerprint = self._fingerprint(module, device)
        per_batch = max(1, int(self.batch_size) // m)
        acts: list = []
        module.eval()
        for start in range(0, len(X), per_batch):
            idx = np.arange(start, min(start + per_batch, len(X)))
            acts.extend(self._activations(module, X, idx, keys, cache, fingerprint, device))
        return _ActivationDataset(acts, y_enc, m)

    def _make_net(self, module, device, base, gamma, generator, drop_last: bool) -> NeuralNet:
        head = f"backbone.{module.head_name}"
        param_groups = [
            (f"{head}.bias", {"role": "head_bias", "lr": base["head_bias"]}),
            (f"{head}.*", {"role": "head_weight", "lr": base["head_weight"]}),
            ("*.bias", {"role": "body_bias", "lr": base["body_bias"]}),
        ]
        callbacks = [("aift_lr_schedule", _LRSchedule(base, gamma))]
        callbacks += list(self.callbacks or [])
        return NeuralNet(
            module=module,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.SGD,
            lr=base["body_weight"],
            max_epochs=1,
            batch_size=int(self.batch_size),
            train_split=None,
            callbacks=callbacks,
            warm_start=True,
            verbose=int(self.verbose),
            device=str(device),
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            iterator_train__drop_last=drop_last,
            optimizer__momentum=float(self.momentum),
            optimizer__param_groups=param_groups,
            **self._skorch_kwargs(),
        )

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Save everything needed to continue training exactly.

        The file is a ``torch.save`` dictionary readable with
        ``torch.load(path, weights_only=True)``:

        ``format`` ("sklearn_aift.AIFTNet"), ``version`` (1), ``backbone``,
        ``weights_id``, ``n_classes``, ``classes`` (list) and ``classes_dtype``,
        ``n_fits``, ``seed_base`` (the seed every fit derives its RNG from),
        ``freeze``, ``input_size``, ``module_state`` (the network's state
        dict), ``optimizer_state`` (SGD state dict with momentum buffers),
        ``history`` (skorch history as JSON), ``torch_version``.

        Parameters
        ----------
        path : str or path-like
            Destination file.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.

        Examples
        --------
        >>> import os, tempfile, numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((4, 1, 3, 32, 32), dtype=np.uint8)
        >>> params = dict(backbone="mobilenet_v3_small", weights=None, input_size=32,
        ...               max_epochs=1, random_state=0)
        >>> net = AIFTNet(**params).fit(X, [0, 1, 0, 1])
        >>> path = os.path.join(tempfile.mkdtemp(), "net.pt")
        >>> net.save_checkpoint(path)
        >>> AIFTNet(**params).load_checkpoint(path).n_fits_
        1
        """
        self._check_fitted()
        module = self.net_.module_
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "backbone": module.name,
            "weights_id": module.weights_id,
            "n_classes": int(len(self.classes_)),
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str,
            "n_fits": int(self.n_fits_),
            "seed_base": int(self._seed_base),
            "freeze": int(module.n_frozen),
            "input_size": list(module.input_size),
            "module_state": {k: v.detach().cpu() for k, v in module.backbone.state_dict().items()},
            "optimizer_state": _to_cpu(self.net_.optimizer_.state_dict()),
            "history": json.dumps(self.net_.history_.to_list(), default=float),
            "torch_version": str(torch.__version__),
        }
        torch.save(ckpt, os.fspath(path))

    def load_checkpoint(self, path: str | os.PathLike) -> "AIFTNet":
        """Restore a network saved by :meth:`save_checkpoint`.

        The estimator's ``backbone`` must match the checkpoint's. Weights,
        optimizer state, fit count, classes and RNG seed come from the file
        (read with ``weights_only=True``), so the next ``fit`` continues
        exactly like an uninterrupted run with the same parameters. No
        pretrained weights are needed to load.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save_checkpoint`.

        Returns
        -------
        self : AIFTNet
            The estimator, fitted.

        Raises
        ------
        ValueError
            If the file is not an AIFTNet checkpoint or its backbone differs.

        Examples
        --------
        See :meth:`save_checkpoint`.
        """
        self._check_all_params()
        ckpt = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"path={os.fspath(path)!r} is not an AIFTNet checkpoint.")
        if ckpt.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"Checkpoint {os.fspath(path)!r} has version {ckpt.get('version')!r}; this "
                f"release reads version {CHECKPOINT_VERSION}."
            )
        if ckpt["backbone"] != self.backbone:
            raise ValueError(
                f"Checkpoint {os.fspath(path)!r} holds backbone {ckpt['backbone']!r} but "
                f"backbone={self.backbone!r}; create the AIFTNet with the same backbone."
            )
        device = self._device()
        seed_base = int(ckpt["seed_base"])
        module = self._build_module(int(ckpt["n_classes"]), seed_base, load_weights=False)
        module.backbone.load_state_dict(ckpt["module_state"], strict=True)
        module.weights_id = ckpt["weights_id"]
        module = self._configure(module, device)
        base, gamma, _ = self._lr_plan(int(ckpt["n_fits"]))
        net = self._make_net(module, device, base, gamma, torch.Generator(), drop_last=False)
        net.initialize()
        net.optimizer_.load_state_dict(ckpt["optimizer_state"])
        net.history_ = History(json.loads(ckpt["history"]))
        module.eval()
        self._initial = None
        self._seed_base = seed_base
        self.net_ = net
        self.classes_ = np.asarray(ckpt["classes"], dtype=np.dtype(ckpt["classes_dtype"]))
        self.n_fits_ = int(ckpt["n_fits"])
        return self


# --------------------------------------------------------------------------- helpers
def _candidate_batch(X: Any, start: int, stop: int) -> np.ndarray:
    """Candidates ``start:stop`` as ``(b, m, C, H, W)``: a view for (validated) arrays."""
    if isinstance(X, np.ndarray):
        batch = X[start:stop]
        return batch[:, None] if batch.ndim == 4 else batch
    return materialize(X, np.arange(start, stop))


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def _unique(labels: Any) -> np.ndarray:
    return np.unique(np.asarray(labels))


def _as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.require(pixels, requirements=["C", "W"]))


def _n_outputs(module: _AIFTModule) -> int:
    head = module.backbone.get_submodule(module.head_name)
    return int(head.out_features if isinstance(head, nn.Linear) else head.out_channels)


def _same_labels(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and all(x == z for x, z in zip(a.tolist(), b.tolist()))


def _check_known_labels(y: np.ndarray, classes_: np.ndarray, name: str = "classes_") -> None:
    known = set(classes_.tolist())
    unseen = sorted({v for v in np.unique(y).tolist() if v not in known}, key=str)
    if unseen:
        raise ValueError(
            f"y contains labels {unseen} that are not in {name}={classes_.tolist()}; the "
            f"network's outputs were fixed at the first fit. Pass classes=[...] with all labels "
            f"before the first fit."
        )


def _to_cpu(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
