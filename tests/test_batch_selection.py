"""Tests for the batch-aware AIFT selection (batch="randomized" / "diverse")."""

import os

import numpy as np
import pytest
import torch

from sklearn_aift.candidates import candidate_keys
from sklearn_aift.strategies import aift_sampling, entropy_diversity_quarter


MOBILENET_V2_FILE = os.path.join(torch.hub.get_dir(), "checkpoints", "mobilenet_v2-b0353104.pth")


class PixelNet:
    """Patch probabilities from each patch's mean brightness; features from the pixels."""

    def predict_patch_proba(self, X):
        X = np.asarray(X, dtype=float)
        q = 0.2 + 0.6 * X.mean(axis=(2, 3, 4)) / 255.0
        return np.stack([1 - q, q], axis=-1)

    def embed(self, X):
        X = np.asarray(X, dtype=float)
        return X.mean(axis=1).reshape(len(X), -1)


def _groups_pool(rng, n_groups=5, copies=10, noise=3, shape=(2, 3, 8, 8)):
    base = rng.integers(40, 215, size=(n_groups, *shape))
    X = np.repeat(base, copies, axis=0)
    X = X + rng.integers(-noise, noise + 1, size=X.shape)
    return np.clip(X, 0, 255).astype(np.uint8), np.repeat(np.arange(n_groups), copies)


@pytest.mark.parametrize("batch", ["randomized", "diverse"])
def test_batch_aware_selection_never_returns_identical_content(rng, batch):
    X = rng.integers(0, 256, size=(30, 2, 3, 8, 8)).astype(np.uint8)
    best = aift_sampling()(PixelNet(), X, n_instances=1)[0][0]
    X[np.setdiff1d(np.arange(10, 22), best)] = X[best]  # copies of the best candidate
    strategy = aift_sampling(batch=batch, omega=2)
    top, _ = aift_sampling()(PixelNet(), X, n_instances=8)
    for seed in range(5):
        picked, scores = strategy(PixelNet(), X, n_instances=8, random_state=seed, exclude=[0])
        keys = candidate_keys(X[picked])
        assert len(picked) == 8 and len(set(keys.tolist())) == 8
        assert 0 not in picked.tolist()
    # the paper's top-b does return copies here: the check above is not vacuous
    assert len(set(candidate_keys(X[top]).tolist())) < len(top)


def test_diverse_batch_covers_every_group_of_near_copies(rng):
    """Ten near-copies (a few grey levels of noise) of five candidates: one of each."""
    if not os.path.isfile(MOBILENET_V2_FILE):
        pytest.skip(f"{MOBILENET_V2_FILE} is missing; `make weights` installs it")
    from sklearn_aift import AIFTNet

    X, groups = _groups_pool(rng, shape=(2, 3, 32, 32))
    # past the cold start: a bare estimator is never in it (the AIFT criterion ranks)
    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, random_state=0,
                  device="cpu")
    picked, _ = aift_sampling(batch="diverse")(net, X, n_instances=5)
    assert sorted(groups[picked].tolist()) == [0, 1, 2, 3, 4]
    top, _ = aift_sampling()(net, X, n_instances=5)
    assert len(set(groups[top].tolist())) < 5  # near-copies rank together


def test_diverse_batch_starts_with_the_best_and_follows_k_center(rng):
    X, groups = _groups_pool(rng, noise=2)
    picked, scores = aift_sampling(batch="diverse", omega=10)(PixelNet(), X, n_instances=5)
    best, best_score = aift_sampling()(PixelNet(), X, n_instances=1)
    assert picked[0] == best[0] and scores[0] == best_score[0]
    assert sorted(groups[picked].tolist()) == [0, 1, 2, 3, 4]


def test_randomized_batch_is_drawn_from_the_shortlist(rng):
    X = rng.integers(0, 256, size=(60, 2, 3, 8, 8)).astype(np.uint8)
    ranked, _ = aift_sampling()(PixelNet(), X, n_instances=60)
    seen = set()
    for seed in range(20):
        picked, scores = aift_sampling(batch="randomized", omega=3)(PixelNet(), X, n_instances=4,
                                                                    random_state=seed)
        assert set(picked.tolist()) <= set(ranked[:12].tolist())
        assert np.all(np.diff(scores) <= 0)  # best-ranked first
        seen.update(picked.tolist())
    assert len(seen) > 4  # really random, not the top 4
    again, _ = aift_sampling(batch="randomized", omega=3)(PixelNet(), X, n_instances=4,
                                                         random_state=19)
    np.testing.assert_array_equal(again, picked)


