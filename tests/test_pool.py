"""Candidate identity: pools that shrink (modAL's np.delete loop), grow, or are new."""

from __future__ import annotations

import numpy as np
import pytest
from learner_helpers import FakeNet, brightest, brightest_no_exclude, make_pool

from sklearn_aift.augment import FrameProtocol
from sklearn_aift.candidates import CandidateSet, candidate_keys
from sklearn_aift.learner import ActiveLearner


def _whole_pool_run(X, y, strategy, rounds, batch):
    learner = ActiveLearner(FakeNet(), query_strategy=strategy)
    picked = []
    for _ in range(rounds):
        idx, X_query = learner.query(X, n_instances=batch)
        learner.teach(X_query, y[idx])
        picked.append(idx.tolist())
    return learner, picked


@pytest.mark.parametrize("strategy", [brightest, brightest_no_exclude])
def test_modal_np_delete_loop_selects_like_the_whole_pool(strategy):
    X, y = make_pool(n=16)
    reference, expected = _whole_pool_run(X, y, strategy, rounds=5, batch=3)
    learner = ActiveLearner(FakeNet(), query_strategy=strategy)
    X_pool, y_pool, original = X, y, np.arange(len(X))
    picked = []
    for _ in range(5):  # modAL's loop, unchanged
        idx, _ = learner.query(X_pool, n_instances=3)
        learner.teach(X_pool[idx], y_pool[idx])
        picked.append(original[idx].tolist())
        X_pool = np.delete(X_pool, idx, axis=0)
        y_pool, original = np.delete(y_pool, idx), np.delete(original, idx)
    assert picked == expected
    assert len(learner.y_training) == 15 == len(set(learner.labeled_keys_))
    assert learner.estimator.fit_log_ == reference.estimator.fit_log_
    np.testing.assert_array_equal(learner.predict_patch_proba(X), reference.predict_patch_proba(X))


def test_a_grown_pool_and_a_brand_new_pool():
    X, y = make_pool(n=16)
    old, new = X[:10], X[10:]
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    idx, X_query = learner.query(old, n_instances=4)
    learner.teach(X_query, y[idx])
    grown = np.concatenate([old, new])  # new cases arrived
    idx2, _ = learner.query(grown, n_instances=12)
    np.testing.assert_array_equal(learner.labeled_indices_, idx)
    assert sorted(idx2.tolist()) == sorted(set(range(16)) - set(idx.tolist()))
    order = np.random.default_rng(0).permutation(16)
    brand_new = X[order].copy()  # another array, shuffled: the labeled ones are still known
    idx3, _ = learner.query(brand_new, n_instances=16)
    assert sorted(order[idx3].tolist()) == sorted(set(range(16)) - set(idx.tolist()))
    assert sorted(order[learner.labeled_indices_].tolist()) == sorted(idx.tolist())
    fresh = make_pool(n=5, seed=7)[0]  # nothing labeled in it
    assert len(learner.query(fresh, n_instances=5)[0]) == 5
    assert len(learner.labeled_indices_) == 0


def test_initial_training_candidates_in_the_pool_are_never_proposed():
    X, y = make_pool(n=12)
    learner = ActiveLearner(FakeNet(), query_strategy=brightest_no_exclude,
                            X_training=X[[1, 3, 5, 7]], y_training=y[[1, 3, 5, 7]])
    seen = []
    while len(seen) < 8:
        idx, X_query = learner.query(X, n_instances=2)
        seen += idx.tolist()
        learner.teach(X_query, y[idx])
    assert not set(seen) & {1, 3, 5, 7}
    assert len(learner.y_training) == 12 == len(set(learner.labeled_keys_))
    with pytest.raises(ValueError, match="nothing left to query"):
        learner.query(X)


def test_exclude_receives_positions_in_the_pool_of_that_call():
    X, y = make_pool(n=10)
    calls = []

    def recording(learner, X_pool, n_instances=1, random_state=None, exclude=None):
        calls.append((len(X_pool), sorted(np.asarray(exclude).tolist())))
        return brightest(learner, X_pool, n_instances, random_state, exclude)

    learner = ActiveLearner(FakeNet(), query_strategy=recording)
    learner.teach(X[[2, 6]], y[[2, 6]])
    learner.query(X[::-1])  # position of candidate i is 9 - i
    learner.query(np.delete(X, [0, 1], axis=0))  # candidate i sits at i - 2
    assert calls == [(10, [3, 7]), (8, [0, 4])]


def _candidate_set(n=8):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 90, size=(n, 24, 24, 3), dtype=np.uint8)
    images[1::2] += 140
    return CandidateSet(images, FrameProtocol(n_patches=5, patch_size=8), random_state=0)


def test_plain_arrays_cut_from_a_candidate_set_pool_keep_their_keys():
    pool = _candidate_set()
    y = np.arange(len(pool)) % 2
    keys = candidate_keys(pool)
    learner = ActiveLearner(FakeNet(), query_strategy=brightest)
    idx, X_query = learner.query(pool, n_instances=2)
    learner.teach(np.asarray(X_query), y[idx])  # pixels, not the CandidateSet
    assert learner.labeled_keys_ == keys[idx].tolist()
    learner.teach(np.asarray(pool[idx[:1]]), y[idx[:1]])  # again as pixels: known, no-op
    assert len(learner.y_training) == 2
    idx2, _ = learner.query(pool, n_instances=8)
    assert sorted(idx2.tolist()) == sorted(set(range(8)) - set(idx.tolist()))
    subset = pool[np.setdiff1d(np.arange(8), idx)]  # the CandidateSet version of np.delete
    assert len(learner.query(subset, n_instances=8)[0]) == 6
