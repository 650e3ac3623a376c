"""Durable labeling sessions: the SQLite store, save/load, crash safety and refusals.

The store tests use the ``FakeNet`` double of learner_helpers.py; the kill test
runs the real AIFTNet in a subprocess and kills it with SIGKILL in the middle
of fine-tuning.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from learner_helpers import FakeNet, in_order, make_pool, seeded_random

from sklearn_aift.candidates import pixel_digest
from sklearn_aift.learner import FORMAT_VERSION, ActiveLearner, SessionError, SessionStore


class Crash(Exception):
    """Stands for the process dying."""


class CrashingNet(FakeNet):
    """Dies during its fit number ``crash_at`` (1-based) or while saving after it."""

    def __init__(self, classes=None, random_state=0, verbose=0, scale=10.0, crash_at=None,
                 crash_in="fit"):
        super().__init__(classes, random_state, verbose, scale)
        self.crash_at = crash_at
        self.crash_in = crash_in

    def get_params(self, deep=True):
        return {**super().get_params(), "crash_at": self.crash_at, "crash_in": self.crash_in}

    def fit(self, X, y):
        if self.crash_in == "fit" and self.n_fits_ + 1 == self.crash_at:
            self.threshold_ = getattr(self, "threshold_", 0.5) + 0.01  # half-trained weights
            raise Crash("killed during fine-tuning")
        return super().fit(X, y)

    def save_checkpoint(self, path):
        if self.crash_in == "save" and self.n_fits_ == self.crash_at:
            Path(path).write_text('{"threshold_": 0.')  # half written
            raise Crash("killed while writing weights")
        super().save_checkpoint(path)


def reference_run(X, y, budget, batch_size=2, strategy=seeded_random):
    learner = ActiveLearner(FakeNet(), query_strategy=strategy, random_state=3)
    learner.run(y, X, budget=budget, batch_size=batch_size)
    return learner


@pytest.fixture
def pool():
    return make_pool(n=14)


# -- the store ----------------------------------------------------------------------------------
def test_store_schema_is_the_documented_one(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s")
    learner.run(y, X, budget=4, batch_size=2)
    conn = sqlite3.connect(tmp_path / "s" / "session.sqlite")
    columns = {
        table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        for table in ("meta", "rounds", "labels", "label_events", "pixels")
    }
    conn.close()
    when = ["round", "annotator", "labeled_at"]
    assert columns == {
        "meta": ["key", "value"],
        "rounds": ["round", "status", "only_new", "record"],
        "labels": ["seq", "candidate_key", "digest", "label", *when],
        "label_events": ["seq", "candidate_key", "label", "previous", *when],
        "pixels": ["candidate_key", "pixels"],
    }
    store = SessionStore.open(tmp_path / "s")
    meta = store.read_meta()
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["estimator_class"].endswith("FakeNet") and meta["estimator_params"]["scale"] == 10.0
    assert meta["completed_round"] == 2 and meta["checkpoint_file"] == "weights/round-000002.pt"
    assert [p.name for p in (tmp_path / "s" / "weights").iterdir()] == ["round-000002.pt"]
    labels = store.read_labels()
    assert [r["candidate_key"] for r in labels] == learner.labeled_keys_
    assert [r["digest"] for r in labels] == [pixel_digest(x) for x in learner.X_training]
    assert {r["annotator"] for r in labels} == {"oracle"}
    np.testing.assert_array_equal(np.stack(list(store.read_pixels().values())), X[:4])
    assert [r["label"] for r in labels] == learner.y_training.tolist()
    assert [r["round"] for r in labels] == [1, 1, 2, 2]
    assert [r["status"] for r in store.read_rounds()] == ["trained", "trained"]


def test_each_batch_is_committed_before_fine_tuning_starts(tmp_path, pool):
    X, y = pool
    seen = []

    class Watching(FakeNet):
        def fit(self, X, y):
            rows = SessionStore(tmp_path / "s").read_rounds()
            seen.append((len(SessionStore(tmp_path / "s").read_labels()), rows[-1]["status"]))
            return super().fit(X, y)

    learner = ActiveLearner(Watching(), query_strategy=in_order, autosave=tmp_path / "s")
    learner.run(y, X, budget=6, batch_size=2)
    assert seen == [(2, "labeled"), (4, "labeled"), (6, "labeled")]


def test_autosave_refuses_an_existing_store(tmp_path, pool):
    X, y = pool
    ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s").query(X)
    with pytest.raises(FileExistsError, match=r"already exists .* ActiveLearner.load"):
        ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s").query(X)


# -- save / load --------------------------------------------------------------------------------
def test_load_restores_labels_history_and_model_and_continues(tmp_path, pool):
    X, y = pool
    reference = reference_run(X, y, budget=10)
    learner = ActiveLearner(FakeNet(), query_strategy=seeded_random, random_state=3,
                            autosave=tmp_path / "s")
    learner.run(y, X, budget=6, batch_size=2)
    resumed = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=seeded_random)
    assert resumed.labeled_keys_ == learner.labeled_keys_
    np.testing.assert_array_equal(resumed.y_training, learner.y_training)
    assert resumed.history_ == learner.history_ and resumed.n_iter_ == 3
    assert resumed.estimator.threshold_ == learner.estimator.threshold_
    assert resumed.random_state == 3
    resumed.run(y, X, budget=10, batch_size=2)
    assert resumed.labeled_keys_ == reference.labeled_keys_
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), reference.predict_patch_proba(X))
    again = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=seeded_random)
    assert again.labeled_keys_ == reference.labeled_keys_ and again.n_iter_ == 5


def test_an_interrupted_fine_tuning_is_redone_and_the_run_ends_the_same(tmp_path, pool):
    X, y = pool
    reference = reference_run(X, y, budget=10)
    learner = ActiveLearner(CrashingNet(crash_at=3), query_strategy=seeded_random,
                            random_state=3, autosave=tmp_path / "s")
    with pytest.raises(Crash):
        learner.run(y, X, budget=10, batch_size=2)
    store = SessionStore.open(tmp_path / "s")
    assert [r["status"] for r in store.read_rounds()] == ["trained", "trained", "labeled"]
    assert len(store.read_labels()) == 6  # the labels of the interrupted round are kept
    resumed = ActiveLearner.load(tmp_path / "s", estimator=CrashingNet(crash_at=3),
                                 query_strategy=seeded_random)
    assert resumed.estimator.n_fits_ == 2  # the model of the last completed round
    assert resumed.labeled_keys_ == reference.labeled_keys_[:6]
    assert len(resumed.history_) == 2 and resumed.n_iter_ == 3
    resumed.estimator.crash_at = None  # the "process" is healthy again
    resumed.save(tmp_path / "copy")  # a snapshot keeps the interrupted round pending
    copy = SessionStore.open(tmp_path / "copy")
    assert [r["status"] for r in copy.read_rounds()] == ["trained", "trained", "labeled"]
    assert copy.read_labels() == store.read_labels()
    resumed.run(y, X, budget=10, batch_size=2)
    assert resumed.labeled_keys_ == reference.labeled_keys_
    assert resumed.estimator.fit_log_ == reference.estimator.fit_log_
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), reference.predict_patch_proba(X))
    assert [h["round"] for h in resumed.history_] == [1, 2, 3, 4, 5]


def test_a_crash_while_writing_weights_keeps_the_previous_checkpoint(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(CrashingNet(crash_at=2, crash_in="save"), query_strategy=in_order,
                            autosave=tmp_path / "s")
    with pytest.raises(Crash):
        learner.run(y, X, budget=6, batch_size=2)
    assert not list((tmp_path / "s" / "weights").glob("*.tmp"))
    resumed = ActiveLearner.load(tmp_path / "s", estimator=CrashingNet(crash_at=2, crash_in="save"),
                                 query_strategy=in_order)
    assert resumed.estimator.n_fits_ == 1 and resumed.n_iter_ == 2  # round 1's weights
    resumed.estimator.crash_at = None
    resumed.query(X)  # the pool is known: round 2 is fine-tuned again
    assert resumed.estimator.n_fits_ == 2 and len(resumed.history_) == 2
    assert SessionStore.open(tmp_path / "s").read_meta()["checkpoint_round"] == 2


def test_save_writes_a_snapshot_that_loads(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order)
    learner.run(y, X, budget=4, batch_size=2)
    learner.save(tmp_path / "snap")
    with pytest.raises(FileExistsError, match="already exists"):
        learner.save(tmp_path / "snap")
    loaded = ActiveLearner.load(tmp_path / "snap", estimator=FakeNet(), query_strategy=in_order,
                                X_pool=X)
    assert loaded.labeled_keys_ == learner.labeled_keys_ and loaded.history_ == learner.history_
    np.testing.assert_array_equal(loaded.X_training, learner.X_training)
    np.testing.assert_array_equal(loaded.predict_proba(X), learner.predict_proba(X))
    assert not any(p.name.endswith(".saving") for p in tmp_path.iterdir())


def test_initial_candidates_are_stored_and_a_single_class_wait_survives(tmp_path, pool):
    X, y = pool
    X_init = X[:1] // 3  # one candidate from outside the pool, of one class: fine-tuning waits
    learner = ActiveLearner(FakeNet(), query_strategy=in_order, X_training=X_init,
                            y_training=[0], autosave=tmp_path / "s")
    learner.query(X)
    assert learner.history_[0]["trained"] is False
    loaded = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=in_order)
    np.testing.assert_array_equal(loaded.X_training, X_init)
    assert loaded.labeled_keys_ == [pixel_digest(X_init[0])] and loaded.estimator.n_fits_ == 0
    loaded.teach(X[[1]], [1])  # the second class arrives: fit on all of L
    assert loaded.estimator.fit_log_ == [(2, [0, 1])]


def test_a_session_resumes_and_fine_tunes_without_its_pool(tmp_path, pool):
    X, y = pool
    ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s").run(
        y, X, budget=2, batch_size=2)
    loaded = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=in_order)
    np.testing.assert_array_equal(loaded.X_training, X[:2])  # the store keeps the pixels
    loaded.teach(X[[5]], [1])
    assert loaded.estimator.fit_log_[-1] == (3, [0, 1])


# -- refusals -----------------------------------------------------------------------------------
@pytest.fixture
def session(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s")
    learner.run(y, X, budget=4, batch_size=2)
    return tmp_path / "s"


def test_load_refuses_a_different_strategy(session):
    with pytest.raises(SessionError, match="does not match the strategy of session"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=seeded_random)


def test_load_refuses_different_estimator_parameters(session):
    with pytest.raises(SessionError, match=r"scale: session 10.0, given 3.0"):
        ActiveLearner.load(session, estimator=FakeNet(scale=3.0), query_strategy=in_order)
    with pytest.raises(SessionError, match="the estimator is a .*CrashingNet, but session"):
        ActiveLearner.load(session, estimator=CrashingNet(), query_strategy=in_order)
    # runtime-only parameters may differ
    ActiveLearner.load(session, estimator=FakeNet(verbose=2), query_strategy=in_order)


def test_load_cannot_rebuild_a_foreign_estimator_or_strategy(session):
    with pytest.raises(SessionError, match="pass estimator="):
        ActiveLearner.load(session, query_strategy=in_order)
    with pytest.raises(SessionError,
                       match="cannot be rebuilt automatically; pass it as query_strategy="):
        ActiveLearner.load(session, estimator=FakeNet())


def test_load_rebuilds_a_built_in_strategy(tmp_path, pool):
    from sklearn_aift.strategies import aift_sampling, diversity_quarter

    X, y = pool
    for strategy in (diversity_quarter, aift_sampling(alpha=0.5, lambda1=0.0, lambda2=2.0)):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        ActiveLearner(FakeNet(), query_strategy=strategy, autosave=folder).query(X)
        loaded = ActiveLearner.load(folder, estimator=FakeNet())
        assert loaded.query_strategy == strategy
        with pytest.raises(SessionError, match="does not match"):
            ActiveLearner.load(folder, estimator=FakeNet(), query_strategy=aift_sampling(alpha=1.0))


def test_teach_after_load_never_labels_a_candidate_twice(session, pool):
    X, y = pool
    shuffled = X[::-1].copy()  # another array object, another order: found by content
    loaded = ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order,
                                X_pool=shuffled)
    labeled = sorted(loaded.labeled_indices_.tolist())
    assert labeled == sorted(13 - i for i in range(4))
    loaded.teach(shuffled[labeled], y[::-1][labeled])  # the same labels again: nothing new
    assert len(SessionStore.open(session).read_labels()) == 4 and loaded.n_iter_ == 2
    idx, _ = loaded.query(shuffled, n_instances=3)
    assert not set(idx.tolist()) & set(labeled)
    loaded.teach(shuffled[idx], y[::-1][idx])
    assert len(SessionStore.open(session).read_labels()) == 7


def test_load_refuses_a_corrupt_store(session):
    db = session / "session.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SessionError, match="corrupt"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


def test_load_refuses_a_truncated_store(session):
    db = session / "session.sqlite"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(SessionError, match="corrupt or truncated|integrity check"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


def test_load_refuses_a_store_missing_a_table(session):
    conn = sqlite3.connect(session / "session.sqlite")
    conn.execute("DROP TABLE rounds")
    conn.commit()
    conn.close()
    with pytest.raises(SessionError, match=r"lacks the table\(s\) \['rounds'\]"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


def test_load_refuses_a_newer_format_version(session):
    SessionStore(session).update_meta(format_version=FORMAT_VERSION + 1)
    newer = f"newer sklearn-aift \\(format version {FORMAT_VERSION + 1}\\)"
    with pytest.raises(SessionError, match=newer):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


def test_load_refuses_altered_or_missing_weights(session):
    weights = session / "weights" / "round-000002.pt"
    weights.write_text(weights.read_text()[:-5])
    with pytest.raises(SessionError, match="corrupt or truncated: its SHA-256 differs"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)
    weights.unlink()
    with pytest.raises(SessionError, match="round-000002.pt .*but it is missing"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


def test_load_of_a_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="no session store"):
        ActiveLearner.load(tmp_path / "nowhere", estimator=FakeNet())


# -- the real network: SIGKILL in the middle of fine-tuning ---------------------------------------
COMMON = '''
import numpy as np

NET_PARAMS = dict(backbone="mobilenet_v2", weights="IMAGENET1K_V1", input_size=32, freeze=10,
                  max_epochs=1, max_epochs_incremental=1, batch_size=8, random_state=0)
BATCH = 3


def make_data():
    rng = np.random.default_rng(1)
    y = np.arange(20) % 2
    X = rng.integers(20, 110, size=(20, 2, 3, 32, 32), dtype=np.uint8)
    X[y == 1, :, 0, 8:24, 8:24] = 230  # a red square marks the positives
    return X, y
'''

CAMPAIGN = '''
import sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[4])  # this checkout

import torch
from skorch.callbacks import Callback

from sklearn_aift.learner import ActiveLearner
from sklearn_aift.net import AIFTNet

torch.set_num_threads(1)
session, flag, kill_round = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
ARMED = []


class StallInTraining(Callback):
    """Tells the parent that round `kill_round` is training, then waits to be killed."""

    def on_batch_end(self, net, **kwargs):
        if ARMED:
            flag.write_text("training")
            time.sleep(600)


X, y = make_data()
net = AIFTNet(**NET_PARAMS, callbacks=[StallInTraining()])
learner = ActiveLearner(net, classes=[0, 1], random_state=0, autosave=session)
for round_ in range(1, kill_round + 1):
    idx, X_query = learner.query(X, n_instances=BATCH)
    if round_ == kill_round:
        ARMED.append(True)
    learner.teach(X_query, y[idx])
'''

_namespace: dict = {}
exec(COMMON, _namespace)
NET_PARAMS, BATCH = _namespace["NET_PARAMS"], _namespace["BATCH"]
make_data = _namespace["make_data"]


@pytest.fixture
def one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_sigkill_during_fine_tuning_loses_no_label_and_resumes_exactly(tmp_path, one_thread):
    from sklearn_aift.net import AIFTNet

    X, y = make_data()
    kill_round, budget = 3, 4 * BATCH
    script = tmp_path / "campaign.py"
    script.write_text(COMMON + textwrap.dedent(CAMPAIGN))
    session, flag = tmp_path / "session", tmp_path / "training.flag"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(session), str(flag), str(kill_round),
         str(Path(__file__).parent.parent)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # meanwhile, the uninterrupted reference run with the same seeds
        models = []  # predictions of M_0, M_1, ... (until() runs before every round)
        reference = ActiveLearner(AIFTNet(**NET_PARAMS), classes=[0, 1], random_state=0)
        reference.run(y, X, budget=budget, batch_size=BATCH,
                      until=lambda lrn: models.append(lrn.predict_patch_proba(X)) or False)
        deadline = time.monotonic() + 300
        while not flag.exists():
            if proc.poll() is not None:
                pytest.fail(f"the campaign process ended early:\n{proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("the campaign process never reached round 3's fine-tuning")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    store = SessionStore.open(session)
    assert [r["status"] for r in store.read_rounds()] == ["trained", "trained", "labeled"]
    stored = store.read_labels()  # every taught label is there, round 3's included
    assert [r["candidate_key"] for r in stored] == reference.labeled_keys_[: kill_round * BATCH]
    taught = reference.labeled_indices_[: kill_round * BATCH]
    assert [r["label"] for r in stored] == y[taught].tolist()
    assert store.read_meta()["checkpoint_round"] == kill_round - 1

    # the strategy comes from the store
    resumed = ActiveLearner.load(session, estimator=AIFTNet(**NET_PARAMS))
    assert resumed.estimator.n_fits_ == kill_round - 1  # the model of the last completed round
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), models[kill_round - 1])
    resumed.run(y, X, budget=budget, batch_size=BATCH)
    assert resumed.labeled_keys_ == reference.labeled_keys_
    np.testing.assert_array_equal(resumed.y_training, reference.y_training)
    np.testing.assert_array_equal(resumed.predict_patch_proba(X), reference.predict_patch_proba(X))
    assert [h["queried"] for h in resumed.history_] == [h["queried"] for h in reference.history_]


class _OpensAFile:
    """A pickle payload: unpickling it with weights_only=False would create a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.slow
