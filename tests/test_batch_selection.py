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
    assert _strategy_for("entropy_diversity_quarter_typical_first_diverse") == aift_sampling(
        cold_start="typical_first", batch="diverse")


class LabeledLearner:
    """A learner past the cold start: labeled set, patch probabilities and features.

    The network says class 1 for every candidate whose first pixel is bright;
    ``embed`` is the candidate's mean pixel vector.
    """

    classes = [0, 1]

    def __init__(self, X_training, y_training, network_class):
        self.X_training, self.y_training = X_training, np.asarray(y_training)
        self._network_class = network_class

    def predict_patch_proba(self, X):
        X = np.asarray(X, dtype=float)
        q = 0.1 + 0.8 * self._network_class(X)
        q = np.repeat(q[:, None], X.shape[1], axis=1)
        # spread the patches a little so that the AIFT scores differ between candidates
        q = np.clip(q + 0.05 * (X[:, :, 0, 0, 0] / 255.0 - 0.5), 0.01, 0.99)
        return np.stack([1 - q, q], axis=-1)

    def embed(self, X):
        return np.asarray(X, dtype=float).mean(axis=1).reshape(len(X), -1)


def _clusters(rng, sizes):
    """Tight clusters of candidates; cluster c has grey level 20 + 18 c."""
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    X = (20 + 18 * cluster)[:, None, None, None, None] + rng.integers(
        -2, 3, size=(len(cluster), 2, 3, 4, 4))
    return X.astype(np.uint8), cluster


def test_switch_covers_unlabeled_clusters_while_the_network_disagrees_with_the_labels(rng):
    # the labeled clusters are the largest: size alone would pick them
    X, cluster = _clusters(rng, [14, 14, 14] + [8] * 9)
    # clusters 0, 1 and 2 hold labels, 5 of each class: the cold start is over
    labeled = np.array([0, 1, 2, 14, 15, 16, 28, 29, 30, 31, 32])
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    pool = np.setdiff1d(np.arange(len(X)), labeled)
    strategy = aift_sampling(switch="agreement", switch_at=0.9)
    # the labels say: dark is 0, from cluster 2 on 1; a network that says the opposite
    # disagrees with the labeled neighbours everywhere, so the whole batch covers
    bright = lambda X: (X[:, 0, 0, 0, 0] > 47).astype(float)  # noqa: E731
    contrary = LabeledLearner(X[labeled], y, lambda X: 1 - bright(X))
    picked, _ = strategy(contrary, X[pool], n_instances=3, random_state=0)
    # one candidate from each of three clusters that hold no label
    assert min(cluster[pool][picked]) >= 3 and len(set(cluster[pool][picked].tolist())) == 3
    # a network that agrees with its labeled neighbours everywhere: the AIFT ranking alone
    agreeing = LabeledLearner(X[labeled], y, bright)
    picked, _ = strategy(agreeing, X[pool], n_instances=3, random_state=0)
    ranked, _ = aift_sampling()(agreeing, X[pool], n_instances=3)
    assert picked.tolist() == ranked.tolist()


def test_disagreement_share_follows_the_agreement():
    from sklearn_aift._coverage import disagreement_share

    assert disagreement_share(0.5, 2, 0.9) == 0.0  # chance: cover only
    assert disagreement_share(0.9, 2, 0.9) == 1.0
    assert disagreement_share(0.7, 2, 0.9) == pytest.approx(0.5)
    assert disagreement_share(0.2, 5, 0.6) == 0.0
    assert disagreement_share(0.4, 5, 0.6) == pytest.approx(0.5)


def test_switch_parameters_are_checked_and_named():
    s = aift_sampling(switch="agreement", switch_at=0.8)
    assert s.get_params()["switch"] == "agreement" and s.get_params()["switch_at"] == 0.8
    assert "switch='agreement'" in s.__name__
    assert "switch" not in entropy_diversity_quarter.get_params()
    with pytest.raises(ValueError, match="switch must be one of"):
        aift_sampling(switch="always")
    with pytest.raises(ValueError, match=r"switch_at must be in \(0, 1\]; got 0"):
        aift_sampling(switch="agreement", switch_at=0)
    with pytest.raises(TypeError, match="switch='agreement' needs candidate features"):
        s(PixelNet(), np.zeros((4, 2, 3, 4, 4), dtype=np.uint8), n_instances=2)
    from sklearn_aift.experiment._methods import _strategy_for

    assert _strategy_for("entropy_diversity_quarter_switch") == aift_sampling(switch="agreement")


def test_switch_takes_the_ranked_part_of_a_batch_as_the_batch_mode_says(rng, monkeypatch):
    import sklearn_aift.strategies as strategies_module

    X, cluster = _clusters(rng, [14, 14, 14] + [8] * 9)
    labeled = np.array([0, 1, 2, 14, 15, 16, 28, 29, 30, 31, 32])
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    pool = np.setdiff1d(np.arange(len(X)), labeled)
    bright = lambda X: (X[:, 0, 0, 0, 0] > 47).astype(float)  # noqa: E731
    learner = LabeledLearner(X[labeled], y, bright)
    # half the batch covers, half is ranked
    monkeypatch.setattr(strategies_module, "disagreement_share", lambda *a: 0.5)
    top = aift_sampling(switch="agreement")
    shortlist = aift_sampling()(learner, X[pool], n_instances=len(pool))[0]
    drawn = set()
    for seed in range(10):
        covering = top(learner, X[pool], n_instances=4, random_state=seed)[0][:2]
        picked, _ = aift_sampling(switch="agreement", batch="randomized", omega=4)(
            learner, X[pool], n_instances=4, random_state=seed)
        assert len(set(picked.tolist())) == 4 and picked[:2].tolist() == covering.tolist()
        ranked = picked[2:].tolist()
        assert set(ranked) <= set(shortlist[:4 * 2 + 2].tolist())
        drawn.add(tuple(ranked))
    # randomized: the ranked half is drawn, not always the top two
    assert len(drawn) > 1
