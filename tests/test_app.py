"""The labeling campaign and its HTTP API: durability, token, path safety, bad input."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import sqlite3
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from label_helpers import LabelServer, make_image_folder, open_campaign, tiny_net

from sklearn_aift import FrameProtocol
from sklearn_aift.app import LabelingCampaign, create_app

# every campaign here fine-tunes a real network: the fast loop (`pytest -m "not slow"`)
# leaves them out
pytestmark = pytest.mark.slow

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def campaign(tmp_path):
    campaign = open_campaign(make_image_folder(tmp_path / "images"), tmp_path / "session")
    yield campaign
    campaign.close()


def label_batch(campaign, labels=("negative", "positive", "negative")):
    batch = campaign.batch()
    for candidate, label in zip(batch, labels):
        campaign.label(candidate["id"], label)
    assert campaign.wait_idle(120)
    return batch


# -- campaign ----------------------------------------------------------------------------
def test_batch_is_ranked_and_round_completes(campaign):
    batch = campaign.batch()
    assert len(batch) == 3
    scores = [c["score"] for c in batch]
    assert scores == sorted(scores, reverse=True)
    assert all(np.asarray(c["patch_proba"]).shape == (5, 2) for c in batch)
    label_batch(campaign)
    status = campaign.status()
    assert status["completed_rounds"] == 1 and status["round"] == 2
    assert status["rounds"][0]["n_labels"] == 3
    assert 0.0 <= status["rounds"][0]["batch_accuracy"] <= 1.0
    assert campaign.estimator.n_fits_ == 1
    new_ids = {c["id"] for c in campaign.batch()}
    assert len(new_ids) == 3 and not new_ids & {c["id"] for c in batch}


def test_resume_restores_labels_and_model(tmp_path):
    images = make_image_folder(tmp_path / "images")
    campaign = open_campaign(images, tmp_path / "session")
    label_batch(campaign)
    pending = campaign.batch()[0]
    campaign.label(pending["id"], "positive")
    csv_before = campaign.labels_csv()
    campaign.close()
    with sqlite3.connect(tmp_path / "session" / "session.sqlite") as conn:
        # the learner holds every label, by key: the pixels stay in the folder's files
        assert conn.execute("SELECT COUNT(*) FROM labels").fetchone() == (4,)
        assert conn.execute("SELECT COUNT(*) FROM pixels").fetchone() == (0,)
        assert {f for (f,) in conn.execute("SELECT file FROM decisions")} <= {
            p.relative_to(images).as_posix() for p in images.rglob("*.png")}
    resumed = open_campaign(images, tmp_path / "session")
    assert resumed.labels_csv() == csv_before
    assert resumed.estimator.n_fits_ == 1  # the model of the last completed round
    assert resumed.batch()[0]["id"] == pending["id"]
    assert resumed.batch()[0]["label"] == "positive"
    resumed.close()


def test_relabel_and_undo_keep_history(campaign):
    first = campaign.batch()[0]["id"]
    campaign.label(first, "negative")
    campaign.label(first, "positive", annotator="second-opinion")
    campaign.undo(first)
    kinds = [(e["kind"], e["label"], e["annotator"]) for e in campaign.history(first)]
    assert kinds == [("label", "negative", "expert"), ("label", "positive", "second-opinion"),
                     ("undo", None, "expert")]
    assert campaign.status()["n_labeled"] == 0
    with pytest.raises(KeyError, match="no label to undo"):
        campaign.undo(first)


def test_grown_folder_joins_pool_at_next_round(tmp_path):
    images = make_image_folder(tmp_path / "images", n=8)
    campaign = open_campaign(images, tmp_path / "session")
    assert campaign.status()["n_images"] == 8
    make_image_folder(images, n=4, start=100)
    assert campaign.status()["n_images"] == 8  # not before the round ends
    label_batch(campaign)
    assert campaign.status()["n_images"] == 12
    campaign.close()


def test_unreadable_files_are_skipped_with_a_warning(tmp_path, caplog):
    images = make_image_folder(tmp_path / "images", n=6)
    (images / "broken.png").write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING, logger="sklearn_aift.app"):
        campaign = open_campaign(images, tmp_path / "session")
    assert campaign.status()["n_images"] == 6 and campaign.status()["phase"] == "labeling"
    assert any("broken.png" in r.getMessage() for r in caplog.records)
    campaign.close()


def test_import_labels_trains_before_first_query(tmp_path):
    images = make_image_folder(tmp_path / "images")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nimg_000.png,positive\nsub/deeper/img_001.png,negative\n")
    campaign = open_campaign(images, tmp_path / "session", labels=labels)
    rows = list(csv.DictReader(io.StringIO(campaign.labels_csv())))
    assert {(r["file"], r["label"]) for r in rows} == {
        ("img_000.png", "positive"), ("sub/deeper/img_001.png", "negative")}
    assert campaign.estimator.n_fits_ == 1
    assert not {c["file"] for c in campaign.batch()} & {"img_000.png", "sub/deeper/img_001.png"}
    campaign.close()


def test_class_folders_are_labels_only_when_asked(tmp_path):
    images = make_image_folder(tmp_path / "images", n=6, nested=False)
    for i, name in enumerate(["positive", "negative", "other"]):
        make_image_folder(images / name, n=2, nested=False, start=50 + 10 * i)
    plain = open_campaign(images, tmp_path / "plain")
    assert plain.status()["n_labeled"] == 0
    plain.close()
    campaign = open_campaign(images, tmp_path / "session", labels_from_folders=True)
    rows = list(csv.DictReader(io.StringIO(campaign.labels_csv())))
    assert sorted((r["file"].split("/")[0], r["label"]) for r in rows) == [
        ("negative", "negative")] * 2 + [("positive", "positive")] * 2
    assert campaign.history(campaign.batch()[0]["id"]) == []
    campaign.close()


def test_import_rejects_unknown_files_and_labels(tmp_path):
    images = make_image_folder(tmp_path / "images")
    labels = tmp_path / "labels.csv"
    labels.write_text("img_000.png,positive\n../secret.png,negative\nimg_002.png,maybe\n")
    with pytest.raises(ValueError, match=r"2 invalid row.*secret.png.*'maybe'"):
        open_campaign(images, tmp_path / "session", labels=labels)


def test_session_with_other_classes_is_refused(tmp_path):
    images = make_image_folder(tmp_path / "images")
    open_campaign(images, tmp_path / "session").close()
    with pytest.raises(ValueError, match="classes=.*benign"):
        open_campaign(images, tmp_path / "session", classes=["benign", "malignant"])


@pytest.mark.parametrize("classes", [["only"], "negative,positive", ["a", "a"], ["a", " b"]])
def test_bad_classes_are_rejected(tmp_path, classes):
    with pytest.raises(ValueError, match="classes"):
        LabelingCampaign(make_image_folder(tmp_path / "images"), tmp_path / "s", tiny_net(),
                         classes=classes)


# -- HTTP API ----------------------------------------------------------------------------
@pytest.fixture
def client(campaign):
    return TestClient(create_app(campaign, token=TOKEN))


def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/status", "/api/batch",
                                  "/api/labels.csv", "/api/openapi.json"])
def test_every_route_needs_the_token(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert client.get(path, headers=auth()).status_code == 200


def test_page_token_sets_cookie_for_later_calls(client):
    page = client.get("/?token=" + TOKEN)
    assert page.status_code == 200 and "sklearn-aift label" in page.text
    assert client.get("/api/status").status_code == 200  # the cookie now authenticates
    client.cookies.clear()
    assert client.get("/api/status").status_code == 401


def test_post_and_delete_need_the_token(client, campaign):
    cid = campaign.batch()[0]["id"]
    assert client.post("/api/labels", json={"id": cid, "label": "positive"}).status_code == 401
    assert client.delete(f"/api/labels/{cid}").status_code == 401
    assert campaign.status()["n_labeled"] == 0


def test_images_served_by_id_only(client, campaign):
    candidate = campaign.batch()[0]
    response = client.get(f"/api/images/{candidate['id']}", headers=auth())
    assert response.status_code == 200
    assert response.content == campaign.image_path(candidate["id"]).read_bytes()
    for bad in ["../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "img_000.png",
                str(campaign.image_path(candidate["id"])), "0" * 32]:
        r = client.get(f"/api/images/{bad}", headers=auth())
        assert r.status_code == 404, bad
        assert b"root:" not in r.content


def test_a_batch_is_sent_with_its_own_round():
    """The campaign may complete a round while the batch is read: the reply stays consistent."""

    class Finishing:  # its round moves on right after the batch of round 5 was read
        def batch(self):
            return [{"id": "a", "round": 5}]

        def status(self):
            return {"round": 6}

    reply = TestClient(create_app(Finishing(), token=TOKEN)).get("/api/batch", headers=auth())
    assert reply.json() == {"round": 5, "candidates": [
        {"id": "a", "round": 5, "image_url": "/api/images/a"}]}


def test_label_via_api_is_committed_before_reply(client, campaign):
    cid = campaign.batch()[0]["id"]
    r = client.post("/api/labels", json={"id": cid, "label": "positive"}, headers=auth())
    assert r.status_code == 200 and r.json()["counts"]["positive"] == 1
    with sqlite3.connect(campaign.session / "session.sqlite") as conn:  # another connection
        rows = conn.execute("SELECT candidate_key, label FROM decisions").fetchall()
    assert rows == [(cid, "positive")]
    r = client.delete(f"/api/labels/{cid}", headers=auth())
    assert r.status_code == 200 and r.json()["n_labeled"] == 0
    exported = client.get("/api/labels.csv", headers=auth())
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == "file,label,round,time,check_set\n"


@pytest.mark.parametrize("body, status, message", [
    ({"id": "ID", "label": "maybe"}, 422, "label must be one of \\['negative', 'positive'\\]; "
                                          "got 'maybe'"),
    ({"id": "ID", "label": 1}, 422, "got 1"),
    ({"id": "nope", "label": "positive"}, 404, "no candidate with id 'nope'"),
    ({"id": "ID"}, 422, "needs \"label\""),
    ({"id": "ID", "label": "positive", "path": "/etc"}, 422, "unknown field"),
    (["ID", "positive"], 422, "JSON object"),
])
def test_bad_labels_get_clear_4xx(client, campaign, body, status, message):
    cid = campaign.batch()[0]["id"]
    if isinstance(body, dict) and body.get("id") == "ID":
        body = dict(body, id=cid)
    r = client.post("/api/labels", json=body, headers=auth())
    assert r.status_code == status
    assert re.search(message, r.json()["detail"])
    assert campaign.status()["n_labeled"] == 0


def test_body_is_bounded_and_must_be_json(client, campaign):
    big = '{"id": "' + "x" * 10_000 + '", "label": "positive"}'
    r = client.post("/api/labels", content=big, headers=dict(auth(), **{
        "Content-Type": "application/json"}))
    assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]
    r = client.post("/api/labels", content=b"not json", headers=dict(auth(), **{
        "Content-Type": "application/json"}))
    assert r.status_code == 400 and "must be JSON" in r.json()["detail"]


def test_form_posts_from_other_sites_are_refused(client, campaign):
    cid = campaign.batch()[0]["id"]
    body = '{"id": "%s", "label": "positive"}' % cid
    r = client.post("/api/labels", content=body, headers=dict(auth(), **{
        "Content-Type": "text/plain"}))
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    assert campaign.status()["n_labeled"] == 0


def test_without_token_only_loopback_host_names_are_answered(campaign):
    local = TestClient(create_app(campaign), base_url="http://127.0.0.1:8765")
    assert local.get("/api/status").status_code == 200
    assert local.get("/api/status", headers={"Host": "localhost:8765"}).status_code == 200
    rebound = local.get("/api/status", headers={"Host": "evil.example:8765"})
    assert rebound.status_code == 403 and "evil.example" in rebound.json()["detail"]


def test_skip_completes_the_batch_and_is_not_proposed_again(campaign):
    batch = campaign.batch()
    campaign.skip(batch[0]["id"])
    for candidate in batch[1:]:
        campaign.label(candidate["id"], "positive")
    assert campaign.wait_idle(120)
    status = campaign.status()
    assert status["completed_rounds"] == 1 and status["n_skipped"] == 1
    assert status["rounds"][0]["n_labels"] == 2
    assert batch[0]["id"] not in {c["id"] for c in campaign.batch()}
    assert "skip" not in campaign.labels_csv()


def test_concurrent_labels_from_two_tabs(client, campaign):
    batch = campaign.batch()
    contested = batch[0]["id"]
    errors = []

    def tab(label, ids):
        try:
            for _ in range(10):
                for cid in ids:
                    r = client.post("/api/labels", json={"id": cid, "label": label},
                                    headers=auth())
                    assert r.status_code == 200
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab, args=("negative", [contested])),
               threading.Thread(target=tab, args=("positive", [contested]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    history = campaign.history(contested)
    assert len(history) == 20  # every answer is kept
    rows = list(csv.DictReader(io.StringIO(campaign.labels_csv())))
    assert [r["label"] for r in rows] == [history[-1]["label"]]  # the last answer wins, once


# -- the server process ------------------------------------------------------------------
def test_kill_9_mid_fine_tune_then_resume(tmp_path):
    images = make_image_folder(tmp_path / "images")
    session = tmp_path / "session"
    server = LabelServer(images, session, batch_size=4)
    try:
        batch = server.json("GET", "/api/batch")["candidates"]
        for candidate, label in zip(batch, ["negative", "positive", "negative", "positive"]):
            server.json("POST", "/api/labels", {"id": candidate["id"], "label": label})
        server.kill()  # the last reply is in: fine-tuning has just started
        with sqlite3.connect(session / "session.sqlite") as conn:
            assert conn.execute("SELECT COUNT(*) FROM batch_rounds").fetchone() == (0,)
            assert conn.execute("SELECT COUNT(*) FROM decisions").fetchone() == (4,)
        server = LabelServer(images, session, batch_size=4)
        status = server.wait_until(lambda s: s["completed_rounds"] == 1, timeout=120)
        assert status["n_labeled"] == 4 and status["round"] == 2
        exported = server.request("GET", "/api/labels.csv")[1].decode()
        assert {r["file"] for r in csv.DictReader(io.StringIO(exported))} == {
            c["file"] for c in batch}
        next_batch = server.json("GET", "/api/batch")["candidates"]
        assert len(next_batch) == 4 and not {c["id"] for c in next_batch} & {
            c["id"] for c in batch}
    finally:
        server.stop()


def test_non_loopback_host_generates_a_token(tmp_path):
    from sklearn_aift.cli._label import _check_host

    assert _check_host("127.0.0.1", None) is None
    assert _check_host("::1", None) is None
    generated = _check_host("0.0.0.0", None)
    assert isinstance(generated, str) and len(generated) >= 32
    assert _check_host("0.0.0.0", "mine-1234") == "mine-1234"


class _RecordingNet:
    """A stand-in model that records the size of each prediction."""

    def __init__(self):
        self.sizes = []

    def get_params(self, deep=True):
        return {"classes": [0, 1], "activation_cache": "auto"}

    def predict_patch_proba(self, X):
        self.sizes.append(len(X))
        p = np.linspace(0.2, 0.8, len(X) * X.shape[1]).reshape(len(X), X.shape[1], 1)
        return np.concatenate([1 - p, p], axis=-1)

    def fit(self, X, y):  # the learner's session needs these; never called here
        return self

    def save_checkpoint(self, path):
        open(path, "wb").close()

    def load_checkpoint(self, path):
        return self


def test_first_feature_pass_reports_progress(tmp_path, caplog):
    from sklearn_aift import entropy

    images = make_image_folder(tmp_path / "images", n=100, nested=False)
    net = _RecordingNet()
    with caplog.at_level(logging.INFO, logger="sklearn_aift.app"):
        campaign = LabelingCampaign(images, tmp_path / "session", net, batch_size=3,
                                    protocol=FrameProtocol(n_patches=1, patch_size=16),
                                    strategy=entropy)
        campaign.wait_idle(60)
    assert net.sizes[:2] == [64, 36]  # the whole pool chunk by chunk, before the ranking
    messages = [r.getMessage() for r in caplog.records]
    assert "computing the features of the pool: 64/100 images" in messages
    assert len(campaign.batch()) == 3
    campaign.close()


def test_command_on_all_interfaces_prints_a_generated_token(tmp_path):
    images = make_image_folder(tmp_path / "images", n=6)
    server = LabelServer(images, tmp_path / "session", "--host", "0.0.0.0", wait=False)
    try:
        deadline = time.monotonic() + 120
        while "open http" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.2)
        out = server.output()
        assert "offline ImageNet MobileNetV2" not in out  # the tests pass --backbone
        assert "model: mobilenet_v3_small" in out
        url = re.search(r"open (http://0\.0\.0\.0:\d+/\?token=(\S+))", out)
        assert url, out
        server.token = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                code = server.request("GET", "/api/status")[0]
                break
            except OSError:  # not listening yet
                time.sleep(0.2)
        assert code == 401
        server.token = url.group(2)
        server.wait_until(lambda s: s["phase"] == "labeling", timeout=120)
    finally:
        server.stop()


def test_batch_says_random_start_until_every_class_has_five_labels(tmp_path):
    """The first batches are the strategy's random start and say so; recent() lists decisions."""
    images = make_image_folder(tmp_path / "images", n=24, nested=False)
    campaign = open_campaign(images, tmp_path / "session", batch_size=6)
    try:
        batch = campaign.batch()
        assert {c["selection"] for c in batch} == {"random start"}
        for i, c in enumerate(batch):
            campaign.label(c["id"], "positive" if i % 2 else "negative")
        recent = campaign.recent(4)
        assert [r["id"] for r in recent] == [c["id"] for c in batch[::-1][:4]]
        assert recent[0]["label"] == "positive" and recent[0]["round"] == 1
        assert campaign.status()["n_events"] == 6
        assert campaign.wait_idle()
        # 3 labels per class after round 1: still the random start
        assert {c["selection"] for c in campaign.batch()} == {"random start"}
        for i, c in enumerate(campaign.batch()):
            campaign.label(c["id"], "positive" if i % 2 else "negative")
        assert campaign.wait_idle()
        assert campaign.status()["counts"] == {"negative": 6, "positive": 6}
        assert {c["selection"] for c in campaign.batch()} == {"ranked"}
    finally:
        campaign.close()


