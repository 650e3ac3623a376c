"""Checkpoints of AIFTNet: everything needed to continue training exactly."""

from __future__ import annotations

import errno
import json
import os
import shutil
from typing import Any

import numpy as np
import torch
from skorch.history import History

CHECKPOINT_FORMAT = "sklearn_aift.AIFTNet"
CHECKPOINT_VERSION = 1


# below this much free space, a failed write is taken for a full disk
_LOW_SPACE = 64 * 2**20


def write_checkpoint(ckpt: dict, path: Any) -> None:
    """``torch.save`` with its failures said plainly (a full disk names the file)."""
    path = os.fspath(path)
    try:
        torch.save(ckpt, path)
    except (OSError, RuntimeError) as exc:
        try:
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
        except OSError:
            free = None
        if getattr(exc, "errno", None) == errno.ENOSPC or (free is not None and free < _LOW_SPACE):
            raise OSError(
                errno.ENOSPC, f"no space left on device while writing the checkpoint {path}"
            ) from exc
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise OSError(f"cannot write the checkpoint {path}: {reason}") from exc


def checkpoint_dict(net) -> dict:
    """The checkpoint of a fitted :class:`~sklearn_aift.net.AIFTNet` as a plain dict."""
    module = net.net_.module_
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "backbone": module.name,
        "weights_id": module.weights_id,
        "n_classes": int(len(net.classes_)),
        "classes": net.classes_.tolist(),
        "classes_dtype": net.classes_.dtype.str,
        "n_fits": int(net.n_fits_),
        "seed_base": int(net._seed_base),
        "freeze": int(module.n_frozen),
        "input_size": list(module.input_size),
        "module_state": {k: v.detach().cpu() for k, v in module.backbone.state_dict().items()},
        "optimizer_state": _to_cpu(net.net_.optimizer_.state_dict()),
        "history": json.dumps(net.net_.history_.to_list(), default=float),
        "torch_version": str(torch.__version__),
    }


def read_checkpoint(path: str | os.PathLike, backbone: str) -> dict:
    """Read and check a checkpoint file written for ``backbone``."""
    ckpt = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"path={os.fspath(path)!r} is not an AIFTNet checkpoint.")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"Checkpoint {os.fspath(path)!r} has version {ckpt.get('version')!r}; this "
            f"release reads version {CHECKPOINT_VERSION}."
        )
    if ckpt["backbone"] != backbone:
        raise ValueError(
            f"Checkpoint {os.fspath(path)!r} holds backbone {ckpt['backbone']!r} but "
            f"backbone={backbone!r}; create the AIFTNet with the same backbone."
        )
    return ckpt


def restore_history(ckpt: dict) -> History:
    """The skorch history stored in a checkpoint."""
    return History(json.loads(ckpt["history"]))


def checkpoint_classes(ckpt: dict) -> np.ndarray:
    """The ``classes_`` stored in a checkpoint, with their dtype."""
    return np.asarray(ckpt["classes"], dtype=np.dtype(ckpt["classes_dtype"]))


def _to_cpu(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
