"""The label-efficiency datasets: pools, test sets and budgets, shared by the benchmark scripts.

Every pool is materialised once as a uint8 array (its candidate digests are
then computed once per run). Every pool holds at least 300 candidates, so the
benchmark's full budget (100 labels) is at most a third of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".." / "shared" / "data"
NAMES = ("kvasir_balanced", "kvasir_imbalanced", "breastmnist", "synthetic")
#: Video-like pools (near-duplicate candidates), for the peer comparison.
VIDEO_NAMES = ("kvasir_video", "synthetic_sequence")


@dataclass
class Dataset:
    name: str
    description: str
    X_pool: np.ndarray
    y_pool: np.ndarray
    groups_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    positive: Any


def _kvasir(data_root: Path, imbalanced: bool) -> Dataset:
    from sklearn_aift.augment import BoxProtocol
    from sklearn_aift.datasets import load_kvasir_seg

    kwargs = dict(negatives_per_frame=3, hard_negatives_per_frame=2, max_frames=300) \
        if imbalanced else dict(negatives_per_frame=1)
    b = load_kvasir_seg(data_root / "kvasir_seg_256", protocol=BoxProtocol(patch_size=64, shift=0),
                        test_size=0.3, random_state=0, **kwargs)
    tr, te = b.train_index, b.test_index
    kind = ("imbalanced: 3 random + 2 hard negatives (touching a polyp) per frame, 300 frames"
            if imbalanced else "balanced: one polyp box and one mucosa box per frame")
    return Dataset(
        name="kvasir_imbalanced" if imbalanced else "kvasir_balanced",
        description=f"Kvasir-SEG polyp candidates, {kind}; frame-wise 70/30 split; 24 patches "
        f"(3 scales x 8 dihedral) of 64 px",
        X_pool=np.asarray(b.data[tr]), y_pool=b.target[tr], groups_pool=b.groups[tr],
        X_test=np.asarray(b.data[te]), y_test=b.target[te], positive=1,
    )


def _breastmnist(data_root: Path) -> Dataset:
    from sklearn_aift.datasets import load_medmnist

    path = data_root / "medmnist" / "breastmnist_28.npz"
    train = load_medmnist(path, "train")
    test = load_medmnist(path, "test")
    return Dataset(
        name="breastmnist",
        description="BreastMNIST ultrasound, official train (pool) and test splits; positive = "
        "malignant (label 0); 21 random crops (50-100% of the side) of 28 px, upsampled to 64",
        X_pool=np.asarray(train.data), y_pool=train.target,
        groups_pool=np.arange(len(train.target)),
        X_test=np.asarray(test.data), y_test=test.target, positive=0,
    )


def _synthetic() -> Dataset:
    from sklearn_aift.datasets import make_colonoscopy_frames

    pool = make_colonoscopy_frames(600, random_state=0)
    test = make_colonoscopy_frames(300, random_state=1)
    return Dataset(
        name="synthetic",
        description="synthetic colonoscopy frames (the embedded default): about 20% "
        "informative, a third of each class near the 75% threshold; 21 patches of 48 px",
        X_pool=np.asarray(pool.data), y_pool=pool.target, groups_pool=np.arange(600),
        X_test=np.asarray(test.data), y_test=test.target, positive=1,
    )


def _kvasir_video(data_root: Path) -> Dataset:
    from sklearn_aift.augment import BoxProtocol
    from sklearn_aift.datasets import load_kvasir_seg_video

    b = load_kvasir_seg_video(data_root / "kvasir_seg_256", views_per_frame=4,
                              protocol=BoxProtocol(patch_size=64, shift=0), test_size=0.3,
                              negatives_per_frame=1, max_frames=200, random_state=0)
    tr, te = b.train_index, b.test_index
    return Dataset(
        name="kvasir_video",
        description="Kvasir-SEG video-like: one polyp box and one mucosa box per frame, each "
        "seen as 4 views (box moved by up to 10% of its side, rescaled x0.85-1.15, blurred "
        "sigma 0-1.5 px), 200 frames; frame-wise 70/30 split (all views of a frame on one "
        "side); 24 patches (3 scales x 8 dihedral) of 64 px",
        X_pool=np.asarray(b.data[tr]), y_pool=b.target[tr], groups_pool=b.groups[tr],
        X_test=np.asarray(b.data[te]), y_test=b.target[te], positive=1,
    )


def _synthetic_sequence() -> Dataset:
    from sklearn_aift.datasets import make_colonoscopy_frames

    pool = make_colonoscopy_frames(600, sequence_length=8, random_state=0)
    test = make_colonoscopy_frames(300, sequence_length=8, random_state=1)
    return Dataset(
        name="synthetic_sequence",
        description="synthetic colonoscopy sequences: runs of 8 frames of one scene under a "
        "moving camera (drift, zoom, focus, lighting, highlights); 21 patches of 48 px; test "
        "scenes drawn separately",
        X_pool=np.asarray(pool.data), y_pool=pool.target, groups_pool=pool.scene,
        X_test=np.asarray(test.data), y_test=test.target, positive=1,
    )


def load(name: str, data_root: Path = DATA) -> Dataset:
    """The dataset ``name`` (one of :data:`NAMES` or :data:`VIDEO_NAMES`)."""
    if name == "kvasir_balanced":
        return _kvasir(Path(data_root), imbalanced=False)
    if name == "kvasir_imbalanced":
        return _kvasir(Path(data_root), imbalanced=True)
    if name == "breastmnist":
        return _breastmnist(Path(data_root))
    if name == "synthetic":
        return _synthetic()
    if name == "kvasir_video":
        return _kvasir_video(Path(data_root))
    if name == "synthetic_sequence":
        return _synthetic_sequence()
    raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(NAMES + VIDEO_NAMES)}.")


def tuning_split(ds: Dataset, fraction: float = 0.3, seed: int = 123):
    """A split of the training pool only (by group): (X_fit, y_fit, X_val, y_val)."""
    groups = np.unique(ds.groups_pool)
    rng = np.random.default_rng(seed)
    val_groups = rng.choice(groups, size=int(fraction * len(groups)), replace=False)
    is_val = np.isin(ds.groups_pool, val_groups)
    return ds.X_pool[~is_val], ds.y_pool[~is_val], ds.X_pool[is_val], ds.y_pool[is_val]