def test_half_open_connections_do_not_lock_out_an_authorised_client(tmp_path):
    """70 connections that send half a request and wait: the token holder is still served,
    and the server closes the idle ones once their headers are overdue."""
    import socket

    from sklearn_aift.app._connections import HEADER_TIMEOUT

    images = make_image_folder(tmp_path / "images", n=6)
    server = LabelServer(images, tmp_path / "session", batch_size=2, token=TOKEN)
    idle = []
    try:
        for _ in range(70):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line
            idle.append(s)
        started = time.monotonic()
        status, body = server.request("GET", "/api/status")
        assert status == 200, body
        assert time.monotonic() - started < HEADER_TIMEOUT
        # every half-open connection is closed by the server after the header deadline
        for s in idle:
            s.settimeout(HEADER_TIMEOUT + 20)
            assert s.recv(1024) == b""
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_pixels_route_sends_dicom_values_at_full_depth(tmp_path):
    """A DICOM candidate's stored values (after rescale) and its window, for the viewer."""
    import shutil

    from pydicom.data import get_testdata_file

    from sklearn_aift.io import read_image

    images = make_image_folder(tmp_path / "images", n=4, nested=False)
    shutil.copy(get_testdata_file("MR_small.dcm"), images / "mr.dcm")
    campaign = open_campaign(images, tmp_path / "session", batch_size=5)
    try:
        client = TestClient(create_app(campaign, token=TOKEN), headers=auth())
        ids = {c["file"]: c["id"] for c in campaign.batch()}
        response = client.get(f"/api/pixels/{ids['mr.dcm']}")
        assert response.status_code == 200
        assert response.headers["X-Dtype"] == "float32"
        assert response.headers["X-Shape"] == "64,64,1"
        assert tuple(map(float, response.headers["X-Window"].split(","))) == (600.0, 1600.0)
        values = np.frombuffer(response.content, dtype="<f4").reshape(64, 64)
        expected = read_image(images / "mr.dcm").raw
        np.testing.assert_array_equal(values, expected)
        assert values.max() > 255  # the 16-bit values themselves, not an 8-bit rendering
        low, high = map(float, response.headers["X-Range"].split(","))
        assert (low, high) == (expected.min(), expected.max())
        # the thumbnail is the network's 8-bit input, windowed by the file's window
        png = client.get(f"/api/images/{ids['mr.dcm']}")
        assert png.headers["content-type"] == "image/png"
        from PIL import Image
        shown = np.asarray(Image.open(io.BytesIO(png.content)))
        np.testing.assert_array_equal(shown, read_image(images / "mr.dcm").pixels)
        # an 8-bit image comes as bytes
        png_id = ids["img_000.png"]
        response = client.get(f"/api/pixels/{png_id}")
        assert response.headers["X-Dtype"] == "uint8" and response.headers["X-Shape"] == "40,48,3"
        assert client.get("/api/pixels/nope").status_code == 404
    finally:
        campaign.close()


