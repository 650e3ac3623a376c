"""Training data for skorch: patches (or their cached activations) with candidate labels.

Both datasets return whole batches from ``__getitems__`` (one gather per
batch, not one per patch); the net's loader uses :func:`keep_batch` as its
``collate_fn``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..candidates import materialize


def keep_batch(batch: Any) -> Any:
    """The identity ``collate_fn``: datasets here already return ``(X, y)`` batches."""
    return batch


class PatchDataset(torch.utils.data.Dataset):
    """Raw patches of candidates, each with its candidate's label; read per batch."""

    def __init__(self, X: Any, y: np.ndarray, n_patches: int):
        self.X = X
        self.y = np.asarray(y, dtype=np.int64)
        self.m = n_patches

    def __len__(self) -> int:
        return len(self.y) * self.m

    def __getitem__(self, index: int):
        X, y = self.__getitems__([index])
        return X[0], y[0]

    def __getitems__(self, indices: list) -> tuple[torch.Tensor, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.intp)
        cand, patch = np.divmod(indices, self.m)
        unique, inverse = np.unique(cand, return_inverse=True)
        pixels = np.require(materialize(self.X, unique)[inverse, patch], requirements=["C", "W"])
        return torch.from_numpy(pixels), torch.from_numpy(self.y[cand])


class ActivationDataset(torch.utils.data.Dataset):
    """Cached activations ``(n, m, ...)`` of candidates, one item per patch."""

    def __init__(self, activations: torch.Tensor, y: np.ndarray):
        self.n, self.m = activations.shape[:2]
        self.flat = activations.reshape(self.n * self.m, *activations.shape[2:])
        self.y = torch.from_numpy(np.repeat(np.asarray(y, dtype=np.int64), self.m))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int):
        return self.flat[index], self.y[index]

    def __getitems__(self, indices: list) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.int64)
        return self.flat[index], self.y[index]


class ShuffledBatches:
    """The batches of ``DataLoader(dataset, batch_size, shuffle=True, generator=generator)``.

    The same batches in the same order, drawing the same numbers from
    ``generator`` (the loader's base-seed draw and its sampler's two
    permutations per epoch), without the loader's per-batch machinery: one
    ``dataset.__getitems__`` per batch with a tensor of indices. Built by
    skorch as its training iterator (``iterator_train``).
    """

    def __init__(self, dataset: Any, batch_size: int, shuffle: bool = True,
                 generator: torch.Generator | None = None, drop_last: bool = False,
                 collate_fn: Any = None) -> None:
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = torch.Generator() if generator is None else generator
        self.drop_last = drop_last

    def __len__(self) -> int:
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n, b = len(self.dataset), self.batch_size
        if self.shuffle:
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
            order = torch.randperm(n, generator=self.generator)
            torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            yield self.dataset.__getitems__(order[start:start + b])
