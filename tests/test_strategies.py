"""Tests for sklearn_aift.strategies with fake learners returning given probabilities."""

import functools
import inspect
import json
import pickle

import numpy as np
import pytest

from sklearn_aift import strategies
from sklearn_aift.scoring import candidate_scores, patch_entropy
from sklearn_aift.strategies import (
    AIFTSampling,
    aift_sampling,
    describe_strategy,
    diversity,
    diversity_quarter,
    entropy,
    entropy_diversity,
    entropy_diversity_quarter,
    entropy_quarter,
    mean_uncertainty,
    patch_proba,
    random_sampling,
)

PAPER = {
    "entropy": (entropy, 1.0, 1.0, 0.0),
    "entropy_quarter": (entropy_quarter, 0.25, 1.0, 0.0),
    "diversity": (diversity, 1.0, 0.0, 1.0),
    "diversity_quarter": (diversity_quarter, 0.25, 0.0, 1.0),
    "entropy_diversity": (entropy_diversity, 1.0, 1.0, 1.0),
    "entropy_diversity_quarter": (entropy_diversity_quarter, 0.25, 1.0, 1.0),
}
ALL = [s for s, *_ in PAPER.values()] + [random_sampling, mean_uncertainty]


class FakeNet:
    """Returns fixed patch probabilities; the pool holds candidate ids."""

    def __init__(self, P):
        self.P = np.asarray(P, dtype=float)
        self.asked = []

    def predict_patch_proba(self, X):
        ids = np.asarray(X, dtype=int)
        self.asked.append(ids.tolist())
        return self.P[ids]


class LazyIds:
    """A lazy pool of candidate ids: indexing returns another LazyIds."""

    def __init__(self, ids):
        self.ids = np.asarray(ids)
        self.shape = self.ids.shape

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return LazyIds(self.ids[index])

    def __array__(self, dtype=None, copy=None):
        return self.ids if dtype is None else self.ids.astype(dtype)


class Wrapper:
    """modAL-style learner: the network is its ``estimator``."""

    def __init__(self, estimator):
        self.estimator = estimator


def binary(q):
    q = np.asarray(q, dtype=float)
    return np.stack([1 - q, q], axis=-1)


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    P = binary(rng.beta(0.5, 0.5, size=(30, 8)))
    return FakeNet(P), np.arange(30)


# --------------------------------------------------------------------------- #
# the strategies and their ranking
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", list(PAPER))
def test_paper_variants_rank_by_candidate_scores(name, pool):
    strategy, alpha, lambda1, lambda2 = PAPER[name]
    net, X = pool
    assert strategy.__name__ == name and getattr(strategies, name) is strategy
    assert strategy.get_params() == {"alpha": alpha, "lambda1": lambda1, "lambda2": lambda2,
                                     "cold_start": "random", "cold_start_per_class": 5}
    expected = candidate_scores(net.P, alpha, lambda1, lambda2)
    result = strategy(net, X, n_instances=5)
    assert isinstance(result, tuple) and len(result) == 2
    indices, scores = result
    np.testing.assert_array_equal(indices, np.argsort(-expected, kind="stable")[:5])
    np.testing.assert_array_equal(scores, expected[indices])
    assert np.all(np.diff(scores) <= 0)


def test_ties_go_to_the_lower_index():
    P = binary([[0.5, 0.6], [0.9, 0.9], [0.5, 0.6], [0.5, 0.6], [0.9, 0.9]])
    for strategy in ALL[:-2] + [mean_uncertainty]:
        indices, scores = strategy(FakeNet(P), np.arange(5), n_instances=5)
        tied = scores == scores[0]
        assert tied.sum() >= 2
        assert list(indices[tied]) == sorted(indices[tied])
    indices, _ = entropy(FakeNet(P), np.arange(5), n_instances=5)
    np.testing.assert_array_equal(indices, [0, 2, 3, 1, 4])


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
def test_more_instances_than_the_pool_returns_all_in_score_order(strategy, pool):
    net, X = pool
    indices, scores = strategy(net, X, n_instances=100, random_state=0)
    assert sorted(indices) == list(range(30))
    assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
