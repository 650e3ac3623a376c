"""ActiveLearner: the Alg. 1 loop from zero labels, bad input, and end to end with AIFTNet.

Most tests use ``FakeNet``, a tiny deterministic stand-in with AIFTNet's
interface (its warm fits depend on every earlier fit, so a wrong continuation
shows in its predictions); the end-to-end test trains the real AIFTNet.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from learner_helpers import (
    FakeNet,
    brightest,
    brightest_no_exclude,
    in_order,
    make_pool,
    seeded_random,
)

from sklearn_aift.candidates import candidate_keys, pixel_digest
from sklearn_aift.learner import ActiveLearner


class LazyPool:
    """A minimal lazy candidate set that records the rows of every indexing."""

    def __init__(self, X, log=None):
        self._X = X
        self.log = [] if log is None else log

    @property
    def shape(self):
        return self._X.shape

    def __len__(self):
        return len(self._X)

    def __getitem__(self, idx):
        idx = np.asarray(idx, dtype=np.intp)
        self.log.append(len(idx))
        return LazyPool(self._X[idx], self.log)

    def __array__(self, dtype=None, copy=None):
        return self._X if dtype is None else self._X.astype(dtype)


@pytest.fixture
def pool():
    return make_pool()


# -- query ------------------------------------------------------------------------------------
def test_cold_start_query_uses_the_untrained_model_and_returns_pool_rows(pool):
    X, _ = pool
    net = FakeNet()
    learner = ActiveLearner(net, query_strategy=brightest)
    idx, X_query = learner.query(X, n_instances=3)
    expected = np.argsort(-net.predict_patch_proba(X)[..., 1].mean(axis=1), kind="stable")[:3]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(X_query, X[idx])
    assert learner.n_iter_ == 0 and learner.X_training.shape == (0, *X.shape[1:])
    assert learner.y_training.shape == (0,) and len(learner.labels_) == 0
    assert net.n_fits_ == 0


@pytest.mark.parametrize("strategy", [brightest, brightest_no_exclude])
def test_labeled_candidates_are_never_queried_again(pool, strategy):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=strategy)
    seen = []
    for _ in range(4):
        idx, X_query = learner.query(X, n_instances=3)
        assert not set(idx.tolist()) & set(seen)
        seen += idx.tolist()
        learner.teach(X_query, y[idx])
    assert sorted(seen) == list(range(12))
    np.testing.assert_array_equal(learner.labeled_indices_, seen)
    with pytest.raises(ValueError, match="nothing left to query"):
        learner.query(X)


def test_query_returns_fewer_when_fewer_are_unlabeled(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    learner.teach(*(lambda i: (X[i], y[i]))(learner.query(X, n_instances=10)[0]))
    idx, _ = learner.query(X, n_instances=5)
    assert len(idx) == 2


def test_user_exclude_is_merged_with_labeled(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    idx, X_query = learner.query(X, n_instances=2)
    learner.teach(X_query, y[idx])
    idx2, _ = learner.query(X, n_instances=12, exclude=[0, 2])
    assert not set(idx2.tolist()) & ({0, 2} | set(idx.tolist()))
    assert len(idx2) == 8


def test_lazy_pool_is_never_indexed_whole():
    X, y = make_pool(n=150)
    lazy = LazyPool(X)
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    for _ in range(3):
        idx, X_query = learner.query(lazy, n_instances=2)
        learner.teach(X_query, y[idx])
    # the model reads the pool in batches of 4, its identity is digested in batches of 64
    assert max(lazy.log) <= 64 and sum(n == 150 for n in lazy.log) == 0
    assert learner.labeled_keys_ == [pixel_digest(X[i]) for i in learner.labeled_indices_]


def test_random_state_seeds_each_round_reproducibly(pool):
    X, y = pool
    runs = []
    for _ in range(2):
        learner = ActiveLearner(FakeNet(), query_strategy=seeded_random, random_state=7)
        learner.run(y, X, budget=9, batch_size=3)
        runs.append(learner.labeled_indices_.tolist())
    other = ActiveLearner(FakeNet(), query_strategy=seeded_random, random_state=8)
    other.run(y, X, budget=9, batch_size=3)
    assert runs[0] == runs[1]
    assert other.labeled_indices_.tolist() != runs[0]


# -- teach --------------------------------------------------------------------------------------
def test_teach_fine_tunes_the_current_model_on_all_labels(pool):
    X, y = pool
    net = FakeNet()
    learner = ActiveLearner(net, query_strategy=in_order)
    thresholds = []
    for _ in range(3):
        idx, X_query = learner.query(X, n_instances=2)
        learner.teach(X_query, y[idx])
        thresholds.append(net.threshold_)
    assert [size for size, _ in net.fit_log_] == [2, 4, 6]
    assert [h["trained"] for h in learner.history_] == [True, True, True]
    # warm start: each fit moves on from the previous model (M_t <- F(L, M_{t-1}))
    assert len(set(thresholds)) == 3
    assert learner.X_training.shape == (6, 3, 3, 6, 6)
    np.testing.assert_array_equal(learner.X_training, X[learner.labeled_indices_])
    np.testing.assert_array_equal(learner.y_training, y[learner.labeled_indices_])
    assert learner.n_iter_ == 3


def test_only_new_fine_tunes_on_the_new_batch(pool):
    X, y = pool
    net = FakeNet(classes=[0, 1])
    learner = ActiveLearner(net, query_strategy=brightest, classes=[0, 1])
    for _ in range(3):
        idx, X_query = learner.query(X, n_instances=2)
        learner.teach(X_query, y[idx], only_new=True)
    assert [size for size, _ in net.fit_log_] == [2, 2, 2]
    assert [h["only_new"] for h in learner.history_] == [True] * 3


def test_history_records_rounds_scores_and_times(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order)
    learner.run(y, X, budget=6, batch_size=3)
    assert [h["round"] for h in learner.history_] == [1, 2]
    assert [h["n_labels"] for h in learner.history_] == [3, 6]
    first = learner.history_[0]
    assert first["queried"] == learner.labeled_indices_[:3].tolist()
    assert len(first["scores"]) == 3 and first["scores"] == sorted(first["scores"], reverse=True)
    assert first["scoring_time"] >= 0 and learner.history_[1]["training_time"] >= 0
    json.dumps(learner.history_)  # JSON-safe


def test_teach_identifies_candidates_by_their_pixels(pool):
    X, y = pool
    keys = candidate_keys(X)
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    idx, _ = learner.query(X, n_instances=4)
    learner.teach(X[idx[:2]], y[idx[:2]])  # the README idiom, on part of the query
    assert learner.labeled_keys_ == keys[idx[:2]].tolist()
    learner.teach(X[[5]], y[[5]], indices=[5])
    assert learner.labeled_keys_[-1] == keys[5]
    outside = X[[7]] // 2  # not from the pool
    learner.teach(outside, [0])
    assert learner.labeled_keys_[-1] == pixel_digest(outside[0])
    np.testing.assert_array_equal(learner.labeled_indices_, [*idx[:2], 5])
    with pytest.raises(ValueError, match=r"X is not X_pool\[indices\] .* positions \[6\]"):
        learner.teach(X[[4, 8]], y[[4, 8]], indices=[4, 6])
    with pytest.raises(ValueError, match="do not fit the pool of the last query"):
        learner.teach(X[:2], y[:2], indices=[3, 40])
    with pytest.raises(ValueError, match="has not queried yet"):
        ActiveLearner(FakeNet(), query_strategy=brightest).teach(X[:1], y[:1], indices=[0])
    assert len(learner.y_training) == 4


def test_teaching_a_candidate_twice(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    idx, X_query = learner.query(X, n_instances=2)
    learner.teach(X_query, y[idx])
    n_fits, rounds = learner.estimator.n_fits_, learner.n_iter_
    learner.teach(X_query, y[idx])  # same labels: no-op
    assert (learner.estimator.n_fits_, learner.n_iter_) == (n_fits, rounds)
    assert len(learner.y_training) == 2
    key = candidate_keys(X)[idx[0]]
    with pytest.raises(ValueError, match=f"candidate {key} is already labeled .*strict=True"):
        learner.teach(X_query[:1], 1 - y[idx[:1]], strict=True)
    with pytest.raises(ValueError, match="holds candidate .* twice, labeled 0 and 1"):
        learner.teach(X[[3, 3]], [0, 1])
    assert learner.y_training.tolist() == y[idx].tolist()  # the failed calls changed nothing
    learner.teach(X_query[:1], 1 - y[idx[:1]], annotator="reviewer")  # a correction
    assert learner.y_training.tolist() == [1 - y[idx[0]], y[idx[1]]]
    assert learner.labeled_keys_ == candidate_keys(X)[idx].tolist()  # no duplicate
    assert learner.labels_[0]["annotator"] == "reviewer" and learner.labels_[0]["round"] == 2
    assert learner.estimator.fit_log_[-1] == (2, [0, 1])  # refit on L with the new label


def test_single_class_first_batch_waits_for_a_second_class(pool, caplog):
    X, y = pool
    net = FakeNet()
    learner = ActiveLearner(net, query_strategy=brightest)
    with caplog.at_level(logging.WARNING, logger="sklearn_aift.learner"):
        idx, X_query = learner.query(X, n_instances=2)
        assert set(y[idx]) == {1}
        learner.teach(X_query, y[idx])
    assert "waits for a second class" in caplog.text
    assert net.n_fits_ == 0 and learner.history_[0]["trained"] is False
    idx2, _ = learner.query(X, n_instances=2)  # queries keep working
    assert not set(idx2) & set(idx)
    learner.teach(X[[0]], [0], indices=[0])
    assert net.n_fits_ == 1 and net.fit_log_[0] == (3, [0, 1])


def test_classes_up_front_train_a_k_class_head_from_a_single_class_batch(pool):
    X, y = pool
    net = FakeNet()
    learner = ActiveLearner(net, query_strategy=brightest, classes=[0, 1, 2])
    idx, X_query = learner.query(X, n_instances=2)
    assert net.classes == [0, 1, 2]  # the learner set the estimator's classes
    learner.teach(X_query, [2, 2])
    assert net.n_fits_ == 1 and list(net.classes_) == [0, 1, 2]
    assert learner.predict_patch_proba(X).shape == (12, 3, 3)
    with pytest.raises(ValueError, match=r"label\(s\) 5 outside classes \[0, 1, 2\]"):
        learner.teach(X[[0]], [5], indices=[0])


def test_classes_conflicting_with_the_estimator_are_rejected(pool):
    X, _ = pool
    with pytest.raises(ValueError, match="differs from the estimator's classes"):
        ActiveLearner(FakeNet(classes=[0, 1]), query_strategy=brightest,
                      classes=["a", "b"]).query(X)


def test_string_labels_and_predict_delegation(pool):
    X, y = pool
    names = np.array(["neg", "pos"])[y]
    learner = ActiveLearner(FakeNet(), query_strategy=in_order)
    learner.run(names, X, budget=6, batch_size=3)
    assert set(learner.y_training) == {"neg", "pos"}
    assert learner.predict(X).dtype.kind == "U"
    assert learner.predict_proba(X).shape == (12, 2)
    assert 0.0 <= learner.score(X, names) <= 1.0
    with pytest.raises(ValueError, match="outside the classes the model was fine-tuned on"):
        learner.teach(X[[11]], ["maybe"], indices=[11])


def test_initial_training_data_and_fit(pool):
    X, y = pool
    X_init = X[:2] // 2 + 1  # not pool candidates
    learner = ActiveLearner(FakeNet(), query_strategy=brightest, X_training=X_init,
                            y_training=[0, 1])
    idx, _ = learner.query(X, n_instances=2)
    assert learner.n_iter_ == 1 and learner.estimator.n_fits_ == 1
    assert learner.labeled_keys_ == [pixel_digest(x) for x in X_init]
    assert [row["annotator"] for row in learner.labels_] == ["import", "import"]
    with pytest.raises(ValueError, match="already holds 2 labels"):
        learner.fit(X[:2], y[:2])
    fresh = ActiveLearner(FakeNet(), query_strategy=brightest).fit(X[:4], y[:4])
    assert fresh.estimator.n_fits_ == 1 and len(fresh.y_training) == 4


# -- run ----------------------------------------------------------------------------------------
def test_run_stops_at_the_budget_with_a_callable_oracle(pool):
    X, y = pool
    asked = []

    def oracle(indices):
        asked.append(list(indices))
        return y[indices]

    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    learner.run(oracle, X, budget=7, batch_size=3)
    assert [len(a) for a in asked] == [3, 3, 1]
    assert len(learner.y_training) == 7 and learner.n_iter_ == 3
    learner.run(oracle, X, budget=7, batch_size=3)  # budget reached: nothing more
    assert len(asked) == 3


def test_run_stops_when_the_pool_is_exhausted_or_until_holds(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest).run(y, X, batch_size=5)
    assert len(learner.y_training) == 12 and learner.n_iter_ == 3
    stop = ActiveLearner(FakeNet(), query_strategy=in_order)
    stop.run(y, X, batch_size=2, until=lambda lrn: lrn.n_iter_ > 0 and lrn.score(X, y) == 1.0)
    assert stop.score(X, y) == 1.0 and len(stop.y_training) < 12


def test_run_bad_input(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    with pytest.raises(ValueError, match=r"labels of the whole pool, shape \(12,\)"):
        learner.run(y[:5], X)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        learner.run(y, X, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be a positive integer"):
        learner.run(y, X, batch_size=2.0)
    with pytest.raises(TypeError, match="budget must be None or an integer"):
        learner.run(y, X, budget="10")
    with pytest.raises(ValueError, match="budget must be None or a non-negative"):
        learner.run(y, X, budget=-1)
    with pytest.raises(TypeError, match="until must be a callable"):
        learner.run(y, X, until=True)
    with pytest.raises(ValueError, match="oracle labels has 1 labels but there are 2"):
        learner.run(lambda idx: [0], X, batch_size=2)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, exc, msg",
    [
        (0, ValueError, r"n_instances must be a positive integer \(>= 1\); got 0"),
        (-3, ValueError, "got -3"),
        (1.5, TypeError, "n_instances must be a positive integer; got 1.5 of type float"),
        (True, TypeError, "of type bool"),
        ("2", TypeError, "of type str"),
    ],
)
def test_bad_n_instances(pool, n, exc, msg):
    with pytest.raises(exc, match=msg):
        ActiveLearner(FakeNet(), query_strategy=brightest).query(pool[0], n_instances=n)


def test_empty_pool():
    with pytest.raises(ValueError, match="X_pool is empty"):
        ActiveLearner(FakeNet(), query_strategy=brightest).query(
            np.zeros((0, 2, 3, 4, 4), np.uint8))


def test_teach_with_mismatched_lengths(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    learner.query(X)
    with pytest.raises(ValueError, match="y has 2 labels but there are 3 candidates"):
        learner.teach(X[:3], y[:2])
    with pytest.raises(ValueError, match="indices has 2 entries but X holds 3 candidates"):
        learner.teach(X[:3], y[:3], indices=[0, 1])
    with pytest.raises(ValueError, match="must have shape"):
        learner.teach(X[0, 0], y[:3])


def test_a_strategy_that_does_not_return_a_2_tuple():
    X, _ = make_pool()

    def only_indices(learner, X_pool, n_instances=1, random_state=None, exclude=None):
        return np.arange(n_instances)

    with pytest.raises(TypeError, match="query_strategy only_indices must return a 2-tuple"):
        ActiveLearner(FakeNet(), query_strategy=only_indices).query(X)
    with pytest.raises(TypeError, match="query_strategy must be a callable"):
        ActiveLearner(FakeNet(), query_strategy="entropy").query(X)


def test_a_strategy_returning_labeled_or_bad_indices():
    X, y = make_pool()

    def stubborn(learner, X_pool, n_instances=1, random_state=None, exclude=None):
        return np.arange(n_instances), np.zeros(n_instances)

    learner = ActiveLearner(FakeNet(), query_strategy=stubborn)
    idx, X_query = learner.query(X, n_instances=2)
    learner.teach(X_query, y[idx])
    with pytest.raises(ValueError,
                       match=r"stubborn returned excluded \(labeled\) candidates \[0, 1\]"):
        learner.query(X, n_instances=2)

    def outside(learner, X_pool, n_instances=1, random_state=None, exclude=None):
        return np.array([99]), np.zeros(1)

    with pytest.raises(ValueError, match=r"outside \[0, 12\)"):
        ActiveLearner(FakeNet(), query_strategy=outside).query(X)


def test_an_estimator_without_predict_patch_proba():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match=r"estimator must provide predict_patch_proba\(\), fit\(\).*"
                                        r"LogisticRegression lacks predict_patch_proba"):
        ActiveLearner(LogisticRegression(), query_strategy=brightest).query(make_pool()[0])


def test_bad_classes_and_random_state(pool):
    X, _ = pool
    with pytest.raises(ValueError, match="at least 2 classes"):
        ActiveLearner(FakeNet(), query_strategy=brightest, classes=[1]).query(X)
    with pytest.raises(ValueError, match="must not repeat"):
        ActiveLearner(FakeNet(), query_strategy=brightest, classes=[1, 1]).query(X)
    with pytest.raises(TypeError, match="random_state must be None or an int"):
        ActiveLearner(FakeNet(), query_strategy=brightest, random_state=0.5).query(X)


# -- end to end with the real AIFTNet -------------------------------------------------------------
def tiny_image_pool(n=24, m=4, size=32, seed=0):
    """Textured uint8 candidates; label 1 candidates carry a bright blob."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.integers(20, 110, size=(n, m, 3, size, size), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for i in np.flatnonzero(y):
        for j in range(m):
            cy, cx = rng.integers(8, size - 8, size=2)
            blob = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(16, 40)
            X[i, j, :, blob] = 240
    return X, y