def test_reserved_names_are_refused_as_classes(tmp_path):
    images = make_image_folder(tmp_path / "images", n=4)
    for classes in (["skip", "positive"], ["negative", "Unlabeled"]):
        with pytest.raises(ValueError, match="reserved names"):
            LabelingCampaign(images, tmp_path / "session", tiny_net(), classes=classes)


def test_label_and_skip_in_one_request_is_refused(client, campaign):
    cid = campaign.batch()[0]["id"]
    both = client.post("/api/labels", json={"id": cid, "label": "positive", "skip": True},
                       headers=auth())
    assert both.status_code == 422 and "both" in both.json()["detail"]
    false_skip = client.post("/api/labels", json={"id": cid, "skip": False}, headers=auth())
    assert false_skip.status_code == 422
    assert campaign.history(cid) == []


def test_links_out_of_the_folder_are_never_served(tmp_path):
    outside = make_image_folder(tmp_path / "elsewhere", n=1, nested=False, start=50)
    images = make_image_folder(tmp_path / "images", n=4, nested=False)
    (images / "escape.png").symlink_to(outside / "img_050.png")
    campaign = open_campaign(images, tmp_path / "session", batch_size=4)
    try:
        assert campaign.status()["n_images"] == 4
        assert "escape.png" not in {c["file"] for c in campaign.batch()}
    finally:
        campaign.close()