def test_weight_files_are_only_read_with_weights_only(tmp_path, one_thread):
    torch = pytest.importorskip("torch")
    from sklearn_aift.net import AIFTNet

    params = dict(backbone="mobilenet_v2", weights=None, input_size=32, max_epochs=1,
                  batch_size=8, random_state=0)
    X, y = make_data()
    learner = ActiveLearner(AIFTNet(**params), classes=[0, 1], autosave=tmp_path / "s")
    learner.teach(X[:2], y[:2])
    # an AIFTNet whose parameters are all stored exactly is rebuilt from the store
    rebuilt = ActiveLearner.load(tmp_path / "s", autosave=False)
    assert isinstance(rebuilt.estimator, AIFTNet) and rebuilt.estimator.n_fits_ == 1
    assert rebuilt.estimator.get_params()["classes"] == [0, 1]
    np.testing.assert_array_equal(rebuilt.predict_patch_proba(X), learner.predict_patch_proba(X))
    store = SessionStore.open(tmp_path / "s")
    weights = store.checkpoint_path()
    marker = tmp_path / "payload-ran"
    torch.save({"format": "sklearn_aift.AIFTNet", "payload": _OpensAFile(marker)}, weights)
    store.update_meta(checkpoint_sha256=hashlib.sha256(weights.read_bytes()).hexdigest())
    with pytest.raises(SessionError, match="cannot load the weights"):
        ActiveLearner.load(tmp_path / "s", estimator=AIFTNet(**params))
    assert not marker.exists()


