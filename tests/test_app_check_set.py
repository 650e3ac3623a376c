"""The labeling page's check set: labeled first, never learned from, measuring every round."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import numpy as np
import pytest
from fastapi.testclient import TestClient
from label_helpers import TINY_MODEL_ARGS, free_port, make_image_folder, open_campaign
from sklearn.metrics import roc_auc_score

from sklearn_aift import FrameProtocol
from sklearn_aift.app import LabelingCampaign, create_app
from sklearn_aift.app._check import check_set_metrics
from sklearn_aift.cli import build_parser, main
from sklearn_aift.cli._label import default_estimator
from sklearn_aift.learner import SessionError

pytestmark = pytest.mark.slow

CLASSES = ("negative", "positive")


def truth(file):
    """Bright images (every third) are positive."""
    return "positive" if int(file.rsplit("_", 1)[1][:3]) % 3 == 0 else "negative"


def label_all(campaign, batch):
    for c in batch:
        campaign.label(c["id"], truth(c["file"]))
    assert campaign.wait_idle(120)


def recorded_keys(session):
    with sqlite3.connect(session / "session.sqlite") as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'check_set'").fetchone()
    return json.loads(value)["keys"]


def expected_metrics(campaign, check_ids):
    """sklearn's metrics on the check labels and the current model's predictions."""
    pool = campaign._folder.pool
    keys = pool.keys.tolist()
    current = {c: e["label"] for c, e in campaign._store.current_decisions().items()}
    ids = [c for c in check_ids if current.get(c) in CLASSES]
    y = np.array([CLASSES.index(current[c]) for c in ids])
    P = campaign.estimator.predict_patch_proba(pool[np.array([keys.index(c) for c in ids])])
    proba = P.mean(axis=1)
    predicted = proba.argmax(axis=1)
    return {"n": len(ids), "auc": roc_auc_score(y, proba[:, 1]),
            "sensitivity": np.mean(predicted[y == 1] == 1),
            "specificity": np.mean(predicted[y == 0] == 0)}


def test_check_set_is_labeled_first_and_never_learned_from(tmp_path):
    images = make_image_folder(tmp_path / "images", n=13)
    session = tmp_path / "session"
    campaign = open_campaign(images, session, check_set=4)
    check_ids = recorded_keys(session)
    batch = campaign.batch()
    assert [c["id"] for c in batch] == check_ids and len(set(check_ids)) == 4
    assert {c["selection"] for c in batch} == {"check set"}
    assert all(c["predicted"] == "" and c["patch_proba"] == [] for c in batch)
    if len({truth(c["file"]) for c in batch}) < 2:  # both classes among the reference labels
        pytest.fail(f"the seeded draw holds one class: {[c['file'] for c in batch]}")
    label_all(campaign, batch)
    status = campaign.status()
    first = status["rounds"][0]
    assert (first["round"], first["kind"], first["n_labels"]) == (1, "check set", 0)
    assert first["check"]["n"] == 4 and first["check"]["auc"] is not None
    assert getattr(campaign.estimator, "n_fits_", 0) == 0  # nothing learned from it
    assert len(campaign._learner.y_training) == 0
    assert status["check_set"] == {"size": 4, "round": 1, "n_labeled": 4,
                                   "positive": "positive"}
    queried = []
    while campaign.status()["phase"] != "done":
        batch = campaign.batch()
        assert batch and {c["selection"] for c in batch} != {"check set"}
        queried += [c["id"] for c in batch]
        label_all(campaign, batch)
        learned = {row["candidate_key"] for row in campaign._learner.labels_}
        assert not learned & set(check_ids)
        assert len(campaign._learner.y_training) == len(learned) == len(queried)
        last = campaign.status()["rounds"][-1]
        want = expected_metrics(campaign, check_ids)
        got = last["check"]
        assert last["kind"] == "fine-tuning" and got["n"] == want["n"] == 4
        assert got["auc"] == pytest.approx(want["auc"])
        assert got["sensitivity"] == pytest.approx(want["sensitivity"])
        assert got["specificity"] == pytest.approx(want["specificity"])
    assert len(queried) == 9 and not set(queried) & set(check_ids)
    assert campaign.estimator.n_fits_ == 3
    rows = list(csv.DictReader(io.StringIO(campaign.labels_csv())))
    assert len(rows) == 13
    assert {r["file"] for r in rows if r["check_set"] == "1"} == {
        campaign._folder.relative(campaign._folder.files[c]) for c in check_ids}
    campaign.close()


def test_relabel_and_undo_of_a_check_image_change_the_reference_only(tmp_path):
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    campaign = open_campaign(images, session, check_set=3)
    check = campaign.batch()
    label_all(campaign, check)
    label_all(campaign, campaign.batch())  # a fine-tuning round
    target = check[0]
    flipped = "negative" if truth(target["file"]) == "positive" else "positive"
    campaign.label(target["id"], flipped)
    campaign.undo(check[1]["id"])
    assert campaign.wait_idle(120)
    assert [e["kind"] for e in campaign.history(target["id"])] == ["label", "label"]
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(campaign.labels_csv()))}
    assert rows[target["file"]]["label"] == flipped and rows[target["file"]]["check_set"] == "1"
    assert check[1]["file"] not in rows
    learned = {row["candidate_key"] for row in campaign._learner.labels_}
    assert not learned & {c["id"] for c in check}
    label_all(campaign, campaign.batch())  # the next round measures the new reference
    last = campaign.status()["rounds"][-1]
    want = expected_metrics(campaign, [c["id"] for c in check])
    assert last["check"]["n"] == want["n"] == 2
    # the undone check image is unlabeled again, yet never queried
    while campaign.status()["phase"] != "done":
        batch = campaign.batch()
        assert check[1]["id"] not in {c["id"] for c in batch}
        label_all(campaign, batch)
    assert campaign.status()["n_labeled"] == 11
    campaign.close()


def test_a_resumed_session_keeps_its_check_set(tmp_path):
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    campaign = open_campaign(images, session, check_set=3, random_state=5)
    keys = recorded_keys(session)
    campaign.label(campaign.batch()[0]["id"], "positive")
    campaign.close()
    for given in (3, None):
        resumed = open_campaign(images, session, check_set=given, random_state=5)
        assert [c["id"] for c in resumed.batch()] == keys
        assert resumed.status()["check_set"]["size"] == 3
        resumed.close()
    with pytest.raises(SessionError, match="check_set=4 .* check set of 3 images"):
        open_campaign(images, session, check_set=4, random_state=5)
    plain = tmp_path / "plain"
    open_campaign(images, plain).close()
    with pytest.raises(SessionError, match="started without a check set"):
        open_campaign(images, plain, check_set=2)
    other = open_campaign(images, tmp_path / "other", check_set=3, random_state=6)
    assert recorded_keys(tmp_path / "other") != keys  # the draw follows the seed
    other.close()


def test_a_check_set_must_leave_two_batches(tmp_path):
    images = make_image_folder(tmp_path / "images", n=12)
    with pytest.raises(ValueError, match="check_set=7 leaves 5 .* two batches \\(6\\)"):
        open_campaign(images, tmp_path / "session", check_set=7)
    with pytest.raises(ValueError, match="check_set must be a positive integer"):
        open_campaign(images, tmp_path / "session", check_set=0)


@pytest.mark.parametrize("value, message", [
    ("0", "--check-set: .*'0'"),
    ("two", "--check-set: .*'two'"),
    ("9", "--check-set 9: leaves 3 of the 12 images to learn from; at least two batches"),
])
def test_command_refuses_a_bad_check_set_before_serving(tmp_path, capsys, value, message):
    images = make_image_folder(tmp_path / "images", n=12)
    argv = ["label", str(images), "--session", str(tmp_path / "s"), "--batch-size", "3",
            "--check-set", value, *TINY_MODEL_ARGS]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and re.search(message, lines[0]), err
    assert "open http" not in err
    assert not (tmp_path / "s").exists()


def test_command_refuses_another_check_set_on_resume(tmp_path, capsys):
    images = make_image_folder(tmp_path / "images", n=12)
    session = tmp_path / "session"
    argv = ["label", str(images), "--session", str(session), "--batch-size", "3",
            "--port", str(free_port()), *TINY_MODEL_ARGS]
    estimator, _ = default_estimator(build_parser().parse_args(argv))
    LabelingCampaign(images, session, estimator, batch_size=3, check_set=3,
                     protocol=FrameProtocol(n_patches=5, patch_size=32)).close()
    status = main([*argv, "--check-set", "2"])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and "check set of 3 images" in lines[0], err


def test_rounds_are_exported_with_the_check_metrics(tmp_path):
    images = make_image_folder(tmp_path / "images", n=12)
    campaign = open_campaign(images, tmp_path / "session", check_set=3)
    for c, label in zip(campaign.batch(), ("negative", "positive", "positive")):
        campaign.label(c["id"], label)
    assert campaign.wait_idle(120)
    label_all(campaign, campaign.batch())
    client = TestClient(create_app(campaign), base_url="http://127.0.0.1")
    rounds = client.get("/api/rounds.csv")
    assert rounds.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(rounds.text)))
    assert list(rows[0]) == ["round", "kind", "n_labels", "batch_accuracy", "training_time",
                             "time", "check_n", "check_auc", "check_sensitivity",
                             "check_specificity", "check_recall_negative",
                             "check_recall_positive"]
    assert [(r["round"], r["kind"]) for r in rows] == [("1", "check set"), ("2", "fine-tuning")]
    status = campaign.status()
    for row, record in zip(rows, status["rounds"]):
        assert float(row["check_auc"]) == pytest.approx(record["check"]["auc"])
        assert float(row["check_sensitivity"]) == record["check"]["sensitivity"]
        assert row["check_recall_positive"] == row["check_sensitivity"]
    labels = client.get("/api/labels.csv").text
    assert sum(r["check_set"] == "1" for r in csv.DictReader(io.StringIO(labels))) == 3
    campaign.close()


def test_metrics_of_more_than_two_classes():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[.7, .2, .1], [.2, .5, .3], [.1, .3, .6], [.5, .1, .4]])
    m = check_set_metrics(y, proba, ["a", "b", "c"])
    assert m["auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert m["recall"] == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert "sensitivity" not in m
    assert check_set_metrics(np.array([0, 0]), np.array([[.6, .4], [.3, .7]]),
                             ["n", "p"])["auc"] is None
