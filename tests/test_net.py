"""AIFTNet: candidates in, patch probabilities out, continuous fine-tuning, sklearn API."""

import copy
import os
import pickle
import socket
import urllib.error

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks as ec

from sklearn_aift import AIFTNet, ActivationCache
from sklearn_aift.candidates import candidate_keys
from sklearn_aift.net import CHECKPOINT_FORMAT

torch.set_num_threads(1)

# A small random-init network keeps every test fast on two shared cores.
FAST = dict(
    backbone="shufflenet_v2_x0_5",
    weights=None,
    input_size=32,
    max_epochs=1,
    max_epochs_incremental=1,
    batch_size=16,
    random_state=0,
)

# every test here builds a real network: the fast loop (`pytest -m "not slow"`) leaves them out
pytestmark = pytest.mark.slow

MOBILENET_V2_FILE = os.path.join(torch.hub.get_dir(), "checkpoints", "mobilenet_v2-b0353104.pth")


def fast_net(**kw):
    return AIFTNet(**{**FAST, **kw})


@pytest.fixture
def data(tiny_candidates):
    X, y = tiny_candidates
    return X, np.where(y == 1, "pos", "neg")


@pytest.fixture
def pretrained():
    if not os.path.isfile(MOBILENET_V2_FILE):
        pytest.skip(f"{MOBILENET_V2_FILE} is missing; `make weights` installs it")
    return dict(FAST, backbone="mobilenet_v2", weights="IMAGENET1K_V1")


class LazyCandidates:
    """A minimal lazy candidate set: shape, len, X[int_array], candidate_keys()."""

    def __init__(self, data, keys, log):
        self.data, self.keys, self.log = data, list(keys), log

    @property
    def shape(self):
        return self.data.shape

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        idx = np.asarray(idx)
        self.log.append(len(idx))
        return LazyCandidates(self.data[idx], [self.keys[i] for i in idx], self.log)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def candidate_keys(self):
        return self.keys


class LRProbe(Callback):
    """Records every parameter group's learning rate at every training batch."""

    def __init__(self, tag=None):
        self.tag = tag

    def initialize(self):
        self.records = getattr(self, "records", [])
        self.fit_ = getattr(self, "fit_", -1) + 1
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ = getattr(self, "epoch_", -1) + 1

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        groups = {
            g.get("role", "body_weight"): (g["lr"], g["momentum"])
            for g in net.optimizer_.param_groups
        }
        self.records.append((self.fit_, len(net.history), groups))


def to_float(X):
    return X.astype(np.float32) / 255.0


# ----------------------------------------------------------------- predictions
def test_predict_patch_proba_before_fit(data):
    X, _ = data
    P = fast_net().predict_patch_proba(X)
    assert P.shape == (12, 4, 2) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(-1), 1.0)
    # the fresh head is seeded by random_state
    np.testing.assert_array_equal(P, fast_net().predict_patch_proba(X))
    assert not np.allclose(P, fast_net(random_state=1).predict_patch_proba(X))
    assert fast_net(classes=["a", "b", "c"]).predict_patch_proba(X[:2]).shape == (2, 4, 3)
    with pytest.raises(NotFittedError):
        fast_net().predict(X)


def test_empty_pool_gives_empty_probabilities(data):
    X, _ = data
    assert fast_net().predict_patch_proba(X[:0]).shape == (0, 4, 2)


def test_four_d_input_is_one_patch_per_candidate(data):
    X, _ = data
    net = fast_net()
    P4 = net.predict_patch_proba(X[:, 0])
    assert P4.shape == (12, 1, 2)
    np.testing.assert_allclose(P4[:, 0], net.predict_patch_proba(X)[:, 0], atol=1e-6)


def test_uint8_float_and_grey_inputs_agree(data):
    X, _ = data
    net = fast_net(input_size=24)
    P = net.predict_patch_proba(X[:4])
    as_float = X[:4].astype(np.float32) / 255
    np.testing.assert_allclose(net.predict_patch_proba(as_float), P, atol=1e-5)
    grey = X[:4, :, :1]
    np.testing.assert_allclose(
        net.predict_patch_proba(grey),
        net.predict_patch_proba(np.repeat(grey, 3, axis=2)),
        atol=1e-6,
    )


