"""The cold start: a representative first batch until every class has a few labels."""

import os

import numpy as np
import pytest
import torch

from sklearn_aift import ActiveLearner, AIFTNet, aift_sampling, diversity_quarter
from sklearn_aift._cold_start import representative_order
from sklearn_aift._strategy_context import in_cold_start
from sklearn_aift.scoring import candidate_scores

MOBILENET_V2_FILE = os.path.join(torch.hub.get_dir(), "checkpoints", "mobilenet_v2-b0353104.pth")


class Labels:
    """A learner that only says what it holds."""

    def __init__(self, y, classes=None):
        self.y_training = y
        self.classes = classes


@pytest.mark.parametrize(
    "y, classes, expected",
    [
        (None, [0, 1], True),  # modAL's learner before any label
        ([], None, True),
        ([1, 1, 1], None, True),  # one class seen: the other is still unknown
        ([1, 1, 0], None, True),  # 0 has a single label
        ([1, 1, 0, 0], None, False),
        ([1, 1, 0, 0], [0, 1, 2], True),  # a declared class has no label yet
        ([1, 1, 0, 0, 2, 2], [0, 1, 2], False),
    ],
)
def test_cold_start_lasts_until_every_class_has_two_labels(y, classes, expected):
    learner = Labels(None if y is None else np.asarray(y), classes)
    assert in_cold_start(learner, 2) is expected


def test_bare_estimators_never_are_in_the_cold_start():
    assert not in_cold_start(object(), 2)


def test_representative_order_takes_one_candidate_per_mode_largest_first():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sizes = [50, 30, 20]
    features = np.concatenate([c + rng.normal(0, 0.5, (s, 2)) for c, s in zip(centres, sizes)])
    order, shares = representative_order(features, 3, np.random.RandomState(0))
    blob = np.repeat([0, 1, 2], sizes)
    assert blob[order].tolist() == [0, 1, 2]
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.2])
    for row, b in zip(order, blob[order]):  # each pick is its mode's most central member
        members = np.flatnonzero(blob == b)
        spread = np.linalg.norm(features[members, :2] - centres[b], axis=1)
        assert np.linalg.norm(features[row, :2] - centres[b]) <= np.quantile(spread, 0.2)


@pytest.fixture
def offline_net():
    if not os.path.isfile(MOBILENET_V2_FILE):
        pytest.skip(f"{MOBILENET_V2_FILE} is missing; `make weights` installs it")
    return AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=48, classes=[0, 1],
                   max_epochs=1, max_epochs_incremental=1, random_state=0)


@pytest.mark.slow
def test_first_batch_from_zero_labels_holds_both_classes(offline_net):
    from sklearn_aift.datasets import make_colonoscopy_frames
    from sklearn_aift.strategies import random_sampling

    X, y = make_colonoscopy_frames(100, frame_size=64, patch_size=32, return_X_y=True,
                                   random_state=0)
    X = np.asarray(X)
    assert 0.1 < y.mean() < 0.3  # a CAD-like pool: mostly negatives
    torch.set_num_threads(1)
    learner = ActiveLearner(offline_net, query_strategy=diversity_quarter, classes=[0, 1],
                            random_state=0)
    # a batch of 20 random picks misses the 20% positives with probability 0.8**20 ~ 1%
    idx, _ = learner.query(X, n_instances=20)
    assert set(y[idx].tolist()) == {0, 1}
    # the cold-start batch is IFT Random's batch for the same seed
    same_seed = learner._round_seed(1)
    np.testing.assert_array_equal(idx, random_sampling(learner, X, 20, random_state=same_seed)[0])
    # the paper's pure criterion is one parameter away: M0's patch predictions, ranked
    paper = aift_sampling(alpha=0.25, lambda1=0, lambda2=1, cold_start=None)
    idx_paper, scores = paper(learner, X, n_instances=10)
    expected = candidate_scores(offline_net.predict_patch_proba(X), 0.25, 0.0, 1.0)
    np.testing.assert_array_equal(idx_paper, np.argsort(-expected, kind="stable")[:10])
    np.testing.assert_allclose(scores, expected[idx_paper])
    assert scores.max() > 0
    # once every class has 5 labels, the AIFT criterion ranks the candidates
    learner.query_strategy = diversity_quarter
    order = np.argsort(y, kind="stable")
    labeled = np.concatenate([order[:5], order[-5:]])  # five of each class
    learner.teach(X[labeled], y[labeled])
    idx_after, _ = learner.query(X, n_instances=5)
    after = candidate_scores(offline_net.predict_patch_proba(X), 0.25, 0.0, 1.0)
    after[labeled] = -np.inf
    np.testing.assert_array_equal(idx_after, np.argsort(-after, kind="stable")[:5])


def test_representative_policy_picks_the_k_means_batch():
    class Embedding:
        y_training = np.array([])
        classes = [0, 1]

        def embed(self, X):
            return np.asarray(X, dtype=float).reshape(len(X), -1)[:, :2]

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.3, (n, 2)) for c, n in ((0, 30), (6, 10))])
    strategy = aift_sampling(0.25, 0, 1, cold_start="representative", cold_start_per_class=2)
    idx, shares = strategy(Embedding(), X, n_instances=2, random_state=0)
    assert sorted((idx >= 30).tolist()) == [False, True]  # one pick in each mode
    np.testing.assert_allclose(shares, [0.75, 0.25])


def test_typical_policy_covers_the_clusters_without_a_label_with_their_most_typical_member():
    from sklearn_aift.strategies import random_sampling

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
    sizes = [60, 40, 30, 22]  # more than the 20 neighbours typicality is measured on
    X = np.concatenate([c + rng.normal(0, 0.6, (n, 2)) for c, n in zip(centres, sizes)])
    blob = np.repeat(np.arange(4), sizes)

    class Embedding:
        classes = [0, 1]
        X_training = centres[:1] + 0.1  # one label, in the largest cluster: still cold
        y_training = np.array([0])

        def embed(self, X):
            return np.asarray(X, dtype=float)

    strategy = aift_sampling(cold_start="typical", cold_start_per_class=2)
    assert strategy.__name__ == ("entropy_diversity_quarter(cold_start='typical', "
                                 "cold_start_per_class=2)")
    idx, scores = strategy(Embedding(), X, n_instances=3, random_state=0)
    # the labeled cluster is skipped; the others come largest first
    assert blob[idx].tolist() == [1, 2, 3]
    for row, b in zip(idx, blob[idx]):  # each pick has the densest neighbourhood of its blob
        members = np.flatnonzero(blob == b)
        spread = np.linalg.norm(X[members] - X[members].mean(axis=0), axis=1)
        assert np.linalg.norm(X[row] - X[members].mean(axis=0)) <= np.quantile(spread, 0.3)
    np.testing.assert_allclose(scores, np.array(sizes[1:]) / len(X))  # their clusters' shares

    # "typical_first": TypiClust's batch only while nothing is labeled, then random picks
    first = aift_sampling(cold_start="typical_first", cold_start_per_class=2)
    nothing = Embedding()
    nothing.X_training, nothing.y_training = np.zeros((0, 2)), np.array([])
    idx_first, _ = first(nothing, X, n_instances=4, random_state=0)
    assert sorted(blob[idx_first].tolist()) == [0, 1, 2, 3]  # one typical pick per cluster
    idx_later, _ = first(Embedding(), X, n_instances=4, random_state=3)
    np.testing.assert_array_equal(idx_later, random_sampling(None, X, 4, random_state=3)[0])