def test_a_lazy_candidate_set_pool_is_labeled_and_resumed(tmp_path):
    from sklearn_aift.augment import FrameProtocol
    from sklearn_aift.candidates import CandidateSet

    rng = np.random.default_rng(0)
    images = rng.integers(0, 90, size=(10, 24, 24, 3), dtype=np.uint8)
    images[1::2] += 140
    y = np.arange(10) % 2
    pool = CandidateSet(images, FrameProtocol(n_patches=5, patch_size=8), random_state=0)
    reference = ActiveLearner(FakeNet(), query_strategy=seeded_random, random_state=1)
    reference.run(y, pool, budget=8, batch_size=2)
    learner = ActiveLearner(FakeNet(), query_strategy=seeded_random, random_state=1,
                            autosave=tmp_path / "s")
    idx, X_query = learner.query(pool, n_instances=2)
    assert isinstance(X_query, CandidateSet)
    learner.teach(pool[idx], y[idx])  # a new subset object: matched by its keys
    assert learner.labeled_keys_ == pool.candidate_keys()[idx].tolist()
    learner.run(y, pool, budget=4, batch_size=2)
    resumed = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=seeded_random,
                                 X_pool=pool)
    np.testing.assert_array_equal(resumed.X_training, np.asarray(pool[resumed.labeled_indices_]))
    resumed.run(y, pool, budget=8, batch_size=2)
    assert resumed.labeled_keys_ == reference.labeled_keys_
    np.testing.assert_array_equal(resumed.predict_proba(pool), reference.predict_proba(pool))