def test_api_description_is_served_without_a_cdn(client):
    assert client.get("/api/docs", headers=auth()).status_code == 404
    description = client.get("/api/openapi.json", headers=auth())
    assert description.status_code == 200 and "/api/labels" in description.json()["paths"]


def test_open_starts_the_browser_on_the_page_once_the_server_listens(tmp_path, monkeypatch):
    opened = tmp_path / "opened.txt"
    # the browser webbrowser runs: a command line that writes the URL it was given
    monkeypatch.setenv("BROWSER", f"sh -c 'echo %s > {opened}'")
    images = make_image_folder(tmp_path / "images", n=4)
    server = LabelServer(images, tmp_path / "session", "--open", batch_size=2)
    try:
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == f"{server.url}/"
    finally:
        server.stop()


# -- candidates known by their content ----------------------------------------------------
def _touch_everything(images, seconds=10_000):
    """Change every file's modification time, as a restore or `cp` without -p does."""
    for path in sorted(images.rglob("*.png")):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns + seconds * 10**9,
                           stat.st_mtime_ns + seconds * 10**9))


def test_touched_copied_and_renamed_files_keep_their_labels(tmp_path):
    import shutil

    images = make_image_folder(tmp_path / "images")
    campaign = open_campaign(images, tmp_path / "session")
    done = label_batch(campaign)
    batch = campaign.batch()
    campaign.label(batch[0]["id"], "positive")
    campaign.close()
    # the folder comes back from a copy: new times everywhere, one file renamed
    copy = tmp_path / "copy"
    shutil.copytree(images, copy, copy_function=shutil.copy)  # times not kept
    shutil.rmtree(images)
    copy.rename(images)
    _touch_everything(images)
    renamed = images / batch[1]["file"]
    renamed.rename(renamed.with_name("renamed.png"))

    resumed = open_campaign(images, tmp_path / "session")
    try:
        again = resumed.batch()
        assert [c["id"] for c in again] == [c["id"] for c in batch]
        assert again[0]["label"] == "positive"
        assert again[1]["file"].endswith("renamed.png")
        assert resumed.status()["n_labeled"] == 4
        for candidate in again[1:]:
            assert resumed.image_path(candidate["id"]).is_file()
            resumed.label(candidate["id"], "negative")
        assert resumed.wait_idle(120)
        status = resumed.status()
        assert status["completed_rounds"] == 2 and status["rounds"][-1]["n_labels"] == 6
        exported = {r["file"] for r in csv.DictReader(io.StringIO(resumed.labels_csv()))}
        assert {c["file"] for c in done} < exported
        assert any(f.endswith("renamed.png") for f in exported)
    finally:
        resumed.close()