def test_fit_predict_with_string_labels(data):
    X, y = data
    net = fast_net().fit(X, y)
    assert list(net.classes_) == ["neg", "pos"] and net.n_fits_ == 1
    P = net.predict_patch_proba(X)
    np.testing.assert_allclose(net.predict_proba(X), P.mean(axis=1))
    pred = net.predict(X)
    assert set(pred) <= {"neg", "pos"}
    assert net.score(X, y) == np.mean(pred == y)
    assert net.module_ is net.net_.module_


def test_pretrained_network_learns(data, pretrained):
    X, y = data
    net = AIFTNet(**dict(pretrained, max_epochs=3))
    net.fit(X, y)
    losses = net.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]
    assert net.score(X, y) >= 0.75


def test_first_fit_starts_from_the_cold_start_network(data):
    X, y = data
    seen = fast_net()
    seen.predict_patch_proba(X)  # builds M0
    seen.fit(X, y)
    direct = fast_net().fit(X, y)
    np.testing.assert_array_equal(seen.predict_patch_proba(X), direct.predict_patch_proba(X))


def test_fit_is_reproducible_and_warm_start_continues(data):
    X, y = data
    a = fast_net().fit(X, y)
    b = fast_net().fit(X, y)
    Pa = a.predict_patch_proba(X)
    np.testing.assert_array_equal(Pa, b.predict_patch_proba(X))
    a.fit(X, y)  # continues: M_2 = F(L, M_1)
    assert a.n_fits_ == 2 and len(a.net_.history) == 2
    assert not np.allclose(a.predict_patch_proba(X), Pa)
    cold = fast_net(warm_start=False).fit(X, y).fit(X, y)
    assert cold.n_fits_ == 1 and len(cold.net_.history) == 1
    np.testing.assert_array_equal(cold.predict_patch_proba(X), Pa)


def test_learning_rate_schedule_across_three_fits(data):
    X, y = data
    probe = LRProbe()
    net = fast_net(
        lr=1e-3,
        gamma=0.5,
        gamma_incremental=0.1,
        max_epochs=2,
        max_epochs_incremental=3,
        batch_size=24,
        callbacks=[("probe", probe)],
    )
    for _ in range(3):
        net.fit(X, y)
    # documented schedule: fit 0 (AIFT1): body lr * gamma**e, head 10 * lr * gamma**e;
    # later fits (AIFT+): body lr/10 * gamma_incremental**e, head 10x; biases 2x weights.
    expected = []
    for fit, (body, gamma, epochs) in enumerate([(1e-3, 0.5, 2), (1e-4, 0.1, 3), (1e-4, 0.1, 3)]):
        for e in range(epochs):
            w = body * gamma**e
            head = 10 * w
            rates = {"body_weight": w, "body_bias": 2 * w, "head_weight": head, "head_bias": 2 * head}
            expected.append((fit, rates))
    per_epoch = {}
    for fit, epoch, groups in probe.records:  # every batch of an epoch sees the same rates
        assert per_epoch.setdefault((fit, epoch), groups) == groups
    assert [fit for fit, _ in per_epoch] == [fit for fit, _ in expected]
    assert [epoch for _, epoch in per_epoch] == list(range(1, 9))  # history spans the fits
    for groups, (_, want) in zip(per_epoch.values(), expected):
        assert set(groups) == set(want)
        for role, lr in want.items():
            assert groups[role][0] == pytest.approx(lr, rel=1e-12), role
            assert groups[role][1] == 0.9
    # every batch of an epoch sees the epoch's rates (2 batches of 24 patches)
    assert len(probe.records) == 2 * 8


def test_parameter_groups_hold_the_right_parameters(data):
    X, y = data
    net = fast_net(head_lr=0.05).fit(X, y)
    groups = {g.get("role", "body_weight"): g for g in net.net_.optimizer_.param_groups}
    named = dict(net.module_.named_parameters())
    head = {named["backbone.fc.weight"]}, {named["backbone.fc.bias"]}
    assert set(groups["head_weight"]["params"]) == head[0]
    assert set(groups["head_bias"]["params"]) == head[1]
    body_bias = {  # the optimizer holds the trainable parameters only
        p for n, p in named.items()
        if n.endswith(".bias") and not n.startswith("backbone.fc") and p.requires_grad
    }
    assert body_bias and len(body_bias) < sum(n.endswith(".bias") for n in named) - 1
    assert set(groups["body_bias"]["params"]) == body_bias
    assert groups["head_weight"]["lr"] == pytest.approx(0.05)