@pytest.mark.parametrize("autosave", [True, False])
def test_an_interrupted_round_is_retried_in_process(tmp_path, pool, autosave):
    X, y = pool
    reference = reference_run(X, y, budget=10)
    learner = ActiveLearner(CrashingNet(crash_at=3), query_strategy=seeded_random, random_state=3,
                            autosave=tmp_path / "s" if autosave else None)
    with pytest.raises(Crash):  # e.g. Ctrl-C in a notebook
        learner.run(y, X, budget=10, batch_size=2)
    assert len(learner.history_) == 2 and len(learner.y_training) == 6
    learner.estimator.crash_at = None
    learner.run(y, X, budget=10, batch_size=2)  # round 3 is fine-tuned again first
    assert learner.labeled_keys_ == reference.labeled_keys_
    assert [h["round"] for h in learner.history_] == [1, 2, 3, 4, 5]
    if autosave:  # restarted from round 2's weights: exactly the uninterrupted result
        assert learner.estimator.fit_log_ == reference.estimator.fit_log_
        np.testing.assert_array_equal(learner.predict_patch_proba(X),
                                      reference.predict_patch_proba(X))
        assert [r["status"] for r in SessionStore.open(tmp_path / "s").read_rounds()] == [
            "trained"] * 5
    else:  # without a store it continues from the half-trained weights
        assert learner.estimator.threshold_ != reference.estimator.threshold_