def test_identical_images_are_one_candidate(tmp_path):
    import shutil

    images = make_image_folder(tmp_path / "images", n=6, nested=False)
    shutil.copy(images / "img_000.png", images / "zz_copy_of_000.png")
    campaign = open_campaign(images, tmp_path / "session", batch_size=6)
    try:
        files = [c["file"] for c in campaign.batch()]
        assert campaign.status()["n_images"] == 6 and len(files) == 6
        assert "zz_copy_of_000.png" not in files
    finally:
        campaign.close()


# the database of sessions written before the page ran on the learner's session store
_OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, candidate TEXT NOT NULL,
    file TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('label', 'undo', 'skip')),
    label TEXT, round INTEGER NOT NULL, time TEXT NOT NULL, annotator TEXT NOT NULL);
CREATE TABLE batches (round INTEGER NOT NULL, position INTEGER NOT NULL,
    candidate TEXT NOT NULL, file TEXT NOT NULL, score REAL NOT NULL, predicted TEXT NOT NULL,
    patch_proba TEXT NOT NULL, PRIMARY KEY (round, position));
CREATE TABLE rounds (round INTEGER PRIMARY KEY, n_labels INTEGER NOT NULL,
    batch_accuracy REAL, training_time REAL NOT NULL, checkpoint TEXT NOT NULL,
    time TEXT NOT NULL);
