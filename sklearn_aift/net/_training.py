"""Fitting AIFTNet: one fit of the continuous fine-tuning, with its safeguards."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from torch import nn

from ..candidates import (
    KeyedCandidates,
    candidate_keys,
    check_candidate_labels,
    check_candidates,
    iter_candidate_batches,
)
from ..utils import derive_seed
from ._data import ActivationDataset, PatchDataset, ShuffledBatches, keep_batch
from ._module import _AIFTModule, cached_input, forward_candidates, frozen_activations, n_patches
from ._schedule import LRSchedule, learning_rate_plan, parameter_groups

logger = logging.getLogger("sklearn_aift.net")


class _TrainableNet(NeuralNet):
    """skorch's NeuralNet whose optimizer holds only the parameters that train.

    With most blocks frozen, an SGD step over every parameter (most without
    gradients) cost more than the step itself.
    """

    def get_all_learnable_params(self):
        for name, param in super().get_all_learnable_params():
            if param.requires_grad:
                yield name, param


def continuing(est, partial: bool) -> bool:
    if not hasattr(est, "net_") or not (partial or est.warm_start):
        return False
    if est.net_.module_.name != est.backbone:
        return False
    if est.classes is not None and not _same_labels(_unique(est.classes), est.classes_):
        return False
    return True


@dataclass
class FitResult:
    """What a fit returns for :class:`AIFTNet` to keep (``AIFTNet._set_fitted``).

    Attributes
    ----------
    net : skorch.NeuralNet
        The skorch net of the fit (``net_``).
    classes : ndarray
        ``classes_``.
    n_fits : int
        ``n_fits_`` after the fit.
    n_trained_candidates : int or None
        ``n_trained_candidates_`` (None from a checkpoint).
    seen_keys : set or None
        The candidates fits have seen, for ``incremental_subset="hq"``.
    seed_base : int or None
        The seed every fit derives its generator from, when this fit (or
        checkpoint) set it: a fit that started from M0 takes M0's.
    """

    net: Any
    classes: np.ndarray
    n_fits: int
    n_trained_candidates: int | None = None
    seen_keys: set | None = None
    seed_base: int | None = None


def fit_network(est, X: Any, y: Any, *, classes: Any, partial: bool) -> FitResult:
    """Fine-tune ``est``'s network on ``(X, y)``: one fit or one ``partial_fit`` epoch.

    Reads ``est``'s parameters and fitted state and returns the new state;
    writes nothing into ``est``.
    """
    est._check_all_params()
    X = check_candidates(X)
    y = check_candidate_labels(y, len(X))
    device = est._device()
    if continuing(est, partial):
        new_classes = None if classes is None else _unique(classes)
        if partial and new_classes is not None and not _same_labels(new_classes, est.classes_):
            raise ValueError(
                f"classes={_unique(classes).tolist()} differs from classes_="
                f"{list(est.classes_)} set at the first fit."
            )
        _check_known_labels(y, est.classes_)
        module = est.net_.module_
        fit_index = est.n_fits_
        optimizer_state = est.net_.optimizer_.state_dict()["state"]
        trained_before = module.n_frozen
        history = est.net_.history_
        classes_ = est.classes_
        seed_base, new_seed_base = est._seed_base, None
    else:
        classes_ = first_classes(est, y, classes if partial else None)
        module, seed_base = est._take_initial_module(len(classes_))
        new_seed_base = seed_base
        fit_index, optimizer_state, history = 0, None, None
        trained_before = None
    module = module.configure(est.input_size, est.freeze, est.amp, device)
    if trained_before is not None and trained_before != module.n_frozen:
        logger.info("freeze changed: the optimizer starts without momentum buffers")
        optimizer_state = None
    check_batch_size(est, module)
    seen_after = None
    if est.incremental_subset == "hq" and not partial:
        X, y, seen_after = hq_subset(est, module, X, y, classes_, device, fit_index)
        if not len(X):  # nothing new and nothing misclassified: the network stays as it is
            return FitResult(est.net_, classes_, fit_index + 1, 0, seen_after, new_seed_base)
    if fit_index == 0 and est.weights is None:
        per_batch = max(1, int(est.batch_size) // n_patches(X))
        module.calibrate_norms(
            torch.from_numpy(np.ascontiguousarray(batch.reshape(-1, *batch.shape[-3:])))
            for _, batch in iter_candidate_batches(X, per_batch)
        )
    y_enc = np.searchsorted(classes_, y)
    _, _, epochs = learning_rate_plan(est, fit_index)
    if partial:
        epochs = 1
    n_items = len(X) * n_patches(X)
    seed = derive_seed(seed_base, 1, fit_index)
    # a last batch of one patch would break batch norm in training mode: drop it
    drop_last = n_items > 1 and n_items % est.batch_size == 1
    net = prepare_net(est, module, device, fit_index, torch.Generator().manual_seed(seed),
                      drop_last=drop_last, optimizer_state=optimizer_state, history=history)
    cache = est._cache_for(module)
    dataset = training_dataset(est, module, X, y_enc, cache, device)
    before = trainable_state(module)
    devices = [device.index or 0] if device.type == "cuda" else []
    module.set_mode(True)  # once per fit; skorch's per-step train() calls are then free
    with torch.random.fork_rng(devices=devices), cached_input(module, cache is not None):
        torch.manual_seed(seed)
        net.notify("on_train_begin", X=dataset, y=None)
        net.fit_loop(dataset, None, epochs=epochs)
        net.notify("on_train_end", X=dataset, y=None)
    module.set_mode(False)
    check_converged(est, module, net, dataset, cache is not None, before, fit_index)
    return FitResult(net, classes_, fit_index + 1, len(X), seen_after, new_seed_base)


def prepare_net(est, module: _AIFTModule, device: torch.device, fit_index: int,
                generator: torch.Generator, *, drop_last: bool = False,
                optimizer_state: dict | None = None, history: Any = None) -> NeuralNet:
    """The initialised skorch net of fit number ``fit_index`` around ``module``.

    The one place a fit and :meth:`AIFTNet.load_checkpoint` make their net:
    the learning rates of that fit, the optimizer's per-parameter state
    (momentum buffers) and the history carried over.
    """
    base, gamma, _ = learning_rate_plan(est, fit_index)
    net = make_skorch_net(est, module, device, base, gamma, generator, drop_last=drop_last)
    net.initialize()
    if optimizer_state is not None:
        state = net.optimizer_.state_dict()
        state["state"] = optimizer_state
        net.optimizer_.load_state_dict(state)
    if history is not None:
        net.history_ = history
    return net


def hq_subset(est, module: _AIFTModule, X: Any, y: np.ndarray, classes_: np.ndarray,
              device: torch.device, fit_index: int) -> tuple[Any, np.ndarray, set]:
    """ACFT's HQ set: candidates no earlier fit saw, plus seen ones the network misclassifies.

    Returns the selected candidates, their labels and the keys seen after this fit.
    The first fit keeps every candidate.
    """
    keys = candidate_keys(X)
    seen = getattr(est, "_seen_keys", None) if fit_index > 0 else None
    seen_after = set(keys.tolist()) | (seen or set())
    if not seen:
        return X, y, seen_after
    if isinstance(X, np.ndarray):
        X = KeyedCandidates(X, keys)  # indexing keeps the keys: no pixel is digested again
    old = np.flatnonzero([k in seen for k in keys.tolist()])
    keep = np.ones(len(y), dtype=bool)
    if len(old):
        m = n_patches(X)
        votes = np.empty((len(old), len(classes_)))

        def collect(rows: np.ndarray, logits: torch.Tensor) -> None:
            proba = torch.softmax(logits.double(), dim=-1).cpu().numpy()
            votes[rows] = proba.reshape(len(rows), m, -1).mean(axis=1)

        forward_candidates(module, X[old], device, int(est.batch_size), est._cache_for(module),
                           collect)
        keep[old] = classes_[np.argmax(votes, axis=1)] != y[old]
    rows = np.flatnonzero(keep)
    logger.info("fit %d trains on %d of %d candidates (%d new, %d misclassified)", fit_index,
                len(rows), len(y), len(y) - len(old), len(rows) - (len(y) - len(old)))
    return X[rows], y[rows], seen_after


def trainable_state(module: _AIFTModule) -> dict:
    """A copy of the state a fit can change: every entry outside the frozen blocks.

    Frozen blocks hold most of the weights and never change in a fit, so they
    are not copied (a copy of the whole network cost more than a head-only fit).
    """
    frozen = tuple(f"{qual}." for block in module.frozen_blocks()
                   for qual in block)
    return {k: v.clone() for k, v in module.backbone.state_dict().items()
            if not k.startswith(frozen)}


def check_batch_size(est, module: _AIFTModule) -> None:
    trainable_norms = any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None
        and m.weight.requires_grad
        for m in module.backbone.modules()
    )
    if int(est.batch_size) < 2 and trainable_norms:
        raise ValueError(
            f"batch_size={est.batch_size} cannot train the batch-norm layers of the "
            f"trainable blocks of {module.name!r} (they need at least 2 patches per batch); "
            f"use batch_size >= 2, or freeze those blocks."
        )


# a mean cross-entropy this large means logits off by thousands: the fit exploded
_EXPLODED_LOSS = 1e3


def check_converged(est, module: _AIFTModule, net: NeuralNet, dataset: Any,
                     from_cache: bool, before: dict, fit_index: int) -> None:
    """Raise, with the weights restored, when the fit's loss exploded or outputs are not finite.

    Weights can stay finite while the logits overflow, so the network is
    also run (in eval mode) on the first training batch.
    """
    losses = [row.get("train_loss") for row in net.history_[-1:]]
    finite_loss = all(loss is None or abs(loss) < _EXPLODED_LOSS for loss in losses)
    inputs, _ = dataset.__getitems__(list(range(min(len(dataset), int(est.batch_size)))))
    with torch.inference_mode(), cached_input(module, from_cache):
        finite_outputs = bool(torch.isfinite(module(inputs.to(module.mean.device))).all())
    if finite_loss and finite_outputs:
        return
    module.backbone.load_state_dict(before, strict=False)
    base, _, _ = learning_rate_plan(est, fit_index)
    names = "lr, head_lr" if fit_index == 0 else "lr_incremental, head_lr_incremental"
    raise FloatingPointError(
        f"fine-tuning diverged in fit {fit_index} (training loss {_shown(losses[-1])}, finite "
        f"outputs: {finite_outputs}) with body learning rate {base['body_weight']:g}, "
        f"head learning rate {base['head_weight']:g} and momentum {est.momentum:g}; lower "
        f"them ({names}, momentum). The weights before this fit were kept."
    )


def first_classes(est, y: np.ndarray, classes: Any) -> np.ndarray:
    source = classes if classes is not None else est.classes
    if source is not None:
        classes_ = np.unique(np.asarray(source))
        _check_known_labels(y, classes_, name="classes")
    else:
        classes_ = np.unique(y)
    if len(classes_) < 2:
        raise ValueError(
            f"y holds a single class ({classes_.tolist()}) and classes is None; pass "
            f"classes=[...] with all labels (AIFT's first labels may all be of one class)."
        )
    return classes_


def training_dataset(est, module, X, y_enc, cache, device):
    if cache is None:
        return PatchDataset(X, y_enc, n_patches(X))
    rows = np.arange(len(X))
    acts = frozen_activations(module, X, rows, candidate_keys(X), cache, device,
                              int(est.batch_size))
    return ActivationDataset(acts, y_enc)


def make_skorch_net(est, module, device, base, gamma, generator, drop_last: bool) -> NeuralNet:
    callbacks = [("aift_lr_schedule", LRSchedule(base, gamma))]
    callbacks += list(est.callbacks or [])
    extra = est._skorch_kwargs()
    # the DataLoader's batches without its per-batch cost, unless loader settings are given
    loader = ({} if any(k.startswith("iterator_train__") for k in extra)
              else {"iterator_train": ShuffledBatches})
    return _TrainableNet(
        module=module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD,
        lr=base["body_weight"],
        max_epochs=1,
        batch_size=int(est.batch_size),
        train_split=None,
        callbacks=callbacks,
        warm_start=True,
        verbose=int(est.verbose),
        device=str(device),
        iterator_train__shuffle=True,
        iterator_train__generator=generator,
        iterator_train__drop_last=drop_last,
        iterator_train__collate_fn=keep_batch,
        optimizer__momentum=float(est.momentum),
        optimizer__param_groups=parameter_groups(module.head_name, base),
        **loader,
        **extra,
    )


def _unique(labels: Any) -> np.ndarray:
    return np.unique(np.asarray(labels))


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


def _shown(loss: Any) -> str:
    return "unknown" if loss is None else f"{float(loss):.4g}"