def test_partial_fit(data):
    X, y = data
    net = fast_net()
    net.partial_fit(X[:4], ["pos"] * 4, classes=["neg", "pos"])
    assert list(net.classes_) == ["neg", "pos"] and len(net.net_.history) == 1
    net.partial_fit(X, y)
    assert net.n_fits_ == 2 and len(net.net_.history) == 2
    with pytest.raises(ValueError, match=r"\['maybe'\]"):
        net.partial_fit(X[:2], ["maybe", "pos"])
    with pytest.raises(ValueError, match="classes"):
        net.partial_fit(X[:2], ["pos", "pos"], classes=["neg", "pos", "x"])


def test_warm_fit_rejects_unseen_labels(data):
    X, y = data
    net = fast_net().fit(X, y)
    with pytest.raises(ValueError, match=r"\['other'\].*classes_"):
        net.fit(X[:2], ["other", "pos"])


def test_single_class_needs_classes(data):
    X, _ = data
    with pytest.raises(ValueError, match="single class.*classes="):
        fast_net().fit(X[:3], [1, 1, 1])
    net = fast_net(classes=[0, 1, 2]).fit(X[:3], [1, 1, 1])
    assert list(net.classes_) == [0, 1, 2] and net.predict_proba(X[:2]).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\[7\]"):
        fast_net(classes=[0, 1]).fit(X[:2], [0, 7])


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, match, exc",
    [
        (np.zeros((4, 32, 32), np.uint8), "X must have shape", ValueError),
        (np.zeros((4, 2, 2, 32, 32), np.uint8), "1 \\(grey\\) or 3 \\(RGB\\) channels", ValueError),
        (np.full((4, 2, 3, 32, 32), np.nan, np.float32), "NaN", ValueError),
        (np.full((4, 2, 3, 32, 32), np.inf, np.float32), "infinite", ValueError),
        (np.full((4, 2, 3, 32, 32), 3.0, np.float32), r"\[0, 1\]", ValueError),
        (np.zeros((4, 2, 3, 32, 32), np.int32), "dtype", TypeError),
        ([[0, 1]], "NumPy array", TypeError),
    ],
)
def test_bad_candidates(X, match, exc):
    net = fast_net()
    with pytest.raises(exc, match=match):
        net.fit(X, [0, 1, 0, 1])
    with pytest.raises(exc, match=match):
        net.predict_patch_proba(X)


def test_bad_labels_and_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="y has 3 labels but there are 12 candidates"):
        fast_net().fit(X, y[:3])
    with pytest.raises(ValueError, match="input_size=32.*63x63.*'alexnet'"):
        AIFTNet("alexnet", weights=None, input_size=32).predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="backbone='alexnett'.*resnet18"):
        AIFTNet("alexnett", weights=None).predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="weights='V9'.*IMAGENET1K_V1"):
        fast_net(weights="V9").predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="'lr' parameter"):
        fast_net(lr=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="freeze=99 does not fit the 5 feature blocks"):
        fast_net(freeze=99).predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="input_size must be"):
        fast_net(input_size=(32,)).predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="device"):
        fast_net(device="tpu").predict_patch_proba(X[:1])
    with pytest.raises(ValueError, match="optimizer__lr is controlled by AIFTNet.*lr"):
        fast_net(optimizer__lr=0.1).fit(X, y)
    with pytest.raises(TypeError, match="module__width"):
        fast_net(module__width=3).fit(X, y)
    with pytest.raises(TypeError, match="unexpected parameter 'lrr'.*head_lr"):
        fast_net(lrr=0.1).predict_patch_proba(X[:1])


# ----------------------------------------------------------------- activation cache
def primed(net, X, y):
    """Fit once (a weights=None net estimates its frozen batch-norm statistics then)."""
    net.fit(X[:4], y[:4])
    cache = net._cache_for(net.module_)
    cache.clear()
    return net, cache


