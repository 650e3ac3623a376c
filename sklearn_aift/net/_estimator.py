"""AIFTNet: a pretrained CNN, fine-tuned continuously, that classifies candidates.

:class:`AIFTNet` is a scikit-learn classifier over *candidates* (bags of ``m``
augmented patches, see :mod:`sklearn_aift.candidates`). It wraps a torchvision
backbone (:mod:`sklearn_aift.backbones`) and trains it with a skorch
:class:`~skorch.NeuralNet` that it builds inside ``fit``; it does not subclass
skorch, so it follows scikit-learn's estimator rules (``clone``,
``get_params``/``set_params``, ``Pipeline``, ``GridSearchCV``, pickling).
"""

from __future__ import annotations

import logging
import os
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..candidates import check_candidates, check_class_list
from ..utils import inputs_validated
from ._building import build_initial, build_module, initial_signature
from ._cache import ActivationCache
from ._checkpoint import (
    checkpoint_classes,
    checkpoint_dict,
    read_checkpoint,
    restore_history,
    write_checkpoint,
)
from ._module import _AIFTModule, forward_candidates, head_input_hook, n_patches
from ._training import FitResult, fit_network, prepare_net

__all__ = ["AIFTNet"]

logger = logging.getLogger(__name__)

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
    "iterator_train__collate_fn": "nothing (batches are built by AIFTNet's datasets)",
}


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

    With ``warm_start=True`` every ``fit`` after the first continues from the
    current weights (M_t <- F(L, M_{t-1})) with the learning rates of the
    paper's Table 3, restarted in every fit. ``freeze`` keeps the first
    feature blocks frozen and their outputs cached in an
    :class:`ActivationCache`, and ``weights=None`` learns from scratch with
    batch-norm statistics estimated in the first fit. The user guide
    describes each: :ref:`fine-tuning` (continuous fine-tuning, the
    learning-rate schedule, learning from scratch) and :ref:`hardware`
    (freezing and the activation cache).

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
        SGD momentum in [0, 1) (Table 3: μ).
    gamma : float, default=0.95
        Per-epoch learning-rate factor in the first fit (Table 3, AIFT1: γ).
    gamma_incremental : float, default=0.1
        Per-epoch learning-rate factor in every later fit (Table 3, AIFT+: γ).
    max_epochs : int, default=5
        Epochs of the first fit (Table 3, AIFT1).
    max_epochs_incremental : int, default=3
        Epochs of every later fit (Table 3, AIFT+).
    incremental_subset : {"all", "hq"}, default="all"
        What a continued fit (``warm_start=True``, fit number >= 1) trains
        on: ``"all"`` the candidates given; ``"hq"`` those of them not seen by
        an earlier fit plus the seen ones the current network misclassifies.
        The first fit and ``partial_fit`` always train on all of them. The
        candidates seen are remembered by key, not saved in checkpoints (a
        reloaded network's next fit trains on all it is given).
    batch_size : int, default=64
        Patches per training and inference batch.
    input_size : int, (int, int) or None, default=None
        Side (or ``(height, width)``) patches are resized to inside the
        network; None uses the size the backbone's weights were evaluated at
        (224 for AlexNet). Must not be below the backbone's minimum (63 for
        AlexNet).
    freeze : int, default=-1
        Number of leading feature blocks kept frozen; a negative value ``-k``
        freezes all but the last ``k`` blocks (-1: the last block and the
        classifier train). 0 fine-tunes every layer, as in the paper.
        Backbones without feature blocks (ViT, GoogLeNet, Inception v3) train
        whole for any ``freeze <= 0``.
    activation_cache : "auto", ActivationCache or None, default="auto"
        Where frozen-prefix activations are kept: "auto" uses a private cache
        of this instance (1 GiB bound), an :class:`ActivationCache` is shared
        with every net given the same instance (clones included), None disables
        caching. Only used when blocks are frozen.
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
    n_jobs : int or None, default=None
        Parallel jobs the query strategies use to score a pool in chunks
        through joblib (and so on a Dask cluster under
        ``joblib.parallel_config(backend="dask")``); None scores in-process.
        Training and ``predict_patch_proba`` itself are not affected.
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
    n_trained_candidates_ : int
        Candidates the latest fit trained on (fewer than given with
        ``incremental_subset="hq"``).
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
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "gamma_incremental": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_epochs_incremental": [Interval(Integral, 1, None, closed="left")],
        "incremental_subset": [StrOptions({"all", "hq"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "freeze": [Integral],
        "activation_cache": [StrOptions({"auto"}), ActivationCache, None],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "amp": ["boolean"],
        "random_state": ["random_state"],
        "callbacks": [list, None],
        "n_jobs": [Integral, None],
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
        incremental_subset: str = "all",
        batch_size: int = 64,
        input_size: Any = None,
        freeze: int = -1,
        activation_cache: Any = "auto",
        warm_start: bool = True,
        device: Any = "auto",
        amp: bool = False,
        random_state: Any = None,
        callbacks: list | None = None,
        n_jobs: int | None = None,
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
        self.incremental_subset = incremental_subset
        self.batch_size = batch_size
        self.input_size = input_size
        self.freeze = freeze
        self.activation_cache = activation_cache
        self.warm_start = warm_start
        self.device = device
        self.amp = amp
        self.random_state = random_state
        self.callbacks = callbacks
        self.n_jobs = n_jobs
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
        for name in ("max_epochs", "max_epochs_incremental", "batch_size", "freeze", "n_jobs"):
            if isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be an int; got {getattr(self, name)!r} (a bool).")
        if self.classes is not None:
            check_class_list(self.classes)
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

    # ------------------------------------------------------------------ the network it runs
    def _initial_module(self, n_classes: int) -> tuple[_AIFTModule, int]:
        """The network before any fit (M0) and its seed base, built once per signature."""
        signature = initial_signature(self, n_classes)
        cached = getattr(self, "_initial", None)
        if cached is None or cached[0] != signature:
            module, seed_base = build_initial(self, n_classes)
            self._initial = cached = (signature, module, seed_base)
        return cached[1], cached[2]

    def _take_initial_module(self, n_classes: int) -> tuple[_AIFTModule, int]:
        """M0 and its seed base for a first fit, which trains it: this copy is given up."""
        module, seed_base = self._initial_module(n_classes)
        self._initial = None
        return module, seed_base

    def _prefit_n_classes(self) -> int:
        return len(np.unique(np.asarray(self.classes))) if self.classes is not None else 2

    def _inference_module(self, device: torch.device) -> _AIFTModule:
        """The network that predicts (the fitted one, else M0) in the current settings."""
        if hasattr(self, "net_"):
            module = self.net_.module_
        else:
            module, _ = self._initial_module(self._prefit_n_classes())
        return module.configure(self.input_size, self.freeze, self.amp, device)

    def _cache_for(self, module: _AIFTModule) -> ActivationCache | None:
        """The activation cache of ``module``'s frozen prefix, or None when it has none."""
        if module.n_frozen == 0 or self.activation_cache is None:
            return None
        if isinstance(self.activation_cache, ActivationCache):
            return self.activation_cache
        if getattr(self, "_auto_cache", None) is None:
            self._auto_cache = ActivationCache()
        return self._auto_cache

    @property
    def module_(self) -> nn.Module:
        """The fitted network (``net_.module_``)."""
        if not hasattr(self, "net_"):
            raise AttributeError("module_ exists after fit; this AIFTNet is not fitted yet.")
        return self.net_.module_

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
        X, module = self._prepare_forward(X)
        n, m, k = len(X), n_patches(X), _n_outputs(module)
        P = np.empty((n, m, k), dtype=np.float64)

        def collect(rows: np.ndarray, logits: torch.Tensor) -> None:
            proba = torch.softmax(logits.double(), dim=-1)
            P[rows] = proba.cpu().numpy().reshape(len(rows), m, k)

        self._forward(module, X, collect)
        return P

    def _prepare_forward(self, X: Any) -> tuple[Any, _AIFTModule]:
        """The checked candidates and the network ready to predict them on its device.

        ``X`` is checked unless the caller validated it
        (:func:`~sklearn_aift.utils.validated_inputs`, as ``ActiveLearner.query``
        does); the parameters are checked by ``fit``, so only before the first
        fit here, where they build M0.
        """
        if not inputs_validated():
            X = check_candidates(X, allow_empty=True)
        if not hasattr(self, "net_"):
            self._check_all_params()
        return X, self._inference_module(self._device())

    def _forward(self, module: _AIFTModule, X: Any, collect: Any) -> None:
        """One pass over the candidates ``X``: ``collect(rows, logits)`` per batch.

        The one forward path of :meth:`predict_patch_proba` and :meth:`embed`:
        the frozen prefix from the activation cache where it has the
        candidates, the rest of the network in batches.
        """
        if len(X):
            forward_candidates(module, X, self._device(), int(self.batch_size),
                               self._cache_for(module), collect, verbose=bool(self.verbose))

    def embed(self, X: Any) -> np.ndarray:
        """Features of each candidate: the last layer's input, averaged over its patches.

        What the classifier sees (for MobileNetV2, the 1280 pooled features),
        from the current network (before any fit: the pretrained body). The
        cold-start policy of the query strategies clusters these.

        Parameters
        ----------
        X : ndarray of shape (n, m, C, H, W) or (n, C, H, W), or CandidateSet
            Candidates.

        Returns
        -------
        features : ndarray of shape (n, n_features)
            float64 mean patch features.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_aift import AIFTNet
        >>> X = np.zeros((3, 2, 3, 32, 32), dtype=np.uint8)
        >>> AIFTNet("mobilenet_v3_small", weights=None, input_size=32,
        ...         random_state=0).embed(X).shape
        (3, 1024)
        """
        X, module = self._prepare_forward(X)
        m, captured, parts = n_patches(X), [], []

        def collect(rows: np.ndarray, logits: torch.Tensor) -> None:
            feats = captured.pop().flatten(1).double().cpu().numpy()
            parts.append(feats.reshape(len(rows), m, -1).mean(axis=1))

        hook = head_input_hook(module, captured)
        try:
            self._forward(module, X, collect)
        finally:
            hook.remove()
        if not parts:
            return np.empty((0, 0), dtype=np.float64)
        return np.concatenate(parts)

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
        return self._set_fitted(fit_network(self, X, y, classes=None, partial=False))

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
        return self._set_fitted(fit_network(self, X, y, classes=classes, partial=True))

    def _set_fitted(self, fitted: FitResult) -> "AIFTNet":
        """Assign the fitted state (from a fit or a checkpoint): the one place it is written."""
        self.net_ = fitted.net
        self.classes_ = fitted.classes
        self.n_fits_ = fitted.n_fits
        if fitted.n_trained_candidates is not None:
            self.n_trained_candidates_ = fitted.n_trained_candidates
        if fitted.seen_keys is not None:
            self._seen_keys = fitted.seen_keys
        if fitted.seed_base is not None:
            self._seed_base = fitted.seed_base
        return self

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
        OSError
            If the file cannot be written; a full disk says "no space left on
            device while writing" and the file's path.

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
        write_checkpoint(checkpoint_dict(self), path)

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
        ckpt = read_checkpoint(path, self.backbone)
        device = self._device()
        seed_base, n_fits = int(ckpt["seed_base"]), int(ckpt["n_fits"])
        module = build_module(self, int(ckpt["n_classes"]), seed_base, load_weights=False)
        module.backbone.load_state_dict(ckpt["module_state"], strict=True)
        module.weights_id = ckpt["weights_id"]
        module = module.configure(self.input_size, self.freeze, self.amp, device)
        optimizer_state = None
        if int(ckpt["freeze"]) == module.n_frozen:
            optimizer_state = ckpt["optimizer_state"]["state"]
        else:
            logger.info("the checkpoint was trained with %s frozen blocks, this net freezes %s: "
                        "its optimizer starts without momentum buffers", ckpt["freeze"],
                        module.n_frozen)
        net = prepare_net(self, module, device, n_fits, torch.Generator(),
                          optimizer_state=optimizer_state, history=restore_history(ckpt))
        module.set_mode(False)
        self._initial = None
        return self._set_fitted(FitResult(net, checkpoint_classes(ckpt), n_fits,
                                          seed_base=seed_base))


# --------------------------------------------------------------------------- helpers


def _positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def _n_outputs(module: _AIFTModule) -> int:
    head = module.backbone.get_submodule(module.head_name)
    return int(head.out_features if isinstance(head, nn.Linear) else head.out_channels)
