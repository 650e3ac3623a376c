"""What is refused, skipped or reported: messy real data and wrong arguments, in one place.

Identical images (also in two class folders), truncated files, high bit depth and
DICOM, arguments that used to be ignored or converted silently, and errors that
used to surface raw, across the library, ``compare`` and ``label``.
"""

from __future__ import annotations

import json
import logging
import os
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient
from label_helpers import make_image_folder
from PIL import Image

from sklearn_aift import AIFTNet, FrameProtocol
from sklearn_aift.candidates import CandidateSet, find_duplicates
from sklearn_aift.cli import main
from sklearn_aift.datasets import load_image_folder
from sklearn_aift.io import UnreadableImageError, read_image, verify_image
from sklearn_aift.learner import ActiveLearner, SessionError
from sklearn_aift.strategies import random_sampling

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402


def tiny_net(**kw):
    return AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
                   max_epochs_incremental=1, batch_size=8, random_state=0, **kw)


def _class_folders(root, n=10, duplicate_in=("normal", "polyp")):
    """Two class folders of distinct images plus one image saved once per ``duplicate_in``."""
    rng = np.random.default_rng(0)
    for cls, base in [("normal", 0), ("polyp", 150)]:
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = (rng.integers(0, 100, (32, 32, 3)) + base).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    same = rng.integers(0, 255, (32, 32, 3)).astype(np.uint8)
    for j, cls in enumerate(duplicate_in):
        Image.fromarray(same).save(root / cls / f"copy_{j}.png")
    return root


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ---------------------------------------------------------------- 1. duplicates, conflicts
COMPARE = ["compare", "--dataset", "folder", "--methods", "ift_random", "--rounds", "7",
           "--batch-size", "2", "--seeds", "1", "--weights", "none", "--input-size", "32",
           "--patch-size", "16", "--epochs", "1", "--epochs-incremental", "1", "--threads", "1",
           "--quiet", "--test-size", "0.3"]