@pytest.mark.parametrize("freeze", [-1, 5], ids=["last-block", "head-only"])
def test_cached_and_uncached_paths_agree(data, freeze):
    X, y = data
    cached = fast_net(freeze=freeze)
    plain = fast_net(freeze=freeze, activation_cache=None)
    np.testing.assert_allclose(cached.predict_patch_proba(X), plain.predict_patch_proba(X),
                               atol=1e-6)
    for _ in range(2):  # a first fit and a warm one
        cached.fit(X, y)
        plain.fit(X, y)
    np.testing.assert_allclose(cached.predict_patch_proba(X), plain.predict_patch_proba(X),
                               atol=1e-5)
    np.testing.assert_allclose(cached.embed(X), plain.embed(X), atol=1e-5)
    for name, value in cached.module_.state_dict().items():
        np.testing.assert_allclose(value.numpy(), plain.module_.state_dict()[name].numpy(),
                                   atol=1e-5, err_msg=name)
    assert getattr(plain, "_auto_cache", None) is None
    assert cached.module_.pools_cached_activations == (freeze == 5)
    frozen = dict(cached.module_.frozen_modules())
    assert frozen and all(not p.requires_grad for m in frozen.values() for p in m.parameters())
    assert all(not m.training for m in frozen.values())


def test_head_only_cache_holds_pooled_features(data):
    X, y = data
    net, cache = primed(fast_net(freeze=5), X, y)
    net.predict_patch_proba(X)
    fingerprint = net.module_.fingerprint(torch.device("cpu"))
    stored = cache.gather(fingerprint, list(candidate_keys(X)))
    assert tuple(stored.shape) == (12, 4, 1024, 1, 1)  # shufflenet's conv5 output, pooled


def test_negative_freeze_counts_from_the_last_block(data):
    X, y = data
    net = fast_net(freeze=-2).fit(X[:4], y[:4])
    assert net.module_.n_frozen == len(net.module_.blocks) - 2 == 3
    with pytest.raises(ValueError, match="freeze=-6 does not fit the 5 feature blocks"):
        fast_net(freeze=-6).predict_patch_proba(X[:1])


def test_fit_on_a_pool_subset_hits_the_cache(data):
    X, y = data
    net, cache = primed(fast_net(freeze=4, activation_cache=ActivationCache()), X, y)
    net.predict_patch_proba(X)  # round 1: the whole pool
    assert (cache.hits, cache.misses, len(cache)) == (0, 12, 12)
    labeled = np.array([0, 3, 4, 7, 9])
    net.fit(X[labeled], y[labeled])  # fine-tune on queried candidates
    assert (cache.hits, cache.misses) == (5, 12)
    net.predict_patch_proba(X)  # round 2
    assert (cache.hits, cache.misses) == (17, 12)


def test_a_pool_seen_twice_is_hashed_once(data, monkeypatch):
    import sklearn_aift.candidates._identity as candidates

    X, y = data
    calls = []
    digest = candidates.pixel_digest
    monkeypatch.setattr(candidates, "pixel_digest", lambda p: calls.append(1) or digest(p))
    net = fast_net(freeze=4)
    P = net.predict_patch_proba(X)
    net.predict_patch_proba(X)
    net.embed(X)
    assert len(calls) == 12
    X[5] = 255 - X[5]  # an in-place edit of the pool is noticed
    assert not np.array_equal(net.predict_patch_proba(X)[5], P[5])
    assert len(calls) == 24


def test_fingerprint_is_computed_once_and_follows_frozen_weights(data, monkeypatch):
    X, _ = data
    cache = ActivationCache()
    net = fast_net(freeze=2, activation_cache=cache)
    net.predict_patch_proba(X[:3])
    module, _ = net._initial_module(2)
    computed = []
    original = type(module)._compute_fingerprint
    monkeypatch.setattr(type(module), "_compute_fingerprint",
                        lambda self, s: computed.append(s) or original(self, s))
    net.predict_patch_proba(X[:3])
    assert computed == [] and cache.hits == 3
    net.set_params(freeze=3)
    net.predict_patch_proba(X[:3])
    net.set_params(input_size=40)
    net.predict_patch_proba(X[:3])
    assert len(computed) == 2 and (cache.hits, cache.misses) == (3, 9)
    # an in-place change of a frozen weight changes the fingerprint, and the predictions follow
    with torch.no_grad():
        module.backbone.conv1[0].weight.mul_(0.5)
    P = net.predict_patch_proba(X[:3])
    assert len(computed) == 3 and cache.misses == 12
    ref = fast_net(freeze=3, input_size=40, activation_cache=None)
    ref._initial = net._initial
    np.testing.assert_allclose(P, ref.predict_patch_proba(X[:3]), atol=1e-6)