"""


def _as_written_by_the_earlier_page(session, images):
    """Rewrite a session as the earlier releases kept it: campaign.sqlite, path-based ids.

    Candidates were known by path, size and modification time, the weights of
    the last round lay in ``checkpoints/``. Returns the old id of each file.
    """
    import json
    import shutil

    from sklearn_aift.candidates import CandidateSet
    from sklearn_aift.learner import SessionStore

    store = SessionStore.open(session)
    meta = store.read_meta()
    rounds = store.read_batch_rounds()
    with sqlite3.connect(session / "session.sqlite") as new:
        events = new.execute("SELECT candidate_key, file, kind, label, round, decided_at, "
                             "annotator FROM decisions ORDER BY seq").fetchall()
        batches = new.execute("SELECT round, position, candidate_key, file, score, predicted, "
                              "patch_proba FROM batches").fetchall()
    files = sorted({e[1] for e in events} | {b[3] for b in batches})
    old_ids = dict(zip(files, CandidateSet([str(images / f) for f in files],
                                           FrameProtocol(n_patches=5, patch_size=32),
                                           image_mode="RGB").candidate_keys()))
    (session / "checkpoints").mkdir()
    checkpoint = f"checkpoints/round_{rounds[-1]['round']:05d}.pt"
    shutil.copy(session / meta["checkpoint_file"], session / checkpoint)
    with sqlite3.connect(session / "campaign.sqlite") as old:
        old.executescript(_OLD_SCHEMA)
        old.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("classes", json.dumps(meta["class_names"])),
            ("images_dir", json.dumps(meta["images_dir"])),
            ("strategy", json.dumps("entropy_diversity_quarter"))])
        old.executemany("INSERT INTO events (candidate, file, kind, label, round, time, "
                        "annotator) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(old_ids[e[1]], *e[1:]) for e in events])
        old.executemany("INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(b[0], b[1], old_ids[b[3]], *b[3:]) for b in batches])
        old.executemany("INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?)", [
            (r["round"], r["n_labels"], r["batch_accuracy"], r["training_time"], checkpoint,
             r["time"]) for r in rounds])
    (session / "session.sqlite").unlink()
    shutil.rmtree(session / "weights")
    return old_ids


def test_session_of_the_earlier_page_is_migrated_on_open(tmp_path):
    images = make_image_folder(tmp_path / "images")
    session = tmp_path / "session"
    campaign = open_campaign(images, session)
    label_batch(campaign)
    pending = campaign.batch()
    campaign.label(pending[0]["id"], "positive")
    campaign.label(pending[1]["id"], "negative")
    campaign.undo(pending[1]["id"])
    csv_before = campaign.labels_csv()
    weights = {k: v.clone() for k, v in campaign.estimator.module_.state_dict().items()}
    campaign.close()
    old_ids = _as_written_by_the_earlier_page(session, images)
    _touch_everything(images)  # the old ids now name no file of the folder

    resumed = open_campaign(images, session)
    try:
        assert resumed.labels_csv() == csv_before
        batch = resumed.batch()
        assert [c["id"] for c in batch] == [c["id"] for c in pending]
        assert [c["label"] for c in batch] == ["positive", None, None]
        assert [e["kind"] for e in resumed.history(pending[1]["id"])] == ["label", "undo"]
        status = resumed.status()
        assert status["completed_rounds"] == 1 and status["round"] == 2
        state = resumed.estimator.module_.state_dict()
        assert all(bool((state[k] == v).all()) for k, v in weights.items())  # the old model
        with sqlite3.connect(session / "session.sqlite") as conn:
            stored = {c for (c,) in conn.execute(
                "SELECT candidate_key FROM decisions UNION SELECT candidate_key FROM batches")}
        assert not stored & set(old_ids.values())
        assert not (session / "campaign.sqlite").exists()
        assert (session / "campaign.sqlite.migrated").is_file()
        for candidate in batch[1:]:
            resumed.label(candidate["id"], "negative")
        assert resumed.wait_idle(120) and resumed.status()["completed_rounds"] == 2
        assert sorted(row["label"] for row in resumed._learner.labels_) == [0, 0, 0, 0, 1, 1]
    finally:
        resumed.close()
    again = open_campaign(images, session)  # converted once: now an ordinary session
    try:
        assert again.status()["completed_rounds"] == 2
    finally:
        again.close()


def test_an_interrupted_migration_starts_again(tmp_path):
    images = make_image_folder(tmp_path / "images")
    session = tmp_path / "session"
    campaign = open_campaign(images, session)
    label_batch(campaign)
    csv_before = campaign.labels_csv()
    campaign.close()
    _as_written_by_the_earlier_page(session, images)
    from sklearn_aift.learner import SessionStore

    SessionStore.create(session, {"classes": [0, 1]})  # a conversion killed half-way
    resumed = open_campaign(images, session)
    try:
        assert resumed.labels_csv() == csv_before
        assert resumed.status()["completed_rounds"] == 1
    finally:
        resumed.close()


def test_a_batch_image_that_disappears_is_replaced(tmp_path):
    images = make_image_folder(tmp_path / "images")
    campaign = open_campaign(images, tmp_path / "session")
    try:
        batch = campaign.batch()
        labeled, deleted, kept = batch
        campaign.label(labeled["id"], "positive")
        campaign.label(deleted["id"], "negative")
        campaign.undo(deleted["id"])
        (images / labeled["file"]).unlink()  # labeled: keeps its label and its place
        (images / deleted["file"]).unlink()  # unlabeled: leaves the batch
        campaign.status()  # the page's poll notices it
        assert campaign.wait_idle(120)
        new = campaign.batch()
        ids = [c["id"] for c in new]
        assert len(new) == 3 and deleted["id"] not in ids
        assert ids[:2] == [labeled["id"], kept["id"]] and new[0]["label"] == "positive"
        assert new[2]["id"] not in {c["id"] for c in batch}
        assert campaign.status()["n_dropped"] == 1
        assert [e["kind"] for e in campaign.history(deleted["id"])] == ["label", "undo"]
        for candidate in new[1:]:
            campaign.label(candidate["id"], "negative")
        assert campaign.wait_idle(120)
        status = campaign.status()
        assert status["completed_rounds"] == 1 and status["rounds"][0]["n_labels"] == 2
        assert labeled["file"] in campaign.labels_csv()
    finally:
        campaign.close()


def test_a_batch_image_that_turns_unreadable_is_replaced_after_a_restart(tmp_path):
    images = make_image_folder(tmp_path / "images")
    campaign = open_campaign(images, tmp_path / "session")
    batch = campaign.batch()
    campaign.close()
    broken = images / batch[0]["file"]
    broken.write_bytes(broken.read_bytes()[:100])  # truncated
    resumed = open_campaign(images, tmp_path / "session")
    try:
        new = resumed.batch()
        assert len(new) == 3 and batch[0]["id"] not in {c["id"] for c in new}
        for candidate in new:
            r = resumed.image_path(candidate["id"])
            assert r.is_file()
            resumed.label(candidate["id"], "positive")
        assert resumed.wait_idle(120) and resumed.status()["completed_rounds"] == 1
    finally:
        resumed.close()


def test_a_labeled_image_deleted_before_fine_tuning_does_not_stop_the_campaign(tmp_path,
                                                                                caplog):
    images = make_image_folder(tmp_path / "images")
    campaign = open_campaign(images, tmp_path / "session")
    try:
        first, *others = campaign.batch()
        campaign.label(first["id"], "positive")
        (images / first["file"]).unlink()  # after its label, before the batch is complete
        for candidate in others:
            campaign.label(candidate["id"], "negative")
        with caplog.at_level(logging.WARNING, logger="sklearn_aift.learner"):
            assert campaign.wait_idle(120)
        assert any("1 labeled candidate(s) are not in the pool" in r.getMessage()
                   for r in caplog.records)  # the model is fine-tuned on the other two
        status = campaign.status()
        assert status["phase"] == "labeling", status["message"]
        assert status["completed_rounds"] == 1 and status["rounds"][0]["n_labels"] == 2
        assert first["file"] in campaign.labels_csv()  # it keeps its label
    finally:
        campaign.close()


def test_a_labeled_image_that_breaks_before_the_model_learns_it(tmp_path, caplog):
    images = make_image_folder(tmp_path / "images", n=40, nested=False)
    campaign = open_campaign(images, tmp_path / "session")
    try:
        batch = campaign.batch()
        outside = next(f"img_{i:03d}.png" for i in range(40)
                       if f"img_{i:03d}.png" not in {c["file"] for c in batch})
        (tmp_path / "labels.csv").write_text(f"{outside},positive\n")
        assert campaign.import_labels(tmp_path / "labels.csv") == 1  # recorded, not learned yet
        (images / outside).write_bytes((images / outside).read_bytes()[:100])
        for candidate in batch:
            campaign.label(candidate["id"], "negative")
        assert campaign.wait_idle(120)
        status = campaign.status()
        assert status["phase"] == "labeling", status["message"]
        # round 0 trains on the imported label's candidates that can be read; round 1 on
        # the batch (the broken image is left out)
        assert status["completed_rounds"] == 1 and status["rounds"][-1]["n_labels"] == 3
        assert outside in campaign.labels_csv()  # its label is kept
        assert any("cannot read a labeled image yet" in r.getMessage() for r in caplog.records)
    finally:
        campaign.close()

# -- one process per session ---------------------------------------------------------------
def test_a_session_opens_in_one_campaign_at_a_time(tmp_path):
    from sklearn_aift.app import SessionInUseError

    images = make_image_folder(tmp_path / "images", n=6)
    campaign = open_campaign(images, tmp_path / "session")
    try:
        with pytest.raises(SessionInUseError, match=rf"in use by process {os.getpid()}"):
            open_campaign(images, tmp_path / "session")
    finally:
        campaign.close()
    open_campaign(images, tmp_path / "session").close()  # released by close


def test_a_session_resumes_only_with_its_strategy(tmp_path):
    images = make_image_folder(tmp_path / "images", n=6)
    session = tmp_path / "session"
    campaign = open_campaign(images, session)
    campaign.close()
    log = tmp_path / "other.log"
    other = LabelServer(images, session, "--strategy", "entropy", wait=False, log=log)
    try:
        assert other.proc.wait(120) == 2
        lines = [line for line in log.read_text().splitlines() if "error" in line]
        assert len(lines) == 1 and "query_strategy" in lines[0] and "entropy" in lines[0], lines
        assert "open http" not in log.read_text()
    finally:
        other.stop()


def test_two_servers_on_one_session(tmp_path):
    images = make_image_folder(tmp_path / "images", n=6)
    session = tmp_path / "session"
    first = LabelServer(images, session, batch_size=2)
    second = third = None
    try:
        log = tmp_path / "second.log"
        second = LabelServer(images, session, batch_size=2, wait=False, log=log)
        assert second.proc.wait(120) == 2
        lines = [line for line in log.read_text().splitlines() if "error" in line]
        assert lines == [f"sklearn-aift label: error: session {str(session)!r} in use by "
                         f"process {first.proc.pid}: stop that server first, or give another "
                         f"session folder"]
        assert "open http" not in log.read_text()
        assert first.status()["phase"] == "labeling"  # the first one serves on
        first.kill()  # no clean-up runs: the system releases the lock
        third = LabelServer(images, session, batch_size=2)
        assert third.status()["phase"] == "labeling"
    finally:
        for server in (first, second, third):
            if server is not None:
                server.stop()


@pytest.mark.parametrize("policy, second", [("typical", "typical start"),
                                            ("typical_first", "random start")])
def test_typical_cold_starts_run_on_the_page_and_say_so(tmp_path, policy, second):
    """TypiClust's batch works on a folder (labels kept without pixels) and is named."""
    from sklearn_aift import aift_sampling

    images = make_image_folder(tmp_path / "images", n=24, nested=False)
    campaign = open_campaign(images, tmp_path / "session", batch_size=6,
                             strategy=aift_sampling(cold_start=policy))
    try:
        first = campaign.batch()
        assert len(first) == 6 and {c["selection"] for c in first} == {"typical start"}
        for i, c in enumerate(first):
            campaign.label(c["id"], "positive" if i % 2 else "negative")
        assert campaign.wait_idle()
        following = campaign.batch()
        assert len(following) == 6 and {c["selection"] for c in following} == {second}
        assert not {c["id"] for c in following} & {c["id"] for c in first}
    finally:
        campaign.close()