def test_teach_rejects_candidates_unlike_the_labeled_ones(pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order)
    learner.teach(X[:2], y[:2])
    with pytest.raises(ValueError, match="dtype float64, but the labeled set holds"):
        learner.teach(X[2:4] / 255.0, y[2:4])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 6, 6\)"):
        learner.teach(X[2:4, :2], y[2:4])
    X_copy = X[:4].copy()
    learner.teach(X_copy[2:4], y[2:4])
    X_copy[:] = 0  # the caller reuses its buffer: L is unaffected
    np.testing.assert_array_equal(learner.X_training, X[:4])


# -- labels one at a time, their history, open ---------------------------------------------------
def test_labels_one_at_a_time_are_durable_before_any_training(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s")
    idx, _ = learner.query(X, n_instances=3)
    for i in idx:
        learner.teach(X[[i]], y[[i]], fine_tune=False, annotator="ann")
        stored = SessionStore.open(tmp_path / "s")  # another reader sees the label now
        assert stored.read_labels()[-1]["candidate_key"] == pixel_digest(X[i])
    assert learner.estimator.n_fits_ == 0 and learner.n_iter_ == 0
    assert [r["status"] for r in stored.read_rounds()] == ["open"]
    resumed = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=in_order)
    assert resumed.labeled_keys_ == learner.labeled_keys_ and resumed.estimator.n_fits_ == 0
    resumed.fine_tune()  # M_1 <- F(L, M_0) on everything recorded
    assert resumed.estimator.fit_log_ == [(3, [0, 1])] and resumed.n_iter_ == 1
    assert [r["status"] for r in stored.read_rounds()] == ["trained"]
    assert resumed.history_[0]["n_new"] == 3 and resumed.history_[0]["queried"] == []
    resumed.fine_tune()  # nothing new: nothing happens
    assert resumed.estimator.n_fits_ == 1 and resumed.n_iter_ == 1