def test_frozen_blocks_stay_in_eval_mode_through_fits(data):
    X, y = data
    net = fast_net(freeze=-1).fit(X, y)  # the first fit estimates the frozen statistics
    frozen_norms = [m for _, mod in net.module_.frozen_modules() for m in mod.modules()
                    if isinstance(m, torch.nn.BatchNorm2d)]
    trained_norms = [m for m in net.module_.backbone.conv5.modules()
                     if isinstance(m, torch.nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in frozen_norms + trained_norms]
    modes = []

    class ModeProbe(Callback):
        def on_batch_begin(self, net, **kwargs):
            modes.append(any(m.training for m in frozen_norms))

    net.set_params(callbacks=[("modes", ModeProbe())], activation_cache=None).fit(X, y)
    after = [m.running_mean for m in frozen_norms + trained_norms]
    assert modes and not any(modes)
    for old, new in zip(before[: len(frozen_norms)], after):
        torch.testing.assert_close(old, new, rtol=0, atol=0)
    assert not torch.equal(before[-1], after[-1])  # the trainable block's statistics moved


def test_scratch_features_do_not_collapse(data, monkeypatch):
    from sklearn_aift.net._module import _AIFTModule

    X, y = data
    params = dict(backbone="mobilenet_v2", input_size=32, freeze=-1)
    calibrated = fast_net(**params).fit(X, y)
    assert calibrated.embed(X).std(axis=0).mean() > 1e-3
    monkeypatch.setattr(_AIFTModule, "calibrate_norms", lambda self, batches: 0)
    collapsed = fast_net(**params).fit(X, y)
    assert collapsed.embed(X).std(axis=0).mean() < 1e-5  # what random BN statistics give


def test_lazy_candidate_set_uses_its_keys_and_streams(data):
    X, y = data
    log = []
    lazy = LazyCandidates(X, [f"cand-{i}" for i in range(12)], log)
    net, cache = primed(fast_net(freeze=2, activation_cache=ActivationCache(), batch_size=8),
                        X, y)
    log.clear()
    P = net.predict_patch_proba(lazy)
    assert max(log) <= 2  # 8 patches per batch = 2 candidates; never the whole pool
    fingerprint = net.module_.fingerprint(torch.device("cpu"))
    assert cache.keys(fingerprint) == {f"cand-{i}" for i in range(12)}
    np.testing.assert_allclose(P, net.predict_patch_proba(X), atol=1e-6)
    subset = lazy[np.array([1, 2, 5, 6])]
    net.fit(subset, y[[1, 2, 5, 6]])
    assert cache.hits >= 4
    plain_log = []
    fast_net(batch_size=8, activation_cache=None).fit(LazyCandidates(X, range(12), plain_log), y)
    assert max(plain_log) <= 8  # a training batch touches at most 8 candidates


def test_activation_cache_tables_bounds_and_sharing(tmp_path):
    cache = ActivationCache(max_bytes=100)
    assert list(cache.missing("f", [1, 2])) == [0, 1]
    assert cache.store("f", [1, 2], torch.arange(20.0).reshape(2, 1, 10))  # 80 bytes
    assert not cache.store("f", [3], torch.zeros(1, 1, 10))  # would exceed the bound
    assert cache.nbytes == 80 and len(cache) == 2 and list(cache.missing("f", [2, 3])) == [1]
    torch.testing.assert_close(cache.gather("f", [2, 1])[:, 0, 0], torch.tensor([10.0, 0.0]))
    with pytest.raises(KeyError):
        cache.gather("f", [3])
    assert copy.deepcopy(cache) is cache and copy.copy(cache) is cache
    revived = pickle.loads(pickle.dumps(cache))
    assert revived is not cache and len(revived) == 0 and revived.max_bytes == 100
    net = fast_net(freeze=1, activation_cache=cache)
    assert clone(net).activation_cache is cache and copy.deepcopy(net).activation_cache is cache
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0 and cache.hits == 0
    on_disk = ActivationCache(directory=tmp_path)
    on_disk.store("f", ["a", "b"], torch.arange(8.0).reshape(2, 2, 2))
    torch.testing.assert_close(on_disk.gather("f", ["b"]), torch.arange(4.0, 8.0).reshape(1, 2, 2))
    assert len(list(tmp_path.iterdir())) == 1
    on_disk.clear()
    assert list(tmp_path.iterdir()) == []


def test_a_full_or_on_disk_cache_gives_the_same_predictions(data, tmp_path):
    X, y = data
    reference = fast_net(freeze=-1).fit(X, y).predict_patch_proba(X)
    for cache in (ActivationCache(max_bytes=30_000), ActivationCache(directory=tmp_path)):
        net = fast_net(freeze=-1, activation_cache=cache).fit(X, y)
        np.testing.assert_allclose(net.predict_patch_proba(X), reference, atol=1e-6)
    assert 0 < cache.nbytes


def test_shared_cache_serves_clones(data):
    X, y = data
    cache = ActivationCache()
    net = fast_net(freeze=3, activation_cache=cache)
    net.predict_patch_proba(X)
    other = clone(net).set_params(random_state=7)  # another seed: new head, same frozen body
    other.predict_patch_proba(X)
    assert cache.hits == 0 and cache.misses == 24  # random init differs per seed
    same = clone(net)
    same.predict_patch_proba(X)
    assert cache.hits == 12


def test_candidate_set_keys_drive_the_cache():
    from sklearn_aift import CandidateSet

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(6, 40, 40, 3), dtype=np.uint8)
    X = CandidateSet(images)
    y = np.array([0, 1] * 3)
    net, cache = primed(fast_net(freeze=2, activation_cache=ActivationCache()), X, y)
    P = net.predict_patch_proba(X)
    assert P.shape == (6, X.shape[1], 2)
    fingerprint = net.module_.fingerprint(torch.device("cpu"))
    assert cache.keys(fingerprint) == set(X.candidate_keys())
    net.fit(X[np.array([0, 1, 4])], y[[0, 1, 4]])
    assert (cache.hits, cache.misses) == (3, 6)


