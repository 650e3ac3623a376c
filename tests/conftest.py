"""Tiny shared fixtures. Tests that train a real network keep images small."""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(
    os.environ.get("SKLEARN_AIFT_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_candidates():
    """12 uint8 candidates x 4 patches x 3 x 32 x 32 with labels that the pixels explain."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 6)
    X = rng.integers(0, 100, size=(12, 4, 3, 32, 32), dtype=np.uint8)
    X[y == 1] += 120  # positives are brighter
    return X, y


@pytest.fixture
def kvasir_dir():
    path = SHARED_DATA / "kvasir_seg_256"
    if not (path / "images").is_dir():
        pytest.skip(f"Kvasir-SEG data not found at {path}")
    return path


@pytest.fixture
def breastmnist_npz():
    path = SHARED_DATA / "medmnist" / "breastmnist_28.npz"
    if not path.is_file():
        pytest.skip(f"BreastMNIST data not found at {path}")
    return path