def test_works_through_learner_estimator_and_ignores_unknown_keywords(strategy, pool):
    net, X = pool
    direct = strategy(net, X, n_instances=4, random_state=1)
    wrapped = strategy(Wrapper(net), X, n_instances=np.int64(4), random_state=1, unused=3)
    np.testing.assert_array_equal(direct[0], wrapped[0])
    np.testing.assert_array_equal(direct[1], wrapped[1])
    parameters = inspect.signature(strategy).parameters
    assert {"n_instances", "random_state", "exclude"} <= set(parameters)


def test_mean_uncertainty_is_the_entropy_of_the_mean_prediction():
    q = np.array([[0.9, 0.9], [0.1, 0.9], [0.6, 0.7], [0.0, 1.0]])
    indices, scores = mean_uncertainty(FakeNet(binary(q)), np.arange(4), n_instances=4)
    np.testing.assert_array_equal(indices, [1, 3, 2, 0])  # means 0.5, 0.5, 0.65, 0.9
    assert scores[0] == pytest.approx(np.log(2))
    np.testing.assert_allclose(scores, patch_entropy(binary(q.mean(axis=1)))[indices])


def test_random_sampling_is_seeded_and_never_predicts():
    X = np.arange(50)
    a, sa = random_sampling(None, X, n_instances=10, random_state=3)
    b, sb = random_sampling(None, X, n_instances=10, random_state=3)
    c, _ = random_sampling(None, X, n_instances=10, random_state=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    assert list(a) != list(c)
    assert len(set(a)) == 10 and ((sa >= 0) & (sa < 1)).all()
    g, _ = random_sampling(None, X, n_instances=10, random_state=np.random.default_rng(3))
    assert len(set(g)) == 10
    with pytest.raises(ValueError, match="random_state"):
        random_sampling(None, X, random_state="seed")


def test_random_sampling_covers_the_pool_uniformly():
    counts = np.zeros(10)
    for seed in range(400):
        counts[random_sampling(None, np.arange(10), n_instances=2, random_state=seed)[0]] += 1
    assert counts.min() > 50 and counts.max() < 110  # 80 expected each


# --------------------------------------------------------------------------- #
# exclude
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
def test_excluded_candidates_are_never_returned_nor_predicted(strategy, pool):
    net, X = pool
    full_indices, full_scores = strategy(net, X, n_instances=30, random_state=5)
    exclude = np.array([full_indices[0], 7, 7, 12])
    indices, scores = strategy(net, X, n_instances=30, random_state=5, exclude=exclude)
    assert not set(indices) & set(exclude.tolist())
    assert sorted(indices) == sorted(set(range(30)) - set(exclude.tolist()))
    keep = ~np.isin(full_indices, exclude)  # the others keep their scores and order
    np.testing.assert_array_equal(indices, full_indices[keep])
    np.testing.assert_array_equal(scores, full_scores[keep])
    if strategy is not random_sampling:
        assert net.asked[-1] == list(range(30))  # a NumPy pool is predicted whole
        lazy_indices, _ = strategy(net, LazyIds(X), n_instances=30, random_state=5,
                                   exclude=exclude)
        np.testing.assert_array_equal(lazy_indices, indices)
        assert net.asked[-1] == sorted(set(range(30)) - set(exclude.tolist()))  # subset first


def test_empty_exclude_is_no_exclusion(pool):
    net, X = pool
    np.testing.assert_array_equal(
        entropy(net, X, n_instances=3, exclude=[])[0], entropy(net, X, n_instances=3)[0]
    )


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
def test_bad_exclude(strategy, pool):
    net, X = pool
    with pytest.raises(ValueError, match="exclude covers every candidate"):
        strategy(net, X, exclude=np.arange(30))
    with pytest.raises(ValueError, match=r"exclude must hold pool indices in \[0, 30\)"):
        strategy(net, X, exclude=[3, 30])
    with pytest.raises(ValueError, match="exclude"):
        strategy(net, X, exclude=[-1])
    with pytest.raises(TypeError, match="exclude must hold integer"):
        strategy(net, X, exclude=[1.0, 2.0])


# --------------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
@pytest.mark.parametrize("n_instances, error", [(0, ValueError), (-2, ValueError),
                                                (1.5, TypeError), ("2", TypeError),
                                                (True, TypeError), (None, TypeError)])
def test_bad_n_instances(strategy, n_instances, error, pool):
    net, X = pool
    with pytest.raises(error, match="n_instances"):
        strategy(net, X, n_instances=n_instances)


@pytest.mark.parametrize("strategy", ALL, ids=lambda s: s.__name__)
def test_empty_pool(strategy):
    with pytest.raises(ValueError, match="X_pool is empty"):
        strategy(FakeNet(np.zeros((0, 2, 2))), np.arange(0))


def test_learner_without_patch_probabilities():
    class Plain:
        estimator = object()

        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    for learner in (Plain(), object()):
        with pytest.raises(TypeError, match="predict_patch_proba"):
            entropy(learner, np.arange(3))
        with pytest.raises(TypeError, match="predict_patch_proba"):
            mean_uncertainty(learner, np.arange(3))


@pytest.mark.parametrize(
    "P, match",
    [
        (np.full((3, 2), 0.5), r"shape \(3, 2\) for 3 candidates; expected shape \(3, n_patches"),
        (np.full((2, 4, 2), 0.5), r"for 3 candidates"),
        (np.full((3, 4, 2), 0.7), "rows must sum to 1"),
        (np.full((3, 4, 2), np.nan), "NaN"),
    ],
)
def test_invalid_patch_probabilities_from_the_learner(P, match):
    class Net:
        def predict_patch_proba(self, X):
            return P

    for strategy in (entropy_diversity_quarter, mean_uncertainty):
        with pytest.raises(ValueError, match=match):
            strategy(Net(), np.arange(3))


def test_patch_proba_prefers_the_learner_itself():
    inner = FakeNet(binary([[0.1], [0.2]]))
    outer = FakeNet(binary([[0.7], [0.8]]))
    outer.estimator = inner
    np.testing.assert_array_equal(patch_proba(outer, np.arange(2)), outer.P)
    np.testing.assert_array_equal(patch_proba(Wrapper(inner), np.arange(2)), inner.P)


# --------------------------------------------------------------------------- #
# the strategy objects
# --------------------------------------------------------------------------- #
def test_factory_names_equality_and_pickling():
    assert aift_sampling(0.25, 1, 1) == entropy_diversity_quarter
    assert aift_sampling(alpha=1, lambda1=1, lambda2=0).__name__ == "entropy"
    custom = aift_sampling(alpha=0.5, lambda1=2.0, lambda2=0.5)
    assert custom.__name__ == "aift_sampling(alpha=0.5, lambda1=2.0, lambda2=0.5)"
    assert repr(custom) == (
        "AIFTSampling(alpha=0.5, lambda1=2.0, lambda2=0.5, cold_start='random', "
        "cold_start_per_class=5)"
    )
    assert custom != entropy_diversity_quarter and custom != "entropy"
    assert len({entropy, aift_sampling(1.0, 1.0, 0.0), custom}) == 2
    for strategy in ALL + [custom]:
        clone = pickle.loads(pickle.dumps(strategy))
        assert clone == strategy and clone.__name__ == strategy.__name__
    assert random_sampling.__name__ == "random_sampling"
    assert repr(mean_uncertainty) == "MeanUncertainty()"


def test_custom_factory_strategy_scores(pool):
    net, X = pool
    strategy = aift_sampling(alpha=0.5, lambda1=0.3, lambda2=2.0)
    _, scores = strategy(net, X, n_instances=30)
    np.testing.assert_allclose(
        np.sort(scores)[::-1], np.sort(candidate_scores(net.P, 0.5, 0.3, 2.0))[::-1]
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": 0}, ValueError, "alpha"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"lambda1": -1}, ValueError, "lambda1"),
        ({"lambda1": 0, "lambda2": 0}, ValueError, "both 0"),
        ({"lambda2": "x"}, TypeError, "lambda2"),
    ],
)
def test_factory_rejects_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        aift_sampling(**kwargs)
    with pytest.raises(error, match=match):
        AIFTSampling(**kwargs)