# ----------------------------------------------------------------- training safeguards
def test_warm_fit_starts_from_the_previous_weights(data):
    X, y = data
    seen = []

    class StartProbe(Callback):
        def on_train_begin(self, net, **kwargs):
            seen.append({k: v.clone() for k, v in net.module_.state_dict().items()})

    net = fast_net(callbacks=[("start", StartProbe())])
    m0 = {k: v.clone() for k, v in net._initial_module(2)[0].state_dict().items()}
    net.fit(X, y)
    after_first = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.fit(X, y)
    assert any(not torch.equal(m0[k], after_first[k]) for k in m0)
    for k in after_first:  # fit 2 starts exactly where fit 1 ended, not from M0
        torch.testing.assert_close(seen[1][k], after_first[k], rtol=0, atol=0)


def test_divergence_names_the_learning_rate_and_keeps_the_weights(data):
    X, y = data
    net = fast_net().fit(X, y)
    P = net.predict_patch_proba(X)
    net.set_params(lr_incremental=1e6, head_lr_incremental=1e7)
    with pytest.raises(FloatingPointError, match="diverged.*1e\\+06.*lr_incremental"):
        net.fit(X, y)
    np.testing.assert_array_equal(net.predict_patch_proba(X), P)
    with pytest.raises(FloatingPointError, match="lr, head_lr"):
        fast_net(lr=1e6).fit(X, y)


def test_batch_size_one_is_refused_with_batch_norm(data):
    X, y = data
    with pytest.raises(ValueError, match="batch_size=1 .*batch-norm.*batch_size >= 2"):
        fast_net(batch_size=1).fit(X, y)


# ----------------------------------------------------------------- checkpoints
def test_checkpoint_continues_exactly(data, tmp_path, monkeypatch):
    X, y = data
    rounds = [np.arange(4), np.arange(8), np.arange(12)]
    params = dict(freeze=1, max_epochs=2, max_epochs_incremental=2)
    straight = fast_net(**params)
    for idx in rounds:
        straight.fit(X[idx], y[idx])
    first = fast_net(**params)
    for idx in rounds[:2]:
        first.fit(X[idx], y[idx])
    path = tmp_path / "net.pt"
    first.save_checkpoint(path)

    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == CHECKPOINT_FORMAT and ckpt["n_fits"] == 2
    assert ckpt["classes"] == ["neg", "pos"] and ckpt["optimizer_state"]["state"]

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    resumed = fast_net(**params, weights="DEFAULT").load_checkpoint(path)  # no weights needed
    assert resumed.n_fits_ == 2 and list(resumed.classes_) == ["neg", "pos"]
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), first.predict_patch_proba(X))
    resumed.fit(X[rounds[2]], y[rounds[2]])
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), straight.predict_patch_proba(X))
    assert len(resumed.net_.history) == len(straight.net_.history) == 6