def test_paper_behaviour_is_the_default_and_described_as_before():
    assert aift_sampling() == entropy_diversity_quarter
    assert "batch" not in entropy_diversity_quarter.get_params()
    s = aift_sampling(batch="diverse")
    assert s.get_params()["batch"] == "diverse" and "batch='diverse'" in s.__name__
    assert aift_sampling(**s.get_params()) == s


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch": "kmeans"}, ValueError, "batch must be one of .*; got 'kmeans'"),
    ({"omega": 0.5}, ValueError, "omega must be >= 1; got 0.5"),
    ({"duplicate_tol": -1.0}, ValueError, "duplicate_tol must be >= 0; got -1.0"),
    ({"omega": "4"}, TypeError, "omega must be a real number; got '4'"),
])
def test_batch_parameters_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        aift_sampling(**kwargs)


def test_diverse_needs_features():
    class NoEmbed:
        def predict_patch_proba(self, X):
            return PixelNet().predict_patch_proba(X)

    with pytest.raises(TypeError, match="batch='diverse' needs candidate features"):
        aift_sampling(batch="diverse")(NoEmbed(), np.zeros((6, 2, 3, 8, 8)), n_instances=2)


def test_batch_aware_methods_are_registered():
    from sklearn_aift.experiment import BATCH_AWARE_METHODS, METHODS, method_label
    from sklearn_aift.experiment._methods import _strategy_for

    assert set(BATCH_AWARE_METHODS) <= set(METHODS)
    diverse = _strategy_for("entropy_diversity_quarter_diverse")
    assert diverse == aift_sampling(batch="diverse")
    assert _strategy_for("entropy_diversity_quarter_randomized").batch == "randomized"
    assert "diverse batch" in method_label("entropy_diversity_quarter_diverse")


def test_typicality_is_the_inverse_mean_neighbour_distance():
    from sklearn.neighbors import NearestNeighbors

    from sklearn_aift._density import typicality

    rng = np.random.default_rng(1)
    F = np.vstack([rng.normal(0, 0.1, (30, 3)), rng.normal(5, 2.0, (5, 3))])
    got = typicality(F, n_neighbors=4)
    d, _ = NearestNeighbors(n_neighbors=5).fit(F).kneighbors(F)
    expected = 1 / d[:, 1:].mean(axis=1)
    np.testing.assert_allclose(got, expected / expected.max())
    assert got[:30].min() > got[30:].max()  # the dense cluster is more typical
    np.testing.assert_array_equal(typicality(np.zeros((3, 2))), np.ones(3))


def test_density_weighting_prefers_typical_candidates(rng):
    # 20 near-identical dark candidates and 10 scattered bright outliers
    dense = np.clip(100 + rng.integers(-2, 3, size=(20, 2, 3, 8, 8)), 0, 255)
    outliers = rng.integers(0, 256, size=(10, 2, 3, 8, 8))
    X = np.concatenate([outliers, dense]).astype(np.uint8)

    class FlatNet(PixelNet):
        def predict_patch_proba(self, X):  # every candidate equally uncertain
            return np.full((len(X), X.shape[1], 2), 0.5)

    plain, _ = aift_sampling()(FlatNet(), X, n_instances=5)
    np.testing.assert_array_equal(plain, np.arange(5))  # ties: lower index (outliers)
    weighted, scores = aift_sampling(density=1.0)(FlatNet(), X, n_instances=5)
    assert np.all(weighted >= 10) and np.all(np.diff(scores) <= 0)
    s = aift_sampling(density=2.0)
    assert s.get_params()["density"] == 2.0 and "density=2.0" in s.__name__
    with pytest.raises(ValueError, match="density must be >= 0; got -1"):
        aift_sampling(density=-1)


def test_density_weighted_method_is_registered():
    from sklearn_aift.experiment import BUDGET_AWARE_METHODS, METHODS
    from sklearn_aift.experiment._methods import _strategy_for

    assert set(BUDGET_AWARE_METHODS) <= set(METHODS)
    assert _strategy_for("entropy_diversity_quarter_dense") == aift_sampling(density=1.0)
