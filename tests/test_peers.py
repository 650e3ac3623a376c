"""Tests for sklearn_aift.peers: each peer picks what its library picks on a fixed input."""

import inspect

import numpy as np
import pytest

from sklearn_aift import peers
from sklearn_aift.experiment import METHODS, PEER_METHODS, method_label, run_comparison
from sklearn_aift.peers import PEER_STRATEGIES
from sklearn_aift.strategies import random_sampling

skpool = pytest.importorskip("skactiveml.pool", reason="the [peers] extra is not installed")


class FakeNet:
    """Patch probabilities and features read from the pixels (patch view 0 differs from 1)."""

    def predict_patch_proba(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim == 4:
            X = X[:, None]
        q = X[:, :, 0, 0, 0] / 255.0
        return np.stack([1 - q, q], axis=-1)

    def embed(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim == 4:
            X = X[:, None]
        return X[:, :, :, 0, :2].reshape(len(X), X.shape[1], -1).mean(axis=1)


class Learner:
    """A learner holding some labels (for the cold start)."""

    def __init__(self, y, classes=(0, 1)):
        self.estimator = FakeNet()
        self.y_training = np.asarray(y)
        self.classes = list(classes)


@pytest.fixture
def pool():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(40, 3, 3, 4, 4)).astype(np.uint8)
    return X


def _one_view_proba(X, view=0):
    q = X[:, view, 0, 0, 0] / 255.0
    return np.stack([1 - q, q], axis=-1)


def _classifier(n_classes):
    return peers._skactiveml_classifier(n_classes)


@pytest.mark.parametrize("method, name", [("entropy", "entropy"), ("margin", "margin_sampling")])
def test_one_view_uncertainty_picks_what_skactiveml_picks(pool, method, name):
    exclude = np.array([0, 5, 7])
    keep = np.setdiff1d(np.arange(len(pool)), exclude)
    got, scores = peers.OneViewUncertainty(method)(FakeNet(), pool, n_instances=6,
                                                  random_state=4, exclude=exclude)
    P = _one_view_proba(pool[keep])
    expected = skpool.UncertaintySampling(method=name, random_state=4).query(
        P, np.full(len(P), np.nan), _classifier(2), fit_clf=False, batch_size=6)
    np.testing.assert_array_equal(got, keep[expected])
    assert not np.isin(got, exclude).any()
    # only view 0 matters: changing the other patches changes nothing
    other = pool.copy()
    other[:, 1:] = 255 - other[:, 1:]
    again, _ = peers.OneViewUncertainty(method)(FakeNet(), other, n_instances=6,
                                               random_state=4, exclude=exclude)
    np.testing.assert_array_equal(again, got)
    assert np.all(np.diff(scores) <= 1e-12)


def test_coreset_picks_what_skactiveml_picks(pool):
    exclude = np.array([1, 2, 30])
    got, scores = peers.coreset(FakeNet(), pool, n_instances=5, random_state=2, exclude=exclude)
    y = np.full(len(pool), np.nan)
    y[exclude] = 0
    expected = skpool.CoreSet(random_state=2).query(FakeNet().embed(pool), y, batch_size=5)
    np.testing.assert_array_equal(got, expected)
    assert np.all(scores > 0)


def test_typiclust_in_cold_start_then_margin(pool):
    exclude = np.array([3, 4])
    cold = Learner([0, 1])  # fewer than 5 labels per class
    got, _ = peers.typiclust_margin(cold, pool, n_instances=4, random_state=1, exclude=exclude)
    y = np.full(len(pool), np.nan)
    y[exclude] = 0
    expected = skpool.TypiClust(random_state=1).query(FakeNet().embed(pool), y, batch_size=4)
    np.testing.assert_array_equal(got, expected)

    warm = Learner([0] * 5 + [1] * 5)
    got, _ = peers.typiclust_margin(warm, pool, n_instances=4, random_state=1, exclude=exclude)
    margin, _ = peers.one_view_margin(warm, pool, n_instances=4, random_state=1,
                                      exclude=exclude)
    np.testing.assert_array_equal(got, margin)


def test_badge_picks_what_skactiveml_picks(pool):
    exclude = np.array([10])
    keep = np.setdiff1d(np.arange(len(pool)), exclude)
    got, _ = peers.badge(FakeNet(), pool, n_instances=5, random_state=7, exclude=exclude)
    one = pool[keep][:, 0]
    X = np.hstack([FakeNet().embed(one), _one_view_proba(pool[keep])])
    expected = skpool.Badge(clf_embedding_flag_name="return_embeddings",
                            random_state=7).query(X, np.full(len(X), np.nan), _classifier(2),
                                                  fit_clf=False, batch_size=5)
    np.testing.assert_array_equal(got, keep[np.asarray(expected)])
    assert len(set(got.tolist())) == 5


@pytest.mark.parametrize("name", ["one_view_entropy", "one_view_margin", "coreset", "badge"])
def test_model_based_peers_start_with_randoms_cold_start(pool, name):
    strategy = peers.PEER_STRATEGIES[name]
    cold = Learner([0, 0, 1])
    got, _ = strategy(cold, pool, n_instances=5, random_state=9)
    expected, _ = random_sampling(None, pool, n_instances=5, random_state=9)
    np.testing.assert_array_equal(got, expected)
    warm = Learner([0] * 5 + [1] * 5)
    assert not np.array_equal(strategy(warm, pool, n_instances=5, random_state=9)[0], expected)


def test_bald_ranks_as_baal_does_on_the_nets_mc_dropout(tiny_candidates):
    pytest.importorskip("baal", reason="the [peers] extra is not installed")
    from baal.active.heuristics import BALD
    from baal.bayesian.dropout import patch_module

    from sklearn_aift import AIFTNet
    from sklearn_aift.net import mc_dropout_proba

    X, y = tiny_candidates
    # fitted once, so that the batch norms normalise and the features are not ~0
    net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, random_state=0,
                  max_epochs=2, device="cpu").fit(X, y)
    before = net.predict_patch_proba(X)
    got, scores = peers.bald(net, X, n_instances=4, random_state=5, exclude=[0])
    preds = mc_dropout_proba(net, X[:, 0], lambda m: patch_module(m, inplace=True),
                             n_samples=20, random_state=5)[:, 0]
    baal_scores = BALD().compute_score(preds)
    keep = np.arange(1, len(X))
    expected = keep[np.argsort(-baal_scores[keep], kind="stable")[:4]]
    np.testing.assert_array_equal(got, expected)
    assert scores.min() > 1e-8  # dropout was on: the passes disagree
    # the learner's own network is unchanged (no dropout left switched on)
    np.testing.assert_allclose(net.predict_patch_proba(X), before)