def test_checkpoint_errors(data, tmp_path):
    X, y = data
    with pytest.raises(NotFittedError):
        fast_net().save_checkpoint(tmp_path / "x.pt")
    path = tmp_path / "net.pt"
    fast_net().fit(X, y).save_checkpoint(path)
    with pytest.raises(ValueError, match="backbone 'shufflenet_v2_x0_5'"):
        AIFTNet("resnet18", weights=None).load_checkpoint(path)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an AIFTNet checkpoint"):
        fast_net().load_checkpoint(tmp_path / "other.pt")


# ----------------------------------------------------------------- scikit-learn
def test_clone_get_set_params_reach_skorch(data):
    X, y = data
    net = fast_net(optimizer__weight_decay=1e-4)
    params = net.get_params()
    assert params["optimizer__weight_decay"] == 1e-4 and params["lr"] == 1e-3
    twin = clone(net)
    assert twin.get_params() == params and not hasattr(twin, "net_")
    twin.set_params(optimizer__weight_decay=3e-4, optimizer__nesterov=True, lr=0.02)
    twin.fit(X, y)
    for group in twin.net_.optimizer_.param_groups:
        assert group["weight_decay"] == 3e-4 and group["nesterov"] is True
    assert twin.net_.optimizer_.param_groups[-1]["lr"] == pytest.approx(0.02)  # body weights
    assert "optimizer__weight_decay=0.0003" in repr(twin)
    probe = LRProbe()
    nested = fast_net(callbacks=[("probe", probe)]).set_params(callbacks__probe__tag="seen")
    nested.fit(X[:4], y[:4])
    assert probe.tag == "seen"  # skorch's nested callback settings pass through
    twin.set_params(learning_rate=1)  # like any parameter, checked at fit
    assert clone(twin).get_params()["learning_rate"] == 1
    with pytest.raises(TypeError, match="unexpected parameter 'learning_rate'"):
        twin.fit(X, y)


def test_pipeline_with_a_transformer(data):
    X, y = data
    pipe = make_pipeline(FunctionTransformer(to_float), fast_net())
    pipe.set_params(aiftnet__head_lr=0.02, aiftnet__optimizer__weight_decay=1e-4)
    pipe.fit(X, y)
    assert pipe[-1].net_.optimizer_.param_groups[0]["weight_decay"] == 1e-4
    assert pipe.predict_proba(X).shape == (12, 2)
    assert 0.0 <= pipe.score(X, y) <= 1.0