def test_describe_builtin_strategies():
    seen = []
    for strategy in ALL + [aift_sampling(0.5, 1.0, 2.0)]:
        description = describe_strategy(strategy)
        assert json.loads(json.dumps(description)) == description
        assert description["name"] == strategy.__name__
        assert description["class"].startswith("sklearn_aift.strategies.")
        seen.append(json.dumps(description, sort_keys=True))
    assert len(set(seen)) == len(seen)  # every strategy is told apart
    described = describe_strategy(entropy_quarter)
    assert described["params"] == {"alpha": 0.25, "lambda1": 1.0, "lambda2": 0.0,
                                   "cold_start": "random", "cold_start_per_class": 5}
    assert described == describe_strategy(aift_sampling(0.25, 1, 0))
    # a description rebuilds the strategy: by name, or through the factory
    for strategy in ALL:
        assert getattr(strategies, describe_strategy(strategy)["name"]) == strategy
    custom = describe_strategy(aift_sampling(0.5, 1.0, 2.0))
    rebuilt = getattr(strategies, custom["factory"])(**custom["params"])
    assert describe_strategy(rebuilt) == custom


def my_strategy(learner, X_pool, n_instances=1, random_state=None):
    return np.arange(n_instances), np.zeros(n_instances)


class Scorer:
    def __init__(self, power=2, shape=(1, 2)):
        self.power, self.shape = power, shape

    def get_params(self):
        return {"power": self.power, "shape": self.shape, "dtype": np.float32}

    def __call__(self, learner, X_pool, n_instances=1, random_state=None):
        return my_strategy(learner, X_pool, n_instances)