def test_peer_names_parameters_and_errors():
    assert set(PEER_METHODS) == set(peers.PEER_STRATEGIES)
    assert set(PEER_METHODS) <= set(METHODS)
    assert method_label("bald") == "BALD, MC dropout (baal)"
    assert peers.OneViewUncertainty("margin", cold_start=None).__name__.startswith(
        "one_view_margin(cold_start=None")
    with pytest.raises(ValueError, match="method must be 'entropy' or 'margin'; got 'lc'"):
        peers.OneViewUncertainty("lc")
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2; got 1"):
        peers.BALDSampling(n_samples=1)
    with pytest.raises(ValueError, match="view must index a patch"):
        peers.OneViewUncertainty(view=5)(FakeNet(), np.zeros((4, 3, 3, 4, 4)), n_instances=1)
    with pytest.raises(TypeError, match="embed"):
        peers.coreset(object(), np.zeros((4, 3, 3, 4, 4)), n_instances=1)


def test_compare_methods_peers_expands_to_every_peer():
    from sklearn_aift.cli import _methods_arg

    assert _methods_arg(["ift_random,peers"]) == ["ift_random", *PEER_METHODS]


def test_run_comparison_runs_the_peers(tiny_candidates):
    pytest.importorskip("baal", reason="the [peers] extra is not installed")
    from sklearn_aift import AIFTNet

    X, y = tiny_candidates
    X = np.concatenate([X, X[:, ::-1]])
    y = np.concatenate([y, y])
    net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
                  max_epochs_incremental=1, batch_size=32, freeze=8, device="cpu")
    results = run_comparison(net, X[:18], y[:18], X[18:], y[18:],
                             methods=["bald", "typiclust_margin"], n_rounds=2,
                             batch_size=4, seeds=1, verbose=0)
    for method in ("bald", "typiclust_margin"):
        queried = [q for r in results if r["method"] == method for q in r["queried"]]
        assert len(queried) == 8 and len(set(queried)) == 8


@pytest.mark.parametrize("name", sorted(PEER_STRATEGIES))
def test_every_peer_documents_its_call(name):
    doc = inspect.getdoc(type(PEER_STRATEGIES[name]).__call__)
    for section in ("Parameters", "Returns", "Raises", "n_instances", "exclude"):
        assert section in doc
    assert type(PEER_STRATEGIES[name]).__name__ in doc