def test_grid_search_over_learning_rates(data):
    X, y = data
    search = GridSearchCV(fast_net(), {"lr": [1e-3, 1e-2], "head_lr": [None, 0.05]}, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["lr"] in (1e-3, 1e-2)
    assert search.best_estimator_.n_fits_ == 1


def test_cross_validation_over_candidates(data):
    X, y = data
    strat = cross_val_score(fast_net(), X, y, cv=StratifiedKFold(3))
    groups = np.repeat(np.arange(6), 2)
    grouped = cross_val_score(fast_net(), X, y, groups=groups, cv=GroupKFold(3))
    assert strat.shape == grouped.shape == (3,)
    assert np.all((0 <= grouped) & (grouped <= 1))


def test_pickled_fitted_net_predicts_identically(data):
    X, y = data
    net = fast_net(freeze=2).fit(X, y)
    P = net.predict_patch_proba(X)
    revived = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(revived.predict_patch_proba(X), P)
    np.testing.assert_array_equal(revived.predict(X), net.predict(X))
    revived.fit(X, y)  # and trains on
    assert revived.n_fits_ == 2


def test_sklearn_tags_are_honest():
    tags = fast_net().__sklearn_tags__()
    assert tags.estimator_type == "classifier"
    assert tags.input_tags.two_d_array is False and tags.input_tags.allow_nan is False
    assert tags.target_tags.required is True and tags.requires_fit is True


@pytest.mark.parametrize(
    "check",
    [
        ec.check_estimator_cloneable,
        ec.check_estimator_repr,
        ec.check_no_attributes_set_in_init,
        ec.check_get_params_invariance,
        ec.check_set_params,
        ec.check_do_not_raise_errors_in_init_or_set_params,
        ec.check_valid_tag_types,
        ec.check_mixin_order,
        ec.check_parameters_default_constructible,
    ],
    ids=lambda c: c.__name__,
)
def test_data_free_sklearn_checks(check):
    check("AIFTNet", fast_net())


# ----------------------------------------------------------------- verbosity, devices
def test_verbose_progress_and_silence(data, capsys):
    X, y = data
    fast_net().fit(X, y).predict_patch_proba(X)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    fast_net(verbose=1).fit(X, y).predict_patch_proba(X)
    out = capsys.readouterr()
    assert "train_loss" in out.out and "predict" in out.err


def test_device_auto_is_cpu_without_cuda(data):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: see test_cuda_mixed_precision")
    X, y = data
    net = fast_net(amp=True).fit(X[:4], y[:4])  # amp is ignored on the CPU
    assert next(net.module_.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast_net(device="cuda").predict_patch_proba(X[:1])


@pytest.mark.cuda
def test_cuda_mixed_precision(data):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y = data
    net = fast_net(amp=True, freeze=2).fit(X, y)
    assert next(net.module_.parameters()).device.type == "cuda"
    P = net.predict_patch_proba(X)
    assert P.shape == (12, 4, 2) and np.allclose(P.sum(-1), 1)
    plain = fast_net(amp=True, freeze=2, activation_cache=None).fit(X, y)
    np.testing.assert_allclose(plain.predict_patch_proba(X), P, atol=2e-2)
    full = fast_net(freeze=2).fit(X, y)
    cpu = fast_net(freeze=2, device="cpu").fit(X, y)
    np.testing.assert_allclose(full.predict_patch_proba(X), cpu.predict_patch_proba(X), atol=1e-3)


@pytest.mark.parametrize("freeze", [-1, 0])
def test_hq_fits_train_on_new_and_misclassified_candidates(data, freeze):
    X, y = data
    net = fast_net(incremental_subset="hq", freeze=freeze).fit(X[:8], y[:8])
    assert net.n_trained_candidates_ == 8  # the first fit trains on everything
    wrong = int(np.sum(net.predict(X[:8]) != y[:8]))
    assert 0 < wrong < 8  # the check below tells the subsets apart
    net.fit(X[:12], y[:12])
    assert net.n_trained_candidates_ == 4 + wrong
    # the default trains on everything it is given
    lq = fast_net(freeze=freeze).fit(X[:8], y[:8]).fit(X[:12], y[:12])
    assert lq.n_trained_candidates_ == 12


def test_hq_fit_with_nothing_new_and_nothing_wrong_keeps_the_network(data):
    X, y = data
    net = fast_net(incremental_subset="hq")
    net.fit(X[:8], y[:8])
    right = np.flatnonzero(net.predict(X[:8]) == y[:8])
    before = {k: v.clone() for k, v in net.module_.state_dict().items()}
    net.fit(X[right], y[right])
    assert net.n_trained_candidates_ == 0 and net.n_fits_ == 2
    after = net.module_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [7, 16, 37])
def test_shuffled_batches_are_the_data_loaders(batch_size, drop_last):
    from torch.utils.data import DataLoader

    from sklearn_aift.net._data import ActivationDataset, ShuffledBatches, keep_batch

    dataset = ActivationDataset(torch.randn(37, 5, 8, 1, 1), np.arange(37) % 2)
    g_loader, g_ours = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=g_loader,
                        drop_last=drop_last, collate_fn=keep_batch)
    ours = ShuffledBatches(dataset, batch_size, True, g_ours, drop_last)
    for _ in range(3):  # epochs: the generator moves on identically
        expected, got = list(loader), list(ours)
        assert len(got) == len(expected) == len(ours)
        for (x, y), (x2, y2) in zip(expected, got):
            assert torch.equal(x, x2) and torch.equal(y, y2)
    assert torch.equal(g_loader.get_state(), g_ours.get_state())