def test_describe_other_callables():
    assert describe_strategy(my_strategy) == {
        "module": __name__, "qualname": "my_strategy",
    }
    described = describe_strategy(Scorer(power=3))
    assert described["qualname"] == "Scorer" and described["params"]["power"] == 3
    assert described["params"]["shape"] == [1, 2]
    assert isinstance(described["params"]["dtype"], str)
    partial = describe_strategy(functools.partial(my_strategy, n_instances=np.int64(2)))
    assert partial["qualname"] == "my_strategy" and partial["keywords"] == {"n_instances": 2}
    for description in (described, partial):
        assert json.loads(json.dumps(description)) == description
    with pytest.raises(TypeError, match="strategy must be callable"):
        describe_strategy("entropy")


def test_modal_active_learner_can_query_with_a_strategy(pool):
    modal = pytest.importorskip("modAL.models")
    net, X = pool
    learner = modal.ActiveLearner(estimator=net, query_strategy=entropy_diversity_quarter)
    # no labels yet: the cold-start batch, IFT Random's for seed 0 (modAL passes no seed)
    indices, instances = learner.query(X, n_instances=3)
    np.testing.assert_array_equal(indices, random_sampling(None, X, 3, random_state=0)[0])
    np.testing.assert_array_equal(instances, X[indices])
    # with five labels of each class the AIFT criterion ranks the pool
    learner.y_training = np.array([0, 1] * 5)
    indices, _ = learner.query(X, n_instances=3)
    np.testing.assert_array_equal(indices, entropy_diversity_quarter(net, X, n_instances=3)[0])


# -- the registry and the documented call ------------------------------------------------------
def test_get_strategy_returns_the_module_instance_of_each_name():
    for name in strategies.STRATEGY_NAMES:
        strategy = strategies.get_strategy(name)
        assert strategy is getattr(strategies, name)
        assert strategy.__name__ == name
    assert set(strategies.STRATEGY_NAMES) >= {"entropy_diversity_quarter", "random_sampling",
                                              "mean_uncertainty"}


@pytest.mark.parametrize("name, error", [("aift_sampling", ValueError),
                                         ("describe_strategy", ValueError),
                                         ("AIFTSampling", ValueError), (None, TypeError)])
def test_get_strategy_rejects_what_is_not_a_strategy_name(name, error):
    with pytest.raises(error, match="name must"):
        strategies.get_strategy(name)


@pytest.mark.parametrize("name", strategies.STRATEGY_NAMES)
def test_every_public_strategy_documents_its_call(name):
    strategy = strategies.get_strategy(name)
    doc = inspect.getdoc(type(strategy).__call__)
    assert doc is not None
    for section in ("Parameters", "Returns", "Raises", "n_instances", "exclude"):
        assert section in doc
    assert type(strategy).__name__ in doc  # says what this class ranks by