def test_relabels_keep_their_history_with_annotator_and_time(tmp_path, pool):
    X, y = pool
    learner = ActiveLearner(FakeNet(), query_strategy=in_order, autosave=tmp_path / "s")
    learner.teach(X[:2], y[:2], annotator="ann")
    learner.teach(X[:1], 1 - y[:1], fine_tune=False, annotator="bob")
    learner.teach(X[:1], 1 - y[:1], fine_tune=False, annotator="bob")  # the same: no event
    store = SessionStore.open(tmp_path / "s")
    key = pixel_digest(X[0])
    events = [(e["candidate_key"], e["label"], e["previous"], e["round"], e["annotator"])
              for e in store.read_label_history()]
    assert events == [(key, 0, None, 1, "ann"), (pixel_digest(X[1]), 1, None, 1, "ann"),
                      (key, 1, 0, 2, "bob")]
    assert all(e["labeled_at"].endswith("+00:00") for e in store.read_label_history())
    assert [(r["label"], r["annotator"], r["round"]) for r in store.read_labels()] == [
        (1, "bob", 2), (1, "ann", 1)]
    assert learner.labels_ == [{k: r[k] for k in learner.labels_[0]} for r in store.read_labels()]
    resumed = ActiveLearner.load(tmp_path / "s", estimator=FakeNet(), query_strategy=in_order)
    assert resumed.y_training.tolist() == [1, 1] and resumed.labels_ == learner.labels_
    with pytest.raises(TypeError, match="annotator must be None or a non-empty string"):
        resumed.teach(X[:1], [0], annotator="")