def test_compare_on_one_image_in_two_class_folders(tmp_path, capsys):
    # a labeling error of public datasets: the same image in two class folders; compare
    # used to crash after the work with "the learner ran 8 rounds where 7 were expected"
    data = _class_folders(tmp_path / "data")
    argv = COMPARE + ["--data-dir", str(data)]
    assert main(argv + ["--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "carry different labels" in err
    assert "normal/copy_0.png" in err and "polyp/copy_1.png" in err and "--on-conflict" in err

    assert main(argv + ["--out", str(tmp_path / "out"), "--on-conflict", "first"]) == 0
    out = capsys.readouterr().out
    report = next(line for line in out.splitlines() if line.strip().startswith("duplicates:"))
    assert "1 group(s) with conflicting labels" in report and "copy_1.png" in report
    assert out.index("duplicates:") < out.index("Test AUC")  # printed at start
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(r["round"] for r in rows) == list(range(8))


def test_compare_on_one_image_twice_in_one_class_folder(tmp_path, capsys):
    data = _class_folders(tmp_path / "data", duplicate_in=("polyp", "polyp"))
    assert main(COMPARE + ["--data-dir", str(data), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "duplicates: 1 group(s) of identical content among 22 items" in out
    assert "0 group(s) with conflicting labels" in out
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["n_labels"] for r in sorted(rows, key=lambda r: r["round"])] == list(range(0, 15, 2))


def test_image_folder_identical_files_are_one_candidate(tmp_path):
    data = _class_folders(tmp_path / "same", n=3, duplicate_in=("polyp", "polyp"))
    with pytest.warns(UserWarning, match=r"1 group\(s\) of identical content.*copy_0.png, "):
        bunch = load_image_folder(data)
    assert len(bunch.target) == 7 and not any("copy_1" in f for f in bunch.filenames)
    assert [len(g) for g in bunch.duplicates.groups] == [2] and not bunch.duplicates.conflicts

    data = _class_folders(tmp_path / "conflict", n=3)
    with pytest.raises(ValueError, match=r"carry different labels.*copy_0.png \('normal'\).*"
                                         r"copy_1.png \('polyp'\).*on_conflict"):
        load_image_folder(data)
    with pytest.warns(UserWarning, match="conflicting labels"):
        dropped = load_image_folder(data, on_conflict="drop")
    assert len(dropped.target) == 6 and not any("copy" in f for f in dropped.filenames)
    with pytest.warns(UserWarning, match="conflicting labels"):
        first = load_image_folder(data, on_conflict="first")
    assert [f.split(os.sep)[-2:] for f in first.filenames if "copy" in f] == [
        ["normal", "copy_0.png"]]
    with pytest.raises(ValueError, match="on_conflict must be one of.*'keep'"):
        load_image_folder(data, on_conflict="keep")


def test_learner_never_asks_twice_for_the_same_pixels(tmp_path):
    X = np.random.default_rng(0).integers(0, 255, (5, 2, 3, 8, 8)).astype(np.uint8)
    X[3] = X[1]
    learner = ActiveLearner(tiny_net(), query_strategy=random_sampling, random_state=0)
    with pytest.warns(UserWarning, match=r"X_pool: 1 group\(s\) of identical content.*\[1, 3\]"):
        indices, _ = learner.query(X, n_instances=5)
    assert sorted(indices.tolist()) == [0, 1, 2, 4]
    # file pools: two files holding one image are one candidate, whatever their names
    data = _class_folders(tmp_path / "data", n=2, duplicate_in=("normal", "normal"))
    files = sorted(str(p) for p in data.rglob("*.png"))
    pool = CandidateSet(files, FrameProtocol(n_patches=1, patch_size=16))
    assert [files[i].split(os.sep)[-1] for i in find_duplicates(pool).groups[0]] == [
        "copy_0.png", "copy_1.png"]
    with pytest.warns(UserWarning, match="identical content"):
        indices, _ = ActiveLearner(tiny_net(), query_strategy=random_sampling).query(pool, 10)
    assert len(indices) == len(files) - 1


def test_runner_counts_a_short_round_and_refuses_conflicting_oracle_labels():
    from sklearn_aift.experiment import run_comparison

    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    X = rng.integers(0, 120, (24, 2, 3, 32, 32)).astype(np.uint8)
    X[y == 1] += 100
    X[5] = X[1]  # the same candidate twice, one label
    results = run_comparison(tiny_net(), X[:18], y[:18], X[18:], y[18:], methods=["ift_random"],
                             n_rounds=4, batch_size=4, seeds=1, verbose=0)
    assert results["round"].tolist() == [0, 1, 2, 3, 4]
    assert results["n_labels"].tolist() == [0, 4, 8, 12, 16]
    y_conflict = y[:18].copy()
    y_conflict[5] = 1 - y_conflict[1]
    with pytest.raises(ValueError, match=r"carry different labels: conflict: \[1 \(.*5 \("):
        run_comparison(tiny_net(), X[:18], y_conflict, X[18:], y[18:], methods=["ift_random"],
                       n_rounds=2, batch_size=2, seeds=1, verbose=0)


# ------------------------------------------------- 2. unreadable files, decoded once
def test_truncated_png_is_unreadable_and_decoded_once(tmp_path, monkeypatch):
    from sklearn_aift.io import _reader

    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    _truncate(path)
    with Image.open(path) as im:
        assert im.size == (64, 64)  # the header is intact: only a full decode finds it
    with pytest.raises(UnreadableImageError, match="cut.png"):
        verify_image(path)
    whole = tmp_path / "whole.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(whole)
    calls = []
    decode = _reader._decode
    monkeypatch.setattr(_reader, "_decode", lambda p: calls.append(p) or decode(p))
    digest = verify_image(whole)
    assert verify_image(whole) == digest and len(calls) == 1
    Image.fromarray(np.ones((8, 8), np.uint8)).save(whole)  # changed: decoded again
    os.utime(whole, ns=(1, 1))
    assert verify_image(whole) != digest and len(calls) == 2


def test_truncated_png_and_other_files_are_skipped_by_the_folder_loader(tmp_path):
    data = _class_folders(tmp_path / "data", n=3, duplicate_in=())
    _truncate(data / "polyp" / "1.png")
    (data / "normal" / "scan.nii").write_bytes(b"\x00" * 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bunch = load_image_folder(data)
    messages = [str(w.message) for w in caught]
    assert any("cannot be read" in m and "1.png" in m for m in messages)
    assert any("do not have an image extension" in m and "scan.nii" in m for m in messages)
    assert len(bunch.target) == 5


def test_truncated_file_in_a_pool_is_skipped_by_learner_and_runner(tmp_path):
    from sklearn_aift.experiment import run_comparison

    rng = np.random.default_rng(0)
    files = []
    for i in range(12):
        pixels = (rng.integers(0, 100, (32, 32, 3)) + 150 * (i % 2)).astype(np.uint8)
        files.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(pixels).save(files[-1])
    _truncate(tmp_path / "3.png")  # passes a header check, fails when decoded
    y = np.arange(12) % 2
    protocol = FrameProtocol(n_patches=1, patch_size=16)
    pool = CandidateSet(files, protocol)
    learner = ActiveLearner(tiny_net(), query_strategy=random_sampling, random_state=0)
    with pytest.warns(UserWarning, match=r"cannot be read and are skipped: .*3.png"):
        indices, _ = learner.query(pool, n_instances=12)
    assert sorted(indices.tolist()) == [i for i in range(12) if i != 3]
    with pytest.warns(UserWarning, match=r"3.png"):
        results = run_comparison(tiny_net(), CandidateSet(files[:8], protocol), y[:8],
                                 CandidateSet(files[8:], protocol), y[8:],
                                 methods=["ift_random"], n_rounds=2, batch_size=3, seeds=1,
                                 verbose=0)
    assert results["n_labels"].tolist() == [0, 3, 6]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A labeling campaign over a folder with a truncated PNG and no class folders."""
    from sklearn_aift.app import LabelingCampaign

    tmp = tmp_path_factory.mktemp("campaign")
    images = make_image_folder(tmp / "images", n=6)
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(images / "cut.png")
    _truncate(images / "cut.png")
    (images / "notes.txt").write_text("not an image")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("sklearn_aift.app")
    logger.addHandler(handler)
    try:
        campaign = LabelingCampaign(images, tmp / "session", tiny_net(), batch_size=3,
                                    protocol=FrameProtocol(n_patches=5, patch_size=32),
                                    labels_from_folders=True)
        assert campaign.wait_idle(120)
    finally:
        logger.removeHandler(handler)
    campaign.log = [r.getMessage() for r in records]
    yield campaign
    campaign.close()


def test_labeling_campaign_skips_a_truncated_png(campaign):
    # the header check let it in; the feature pass then stopped the campaign
    status = campaign.status()
    assert status["phase"] == "labeling" and status["n_images"] == 6
    assert any("cut.png" in m for m in campaign.log)


def test_labeling_campaign_says_what_it_ignored(campaign):
    assert any("notes.txt" in m and "not an image extension" in m for m in campaign.log)
    assert any("no labels from folders" in m and "negative, positive" in m
               for m in campaign.log)


# ------------------------------------------------------------- 3. high bit depth, DICOM
def _mid_grey_16(path):
    rng = np.random.default_rng(0)
    pixels = (30000 + rng.integers(-2000, 2000, (64, 64))).astype(np.uint16)
    Image.fromarray(pixels).save(path)
    return pixels


def test_16_bit_png_is_scaled_over_its_range_not_clipped(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pixels = _mid_grey_16(tmp_path / "a" / "grey.png")
    _mid_grey_16(tmp_path / "b" / "grey2.png")
    Image.fromarray(pixels + 1).save(tmp_path / "b" / "grey2.png")
    for X in (CandidateSet([str(tmp_path / "a" / "grey.png")], FrameProtocol(n_patches=1)),
              load_image_folder(tmp_path).data):
        patches = np.asarray(X)
        assert (patches == 255).mean() < 0.01 and (patches == 0).mean() < 0.01
        assert 100 < patches.mean() < 155
    image = read_image(tmp_path / "a" / "grey.png", mode="L")
    assert image.raw.min() == pixels.min() and image.raw.max() == pixels.max()
    assert image.pixels.min() == 0 and image.pixels.max() == 255
    windowed = read_image(tmp_path / "a" / "grey.png", mode="L", window=(30000, 1000))
    assert windowed.window == (30000.0, 1000.0) and (windowed.pixels == 255).any()
    # a given window reaches the patches, and the candidates' keys tell the readings apart
    plain = CandidateSet([str(tmp_path / "a" / "grey.png")], FrameProtocol(n_patches=1))
    narrow = load_image_folder(tmp_path, window=(30000, 1000), image_mode="L").data[[0]]
    assert (np.asarray(narrow) == 255).mean() > 0.03  # clipped by the window, unlike above
    assert plain.candidate_keys()[0] != CandidateSet(
        [str(tmp_path / "a" / "grey.png")], FrameProtocol(n_patches=1), window=(30000, 1000)
    ).candidate_keys()[0]


@pytest.mark.parametrize("mode,dtype", [("I;16", np.uint16), ("F", np.float32)])
def test_high_depth_tiff_is_scaled_over_its_range(tmp_path, mode, dtype):
    values = np.linspace(-3.5 if dtype == np.float32 else 1000, 7.25 if dtype == np.float32
                         else 9000, 32 * 32).reshape(32, 32).astype(dtype)
    Image.fromarray(values, mode=mode if mode == "F" else None).save(tmp_path / "x.tif")
    image = read_image(tmp_path / "x.tif", mode="RGB")
    assert image.pixels.shape == (32, 32, 3) and image.pixels.dtype == np.uint8
    assert image.pixels.min() == 0 and image.pixels.max() == 255
    assert np.all(np.diff(image.pixels[..., 0].ravel().astype(int)) >= 0)  # order kept


def test_dicom_files_are_read_with_their_window(tmp_path):
    ct = read_image(get_testdata_file("CT_small.dcm"))
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hounsfield = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(ct.raw, hounsfield)  # rescale slope and intercept applied
    assert ct.raw.min() < 0 and ct.pixels.shape == (128, 128, 3) and not ct.inverted
    mr = read_image(get_testdata_file("MR_small.dcm"), mode="L")
    assert mr.window == (600.0, 1600.0)  # the file's own window
    expected = np.clip((mr.raw - (600 - 800)) * 255 / 1600, 0, 255)
    np.testing.assert_allclose(mr.pixels[..., 0], expected, atol=0.5 + 1e-9)
    # MONOCHROME1: high values are dark
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.save_as(tmp_path / "inverted.dcm")
    inverted = read_image(tmp_path / "inverted.dcm", mode="L")
    assert inverted.inverted
    np.testing.assert_array_equal(inverted.pixels, 255 - mr.pixels)
    # found by the DICM preamble without the extension
    (tmp_path / "scan").write_bytes(open(get_testdata_file("MR_small.dcm"), "rb").read())
    np.testing.assert_array_equal(read_image(tmp_path / "scan").pixels,
                                  read_image(get_testdata_file("MR_small.dcm")).pixels)
    with pytest.raises(UnreadableImageError, match="multi-frame DICOM file.*2 frames"):
        read_image(get_testdata_file("SC_rgb_rle_2frame.dcm"))


def test_image_folder_reads_dicom_and_skips_multiframe(tmp_path):
    for cls, name in [("ct", "CT_small.dcm"), ("mr", "MR_small.dcm")]:
        (tmp_path / cls).mkdir()
        (tmp_path / cls / name).write_bytes(open(get_testdata_file(name), "rb").read())
    (tmp_path / "mr" / "two.dcm").write_bytes(
        open(get_testdata_file("SC_rgb_rle_2frame.dcm"), "rb").read())
    # a DICOM file without the extension (as scanners export them) is found by its preamble
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.WindowCenter = 900  # another window: other pixels, so not a copy of MR_small.dcm
    ds.save_as(tmp_path / "mr" / "IM0001")
    with pytest.warns(UserWarning, match="multi-frame DICOM.*two.dcm|two.dcm.*multi-frame"):
        bunch = load_image_folder(tmp_path, protocol=FrameProtocol(n_patches=1, patch_size=32))
    assert [os.path.basename(f) for f in bunch.filenames] == [
        "CT_small.dcm", "IM0001", "MR_small.dcm"]
    assert bunch.target.tolist() == [0, 1, 1] and np.asarray(bunch.data).shape == (3, 1, 3, 32, 32)


# ---------------------------------------------------------------- 4. silent errors
def test_momentum_must_be_below_one():
    X = np.zeros((4, 1, 3, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=r"'momentum' parameter.*\[0.0, 1.0\)"):
        tiny_net(momentum=5).fit(X, [0, 1, 0, 1])


def test_exploding_loss_is_divergence_naming_momentum(monkeypatch):
    from sklearn_aift.net import _training

    X = np.random.default_rng(0).integers(0, 255, (4, 1, 3, 32, 32)).astype(np.uint8)
    net = tiny_net(warm_start=True).fit(X, [0, 1, 0, 1])
    before = net.predict_proba(X)
    monkeypatch.setattr(_training, "_EXPLODED_LOSS", 0.0)  # any finite loss now "explodes"
    with pytest.raises(FloatingPointError, match="momentum 0.9.*before this fit were kept"):
        net.fit(X, [0, 1, 0, 1])
    np.testing.assert_allclose(net.predict_proba(X), before, atol=1e-6)


def test_unknown_query_keywords_are_refused():
    X = np.random.default_rng(0).integers(0, 255, (4, 1, 3, 8, 8)).astype(np.uint8)
    learner = ActiveLearner(tiny_net(), query_strategy=random_sampling)
    with pytest.raises(TypeError, match="'exlude'.*random_sampling takes.*'exclude'"):
        learner.query(X, exlude=[0])
    with pytest.raises(TypeError, match="'foo'"):
        learner.query(X, foo=1)
    assert 0 not in learner.query(X, n_instances=3, exclude=[0])[0]


@pytest.mark.parametrize("call,message", [
    (lambda X: ActiveLearner(tiny_net()).teach(X[:3], [0, "a", 1]),
     r"y mixes label types: number \(0, 1\) and str \('a'\)"),
    (lambda X: ActiveLearner(tiny_net(), classes=[0, "1"]).teach(X[:2], [0, 0]),
     r"classes mixes label types"),
    (lambda X: tiny_net(classes=[0, "1"]).fit(X[:2], [0, "1"]), r"mixes label types"),
    (lambda X: tiny_net().fit(X[:2], [0, "1"]), r"y mixes label types"),
])
def test_mixed_label_types_are_refused(call, message):
    X = np.zeros((3, 1, 3, 32, 32), np.uint8)
    with pytest.raises(TypeError, match=message):
        call(X)


# ---------------------------------------------------------------- 5. raw errors, said plainly
def test_net_arguments_are_named():
    X = np.zeros((4, 1, 3, 32, 32), np.uint8)
    with pytest.raises(TypeError, match=r"batch_size must be an int; got True \(a bool\)"):
        tiny_net().set_params(batch_size=True).fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"classes must not repeat a class; got \[0, 0\]"):
        tiny_net(classes=[0, 0]).fit(X, [0, 0, 0, 0])


def test_query_exclude_must_be_positions():
    X = np.zeros((4, 1, 3, 8, 8), np.uint8)
    learner = ActiveLearner(tiny_net(), query_strategy=random_sampling)
    with pytest.raises(TypeError, match=r"exclude must hold integer positions.*\['a'\]"):
        learner.query(X, exclude=["a"])
    with pytest.raises(ValueError, match=r"exclude must hold positions in \[0, 4\).*\[7\]"):
        learner.query(X, exclude=[7])


def test_session_paths_that_are_not_sessions(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt: it is a file"):
        ActiveLearner.load(tmp_path / "file.txt")
    (tmp_path / "s" / "session.sqlite").mkdir(parents=True)
    with pytest.raises(SessionError, match="session.sqlite is a folder"):
        ActiveLearner.load(tmp_path / "s")


def test_full_disk_while_saving_weights_is_named(tmp_path, monkeypatch):
    import shutil

    import torch

    X = np.random.default_rng(0).integers(0, 255, (4, 1, 3, 32, 32)).astype(np.uint8)
    net = tiny_net().fit(X, [0, 1, 0, 1])
    learner = ActiveLearner(tiny_net(), autosave=tmp_path / "session", classes=[0, 1])
    learner.teach(X[:2], [0, 1], fine_tune=False)

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 512")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(OSError, match="no space left on device while writing the checkpoint "
                                      ".*net.pt"):
        net.save_checkpoint(tmp_path / "net.pt")
    with pytest.raises(OSError, match="no space left on device while writing .*session"):
        learner.teach(X[2:], [1, 0])  # labels first, then the weights of the fine-tuning
    monkeypatch.undo()
    assert ActiveLearner.load(tmp_path / "session", tiny_net()).y_training.tolist() == [0, 1, 1, 0]


LABEL = ["label", "--batch-size", "2"]


@pytest.mark.parametrize("extra,message", [
    (["--host", "999.1.1.1"], "--host 999.1.1.1: not an address"),
    (["--session", "FILE"], "exists and is not a folder"),
    (["--labels", "BINARY"], "not a UTF-8 text CSV file"),
    (["--backbone", "nope"], "backbone='nope' is not a torchvision classification model"),
    (["--backbone", "mobilenet_v3_small", "--weights", "nope"], "is not a weights name"),
    (["--backbone", "mobilenet_v3_small", "--weights", "none", "--device", "gpu"],
     "device must be 'auto', 'cpu'"),
    (["--patch-size", "100000"], "--patch-size: expected a side of 8 to 2048 pixels"),
    (["--input-size", "4"], "--input-size: expected a side of 8 to 2048 pixels"),
])
def test_label_arguments_fail_before_serving(tmp_path, capsys, extra, message):
    images = make_image_folder(tmp_path / "images", n=2)
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "BINARY").write_bytes(bytes(range(256)))
    extra = [str(tmp_path / e) if e in ("FILE", "BINARY") else e for e in extra]
    argv = LABEL + [str(images), "--session", str(tmp_path / "session")] + extra
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err
    assert "http://" not in captured.out + captured.err
    assert not (tmp_path / "session").exists()


def test_label_on_a_busy_port_fails_before_printing_a_url(tmp_path, capsys):
    import socket

    images = make_image_folder(tmp_path / "images", n=2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = LABEL + [str(images), "--session", str(tmp_path / "s"), "--port", str(port)]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--port {port}: already in use" in err and "http://" not in err


def test_any_loopback_host_is_answered_and_deep_json_is_a_400(campaign):
    from sklearn_aift.app import create_app

    client = TestClient(create_app(campaign), base_url="http://127.0.0.2:8765")
    assert client.get("/api/status").status_code == 200
    nested = "[" * 1000 + "]" * 1000
    r = client.post("/api/labels", content=nested, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]


def test_kvasir_layout_identical_frames_are_one_frame(tmp_path):
    from sklearn_aift.augment import BoxProtocol
    from sklearn_aift.datasets import load_kvasir_seg

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(4):
        image = np.full((64, 64, 3), 150 + (i % 3), np.uint8)  # f3 repeats f0
        Image.fromarray(image).save(tmp_path / "images" / f"f{i}.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[10:30, 12:34] = 255
        Image.fromarray(mask).save(tmp_path / "masks" / f"f{i}.png")
    protocol = BoxProtocol(patch_size=16, shift=0)
    with pytest.warns(UserWarning, match=r"1 group\(s\) of identical content.*f3.png"):
        polyps = load_kvasir_seg(tmp_path, protocol=protocol)
    assert polyps.frame_ids.tolist() == ["f0", "f1", "f2"]
    mask[40:50, 40:50] = 255  # the copy's mask now disagrees
    Image.fromarray(mask).save(tmp_path / "masks" / "f3.png")
    with pytest.raises(ValueError, match=r"carry different labels.*f0.png.*f3.png"):
        load_kvasir_seg(tmp_path, protocol=protocol)
    with pytest.warns(UserWarning, match="conflicting"):
        kept = load_kvasir_seg(tmp_path, protocol=protocol, on_conflict="drop")
    assert kept.frame_ids.tolist() == ["f1", "f2"]