@pytest.mark.slow
def test_the_whole_loop_end_to_end_with_aiftnet():
    torch = pytest.importorskip("torch")
    from sklearn_aift import AIFTNet
    from sklearn_aift.strategies import entropy_diversity_quarter, random_sampling

    X, y = tiny_image_pool()
    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, freeze=10,
                  max_epochs=2, max_epochs_incremental=1, batch_size=16, random_state=0)
    learner = ActiveLearner(net, classes=[0, 1], random_state=0)  # paper default: E+D 1/4
    assert learner.query_strategy is entropy_diversity_quarter
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        P0 = learner.predict_patch_proba(X)
        # the cold start: IFT Random's batch for the round's seed, until 5 labels per class
        idx, _ = learner.query(X, n_instances=4)
        expected = random_sampling(learner, X, 4, random_state=learner._round_seed(1))[0]
        np.testing.assert_array_equal(idx, expected)
        learner.teach(X[idx], y[idx])  # the README's idiom
        learner.run(y, X, budget=16, batch_size=4)
        P = learner.predict_patch_proba(X)
    finally:
        torch.set_num_threads(threads)
    labeled = learner.labeled_indices_
    assert len(labeled) == len(set(labeled.tolist())) == 16 and learner.n_iter_ == 4
    np.testing.assert_array_equal(learner.y_training, y[labeled])
    assert all(h["trained"] for h in learner.history_) and net.n_fits_ == 4
    # M_t <- F(L, M_{t-1}): the last fit went over all of L (16 candidates x 4 patches)
    last_epoch = net.net_.history_[-1]
    assert sum(b["train_batch_size"] for b in last_epoch["batches"]) == 16 * 4
    assert len(net.net_.history_) == 2 + 3  # AIFT1's two epochs, then one per AIFT+ fit
    assert P.shape == P0.shape == (24, 4, 2) and not np.allclose(P, P0)
    assert [h["n_labels"] for h in learner.history_] == [4, 8, 12, 16]
    assert all(len(h["scores"]) == 4 and h["scoring_time"] > 0 for h in learner.history_)
    json.dumps(learner.history_)
