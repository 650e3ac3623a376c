"""The frozen pass of a study: frozen-prefix activations computed once, shared by every run.

Every method and seed of a comparison starts from the same pretrained
network, so the frozen blocks' outputs over the pool and the test set are
the same for all of them. :func:`study_activations` computes them once (or
reads them back from ``directory``, where an earlier run of the same study
left them), and every run, in this process or in a worker, starts with an
:class:`~sklearn_aift.net.ActivationCache` holding them. Learning from
Scratch is the exception: its frozen blocks are random and differ per seed,
so their fingerprint differs and each scratch run computes its own.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..candidates import candidate_keys
from ..net import ActivationCache, cache_frozen_activations, frozen_fingerprint

logger = logging.getLogger(__name__)


@dataclass
class FrozenActivations:
    """Frozen-prefix activations of a study's candidates, one row per distinct key.

    Attributes
    ----------
    fingerprint : str
        The frozen part's fingerprint (see :class:`~sklearn_aift.net.ActivationCache`).
    keys : ndarray of str of shape (n,)
        Candidate keys, each once.
    values : ndarray of shape (n, m, ...)
        Their activations.
    seconds : float
        Time spent computing them in this process (0 when read back).
    """

    fingerprint: str
    keys: np.ndarray
    values: np.ndarray
    seconds: float = 0.0

    def cache(self, cache: ActivationCache | None = None) -> ActivationCache:
        """An unbounded cache (or ``cache``) holding these activations.

        Parameters
        ----------
        cache : ActivationCache or None, default=None
            A cache to fill; None makes a new unbounded one.

        Returns
        -------
        cache : ActivationCache
        """
        cache = ActivationCache(max_bytes=None) if cache is None else cache
        absent = cache.missing(self.fingerprint, self.keys)
        if len(absent):
            cache.store(self.fingerprint, self.keys[absent].tolist(),
                        torch.from_numpy(np.ascontiguousarray(self.values[absent])))
        return cache


def _files(directory: Path, fingerprint: str) -> tuple[Path, Path]:
    return directory / f"{fingerprint}.npy", directory / f"{fingerprint}.keys.npy"


def _read(directory: Path | None, fingerprint: str) -> tuple[np.ndarray, np.ndarray] | None:
    if directory is None:
        return None
    values_path, keys_path = _files(directory, fingerprint)
    if not (values_path.exists() and keys_path.exists()):
        return None
    try:
        keys = np.load(keys_path, allow_pickle=False)
        values = np.load(values_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable frozen activations in %s: %s", directory, exc)
        return None
    if len(keys) != len(values):
        logger.warning("ignoring frozen activations in %s: %d keys for %d rows", directory,
                       len(keys), len(values))
        return None
    return keys, values


def _write(directory: Path, fingerprint: str, keys: np.ndarray, values: np.ndarray) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    values_path, keys_path = _files(directory, fingerprint)
    for path, array in ((values_path, values), (keys_path, keys)):  # the keys mark it complete
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)


def study_activations(estimator: Any, X_pool: Any, X_test: Any,
                      directory: str | os.PathLike | None = None, *,
                      known: dict[str, FrozenActivations] | None = None,
                      ) -> FrozenActivations | None:
    """The frozen-prefix activations of the pool and the test set, computed once.

    Parameters
    ----------
    estimator : estimator object
        The study's estimator, already set up as a run's (``random_state``
        set). Only an estimator with an ``activation_cache`` parameter that is
        not None, and frozen blocks, has a frozen pass.
    X_pool, X_test : candidate arrays or CandidateSets
        Validated candidates.
    directory : path-like or None, default=None
        Where the activations are kept between runs of the study (one pair of
        ``.npy`` files per fingerprint); read back when every key is there,
        completed and rewritten otherwise.
    known : dict or None, default=None
        Passes already made, by fingerprint: one of them is returned as it is.

    Returns
    -------
    frozen : FrozenActivations or None
        None when the estimator has no frozen pass or its keys are not strings.
    """
    names = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if names.get("activation_cache", None) is None:
        return None
    fingerprint = frozen_fingerprint(estimator)
    if fingerprint is None:
        return None
    if known and fingerprint in known:
        return known[fingerprint]
    pool_keys, test_keys = candidate_keys(X_pool), candidate_keys(X_test)
    if not all(isinstance(k, str) for k in (*pool_keys, *test_keys)):
        return None
    directory = None if directory is None else Path(directory)
    cache = ActivationCache(max_bytes=None)
    stored = _read(directory, fingerprint)
    if stored is not None:
        keys, values = stored
        FrozenActivations(fingerprint, keys, values).cache(cache)
        known = set(keys.tolist())
        if known.issuperset(pool_keys) and known.issuperset(test_keys):
            logger.info("frozen activations read back from %s", directory)
            return FrozenActivations(fingerprint, keys, values)
    start = time.perf_counter()
    for X, keys in ((X_pool, pool_keys), (X_test, test_keys)):
        cache_frozen_activations(estimator, X, cache, keys)
    unique = np.asarray(list(dict.fromkeys((*pool_keys.tolist(), *test_keys.tolist()))))
    values = cache.gather(fingerprint, unique.tolist()).numpy()
    seconds = time.perf_counter() - start
    if directory is not None:
        _write(directory, fingerprint, unique, values)
    return FrozenActivations(fingerprint, unique, values, seconds)
