"""Our strategies inside modAL's ActiveLearner (run when modAL is installed).

modAL-python 0.4.2.1 is installed with ``--no-deps`` (it pins a skorch that no
longer installs) and its ``fit``/``teach`` crash on scikit-learn >= 1.8, so
its learner is built without ``X_training`` (no fit) and the net is
fine-tuned directly or by our learner; modAL's ``query`` works.
"""

from __future__ import annotations

import numpy as np
import pytest

modal_models = pytest.importorskip("modAL.models")
torch = pytest.importorskip("torch")

from sklearn_aift import AIFTNet  # noqa: E402
from sklearn_aift.learner import ActiveLearner  # noqa: E402
from sklearn_aift.strategies import diversity_quarter  # noqa: E402


def tiny_pool(n=20, m=4, size=32, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.integers(20, 110, size=(n, m, 3, size, size), dtype=np.uint8)
    X[y == 1, :, 1, 6:20, 10:26] = 220  # a green patch marks the positives
    return X, y


@pytest.mark.slow
def test_modal_query_with_diversity_quarter_matches_ours():
    X, y = tiny_pool()
    net = AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, freeze=10,
                  max_epochs=1, max_epochs_incremental=1, batch_size=16, random_state=0)
    # random_state=None: both learners pass no seed, and the cold start's k-means uses seed 0
    ours = ActiveLearner(net, query_strategy=diversity_quarter, classes=[0, 1])
    theirs = modal_models.ActiveLearner(estimator=net, query_strategy=diversity_quarter)
    assert theirs.X_training is None and not hasattr(net, "net_")  # modAL did not fit

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # cold start: the same pretrained model M0 behind both learners
        idx_theirs, X_theirs = theirs.query(X, n_instances=5)
        idx_ours, X_ours = ours.query(X, n_instances=5)
        np.testing.assert_array_equal(idx_theirs, idx_ours)
        np.testing.assert_array_equal(X_theirs, X[idx_theirs])
        np.testing.assert_array_equal(X_ours, X_theirs)

        # after our learner fine-tuned the shared net: modAL's query with exclude= agrees
        ours.teach(X_ours, y[idx_ours])
        assert net.n_fits_ == 1
        # modAL's own teach crashes on scikit-learn >= 1.8; give its learner the same labels
        theirs.X_training, theirs.y_training = ours.X_training, ours.y_training
        idx_theirs, _ = theirs.query(X, n_instances=5, exclude=ours.labeled_indices_)
        idx_ours, _ = ours.query(X, n_instances=5)
        np.testing.assert_array_equal(idx_theirs, idx_ours)
        assert not set(idx_ours.tolist()) & set(ours.labeled_indices_.tolist())
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_modal_np_delete_loop_with_modal_query_selects_like_the_whole_pool():
    X, y = tiny_pool(n=24)
    params = dict(backbone="mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, freeze=10,
                  max_epochs=1, max_epochs_incremental=1, batch_size=16, random_state=0)
    whole = ActiveLearner(AIFTNet(**params), query_strategy=diversity_quarter, classes=[0, 1])
    net = AIFTNet(**params)
    ours = ActiveLearner(net, query_strategy=diversity_quarter, classes=[0, 1])
    theirs = modal_models.ActiveLearner(estimator=net, query_strategy=diversity_quarter)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X_pool, y_pool, original = X, y, np.arange(len(X))
        taught = []
        for _ in range(3):  # modAL's canonical loop, with modAL's own query
            idx, X_query = theirs.query(X_pool, n_instances=4)
            np.testing.assert_array_equal(X_query, X_pool[idx])
            ours.teach(X_pool[idx], y_pool[idx])
            X_pool = np.delete(X_pool, idx, axis=0)
            chosen = original[idx]
            y_pool, original = np.delete(y_pool, idx), np.delete(original, idx)
            idx_whole, _ = whole.query(X, n_instances=4)  # the whole pool, our query
            whole.teach(X[idx_whole], y[idx_whole])
            np.testing.assert_array_equal(chosen, idx_whole)
            taught += chosen.tolist()
        assert net.n_fits_ == 3 and len(set(ours.labeled_keys_)) == 12
        assert not set(ours.query(X, n_instances=12)[0].tolist()) & set(taught)
        assert ours.labeled_indices_.tolist() == taught  # found in the whole pool again
        np.testing.assert_array_equal(ours.predict_patch_proba(X), whole.predict_patch_proba(X))
    finally:
        torch.set_num_threads(threads)