def test_open_creates_a_session_then_resumes_it(tmp_path, pool):
    X, y = pool
    path = tmp_path / "daily"
    day1 = ActiveLearner.open(path, FakeNet(), X_pool=X, query_strategy=in_order, random_state=2)
    idx, _ = day1.query(X, n_instances=2)
    day1.teach(X[idx], y[idx], fine_tune=False)
    day2 = ActiveLearner.open(path, FakeNet(), X_pool=X, query_strategy=in_order, random_state=2)
    assert day2.labeled_keys_ == day1.labeled_keys_
    np.testing.assert_array_equal(day2.labeled_indices_, idx)
    assert not set(day2.query(X, n_instances=3)[0].tolist()) & set(idx.tolist())
    with pytest.raises(SessionError, match="random_state=5 differs from the random_state=2"):
        ActiveLearner.open(path, FakeNet(), query_strategy=in_order, random_state=5)
    with pytest.raises(TypeError, match=r"unexpected parameter\(s\) \['autosave'\]"):
        ActiveLearner.open(path, FakeNet(), autosave=path)
    with pytest.raises(TypeError, match="pass estimator= to create it"):
        ActiveLearner.open(tmp_path / "none")


def test_a_format_1_store_gets_a_clear_error(session):
    SessionStore(session).update_meta(format_version=1)
    with pytest.raises(SessionError, match="format version 1, which identified candidates by"):
        ActiveLearner.load(session, estimator=FakeNet(), query_strategy=in_order)


LABELER = '''
import sys
from pathlib import Path
sys.path[:0] = [sys.argv[3], str(Path(sys.argv[3]).parent)]  # the tests, this checkout
from sklearn_aift.learner import ActiveLearner
from learner_helpers import FakeNet, in_order, make_pool

X, y = make_pool(n=40)
learner = ActiveLearner.open(sys.argv[1], FakeNet(), query_strategy=in_order)
for i in range(int(sys.argv[2])):
    learner.teach(X[[i]], y[[i]], fine_tune=False, annotator="ann")
    print(i, flush=True)  # teach returned: the label is committed
print("done", flush=True)
sys.stdin.read()  # wait to be killed
'''


