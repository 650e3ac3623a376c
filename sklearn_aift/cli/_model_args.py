"""The network options of the ``sklearn-aift`` sub-commands and the network they build.

``demo``, ``compare`` and ``label`` describe their model with the same options
(:func:`add_model_arguments`) and build it with one factory
(:func:`make_estimator`); only their defaults differ.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import UsageError, any_int, image_side, positive_float, positive_int

# command-line option -> AIFTNet parameter, for the training options
_TRAINING_PARAMS = {
    "freeze": "freeze",
    "epochs": "max_epochs",
    "epochs_incremental": "max_epochs_incremental",
    "lr": "lr",
    "lr_incremental": "lr_incremental",
    "head_lr": "head_lr",
    "head_lr_incremental": "head_lr_incremental",
    "gamma_incremental": "gamma_incremental",
}


def add_model_arguments(parser: argparse.ArgumentParser, *, backbone: str | None,
                        backbone_help: str, weights: str | None, weights_help: str) -> None:
    """Add ``--backbone``, ``--weights``, ``--input-size`` and ``--device`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A sub-command's parser.
    backbone, weights : str or None
        The sub-command's defaults.
    backbone_help, weights_help : str
        What the defaults mean, for ``--help``.
    """
    parser.add_argument("--backbone", default=backbone, help=backbone_help)
    parser.add_argument("--weights", default=weights, help=weights_help)
    parser.add_argument("--input-size", type=image_side, default=64,
                        help="side patches are resized to inside the network (default: 64)")
    add_device_argument(parser)


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A sub-command's parser.
    """
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the fine-tuning options (``--freeze``, ``--epochs``, the learning rates).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A sub-command's parser; :func:`training_params` reads the options back.
    """
    parser.add_argument("--freeze", type=any_int, default=-1,
                        help="leading feature blocks kept frozen, their activations computed "
                        "once and cached; -k freezes all but the last k (default: -1, the last "
                        "block and the classifier are fine-tuned: real fine-tuning a CPU "
                        "affords; 0 fine-tunes every layer, as the paper did, a GPU's setting)")
    parser.add_argument("--epochs", type=positive_int, default=5,
                        help="epochs of the first fine-tuning (default: 5)")
    parser.add_argument("--epochs-incremental", type=positive_int, default=3,
                        help="epochs of every later fine-tuning (default: 3)")
    parser.add_argument("--lr", type=positive_float, default=1e-3,
                        help="learning rate of the trainable body layers in the first fit "
                        "(default: 1e-3)")
    parser.add_argument("--lr-incremental", type=positive_float, default=1e-3,
                        help="learning rate of the trainable body layers in every later fit "
                        "(default: 1e-3, a tenth of --head-lr-incremental as in Table 3)")
    parser.add_argument("--head-lr", type=positive_float, default=0.01,
                        help="learning rate of the last layer in the first fit (default: 0.01)")
    parser.add_argument("--head-lr-incremental", type=positive_float, default=0.01,
                        help="learning rate of the last layer in every later fit "
                        "(default: 0.01)")
    parser.add_argument("--gamma-incremental", type=positive_float, default=0.5,
                        help="per-epoch learning-rate factor in every later fit (default: 0.5)")


def training_params(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~sklearn_aift.AIFTNet` parameters of :func:`add_training_arguments`' options.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by a parser given :func:`add_training_arguments`.

    Returns
    -------
    params : dict
        AIFTNet parameter names mapped to the options' values.
    """
    return {param: getattr(args, option) for option, param in _TRAINING_PARAMS.items()}


def make_estimator(backbone: str, weights: Any, **params: Any) -> Any:
    """The network every sub-command fine-tunes: an AIFTNet with batches of 64.

    Parameters
    ----------
    backbone : str
        A torchvision model name.
    weights : str, path or None
        Torchvision weights name or state-dict file; ``None`` or ``"none"``
        (any case) starts from random weights.
    **params
        Other :class:`~sklearn_aift.AIFTNet` parameters (``input_size``,
        ``device``, ``freeze``, ``max_epochs``, ...); the rest keep AIFTNet's
        defaults.

    Returns
    -------
    estimator : AIFTNet
        Not fitted.
    """
    from ..net import AIFTNet

    if isinstance(weights, str) and weights.lower() == "none":
        weights = None
    return AIFTNet(backbone, weights=weights, **{"batch_size": 64, **params})


def check_model(estimator: Any, X: Any) -> None:
    """Build the network and predict one candidate, so bad model arguments fail before any work.

    Parameters
    ----------
    estimator : AIFTNet
        The sub-command's network (a clone is built; ``estimator`` is untouched).
    X : candidate array or CandidateSet
        Candidates, the first of which is predicted.

    Raises
    ------
    UsageError
        Naming what is wrong (backbone, weights, device, sizes), in one line.
    """
    import numpy as np
    from sklearn.base import clone

    try:
        clone(estimator).set_params(activation_cache=None).predict_patch_proba(
            X[np.array([0])]
        )
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        raise UsageError(" ".join(str(exc).split()) or type(exc).__name__) from None