@pytest.mark.slow
def test_sigkill_after_labels_one_at_a_time_keeps_every_label(tmp_path):
    X, y = make_pool(n=40)
    script = tmp_path / "labeler.py"
    script.write_text(LABELER)
    session = tmp_path / "s"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(session), "30", str(Path(__file__).parent)],
        cwd=Path(__file__).parent.parent, env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    reported = []
    try:
        for line in proc.stdout:  # kill it in the middle of labeling
            if len(reported) == 12:
                os.kill(proc.pid, signal.SIGKILL)
                break
            reported.append(int(line))
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
    assert proc.returncode == -signal.SIGKILL, "the labeler ended before it was killed"
    resumed = ActiveLearner.open(session, FakeNet(), X_pool=X, query_strategy=in_order)
    assert len(resumed.y_training) >= len(reported) == 12  # every reported label is there
    n = len(resumed.y_training)
    np.testing.assert_array_equal(resumed.labeled_indices_, np.arange(n))
    np.testing.assert_array_equal(resumed.y_training, y[:n])
    resumed.teach(X[:n], y[:n])  # teaching them again in this fresh process adds nothing
    assert len(SessionStore.open(session).read_labels()) == n
    assert resumed.estimator.fit_log_ == [(n, [0, 1])]
    assert resumed.query(X, n_instances=1)[0].tolist() == [n]


# -- withdrawn labels and sessions that read their candidates from the pool -------------------
def test_withdrawn_labels_leave_L_and_stay_in_the_history(tmp_path, pool):
    X, _ = pool
    learner = ActiveLearner(FakeNet(), classes=[0, 1], autosave=tmp_path / "s")
    learner.teach(X[:3], [0, 1, 1], fine_tune=False, annotator="ann")
    gone = learner.labeled_keys_[1]
    learner.withdraw([gone, "never-labeled"], annotator="reviewer")
    assert learner.y_training.tolist() == [0, 1] and gone not in learner.labeled_keys_
    learner.fine_tune()
    assert learner.estimator.fit_log_[-1][0] == 2  # trained without the withdrawn label
    store = SessionStore.open(tmp_path / "s")
    assert [row["candidate_key"] for row in store.read_labels()] == learner.labeled_keys_
    last = store.read_label_history()[-1]
    assert (last["candidate_key"], last["label"], last["previous"], last["annotator"]) == (
        gone, None, 1, "reviewer")
    resumed = ActiveLearner.load(tmp_path / "s", FakeNet())
    assert resumed.labeled_keys_ == learner.labeled_keys_
    assert resumed.query(X, n_instances=14 - 2)[0].size == 12  # the withdrawn one is queried


def _file_pool(folder, n=6):
    from PIL import Image

    from sklearn_aift import CandidateSet, FrameProtocol

    folder.mkdir()
    paths = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(np.full((16, 16, 3), 20 * i, np.uint8)).save(path)
        paths.append(str(path))
    return CandidateSet(paths, FrameProtocol(n_patches=1, patch_size=16))


def test_a_session_without_pixels_reads_its_candidates_from_the_pool(tmp_path, caplog):
    X = _file_pool(tmp_path / "images")
    learner = ActiveLearner.open(tmp_path / "s", FakeNet(), keep_pixels=False, classes=[0, 1])
    learner.query(X, n_instances=3)
    learner.teach(X[[0, 1, 5]], [0, 0, 1], fine_tune=False)
    with sqlite3.connect(tmp_path / "s" / "session.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM labels").fetchone() == (3,)
        assert conn.execute("SELECT COUNT(*) FROM pixels").fetchone() == (0,)
    learner.fine_tune()
    assert learner.estimator.fit_log_ == [(3, [0, 1])]
    resumed = ActiveLearner.open(tmp_path / "s", FakeNet(), X_pool=X[[0, 1, 2, 3, 4]],
                                 classes=[0, 1])
    assert len(resumed.labeled_keys_) == 3
    resumed.teach(X[[2]], [1], fine_tune=False)
    with caplog.at_level("WARNING", logger="sklearn_aift.learner"):
        resumed.fine_tune()  # candidate 5 is not in this pool: left out
    assert resumed.estimator.fit_log_[-1][0] == 3
    assert any("not in the pool" in r.getMessage() for r in caplog.records)
