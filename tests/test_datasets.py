"""Datasets: the synthetic default, Kvasir-SEG, MedMNIST and image folders."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sklearn_aift.augment import BoxProtocol, FrameProtocol, box_patches
from sklearn_aift.candidates import CandidateSet
from sklearn_aift.datasets import (
    load_image_folder,
    load_kvasir_seg,
    load_medmnist,
    make_colonoscopy_frames,
)


# --------------------------------------------------------------------------- synthetic
@pytest.fixture(scope="module")
def synthetic():
    return make_colonoscopy_frames(n_frames=80, random_state=0)


def test_synthetic_shapes_and_labels(synthetic):
    b = synthetic
    assert isinstance(b.data, CandidateSet)
    assert b.data.shape == (80, 21, 3, 48, 48)
    assert b.frames.shape == (80, 128, 128, 3) and b.frames.dtype == np.uint8
    assert b.patch_clear_fraction.shape == (80, 21)
    np.testing.assert_array_equal(b.target, (b.clear_fraction >= 0.75).astype(int))
    np.testing.assert_allclose(b.clear_fraction, b.clear_mask.mean(axis=(1, 2)))
    assert 0.1 < b.target.mean() < 0.3  # a CAD-like pool: mostly negatives
    assert set(b.degradation) <= {"blur", "bubbles", "darkness", "streaks", "none"}
    assert len(set(b.degradation) - {"none"}) == 4
    # the first patch of the pyramid is the whole frame
    np.testing.assert_allclose(b.patch_clear_fraction[:, 0], b.clear_fraction, atol=0.02)
    patches = np.asarray(b.data[[0]])[0]
    expected = np.asarray(Image.fromarray(b.frames[0]).resize((48, 48), Image.Resampling.BILINEAR))
    diff = np.abs(patches[0].transpose(1, 2, 0).astype(int) - expected)
    assert diff.max() <= 3 and diff.mean() < 0.2  # PIL's fixed-point rounding aside, equal


def test_synthetic_is_deterministic():
    a = make_colonoscopy_frames(n_frames=6, random_state=3)
    b = make_colonoscopy_frames(n_frames=6, random_state=3)
    c = make_colonoscopy_frames(n_frames=6, random_state=4)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))
    assert list(a.data.candidate_keys()) == list(b.data.candidate_keys())
    assert not np.array_equal(a.frames, c.frames)
    X, y = make_colonoscopy_frames(n_frames=6, random_state=3, return_X_y=True)
    np.testing.assert_array_equal(y, a.target)


def test_synthetic_has_ambiguous_frames_with_noisy_patch_labels(synthetic):
    b = synthetic
    near = np.abs(b.clear_fraction - 0.75) < 0.1
    assert near.mean() > 0.15
    assert set(b.target[near]) == {0, 1}  # ambiguous frames on both sides of the rule
    # a patch is visually clear when its own region is >= 75% clear; labels come from the frame
    visually_clear = b.patch_clear_fraction >= 0.75
    disagree = visually_clear != b.target[:, None].astype(bool)
    share = disagree.mean()
    assert 0.05 < share < 0.4, share
    # the noise sits in the ambiguous and mixed frames, not in fully clear ones
    assert disagree[b.clear_fraction == 1.0].sum() == 0
    assert disagree[near].mean() > share


def test_synthetic_degradations_are_visible_in_patches(synthetic):
    b = synthetic
    patches = np.asarray(b.data).astype(float)
    brightness = patches.mean(axis=(2, 3, 4))
    sharpness = np.abs(np.diff(patches, axis=-1)).mean(axis=(2, 3, 4))
    clear = b.patch_clear_fraction == 1.0
    dark = (b.patch_clear_fraction == 0.0) & (b.degradation[:, None] == "darkness")
    blur = (b.patch_clear_fraction == 0.0) & (b.degradation[:, None] == "blur")
    assert dark.any() and blur.any() and clear.any()
    assert brightness[dark].max() < brightness[clear].min()
    assert np.median(sharpness[blur]) < 0.5 * np.median(sharpness[clear])


def test_synthetic_random_layout_and_sizes():
    b = make_colonoscopy_frames(
        n_frames=3, n_patches=7, frame_size=64, patch_size=24, layout="random", random_state=0
    )
    assert b.data.shape == (3, 7, 3, 24, 24) and b.frames.shape == (3, 64, 64, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_frames=0), "n_frames"),
        (dict(frame_size=16), "frame_size"),
        (dict(threshold=1.5), "threshold"),
        (dict(ambiguous=2), "ambiguous"),
        (dict(degradations=("fog",)), "degradations"),
        (dict(n_patches=7), "n_patches"),
    ],
)
def test_synthetic_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_colonoscopy_frames(**kwargs)


# --------------------------------------------------------------------------- Kvasir-SEG
def test_kvasir_real_folder(kvasir_dir):
    b = load_kvasir_seg(kvasir_dir, max_frames=25, random_state=0)
    n = len(b.target)
    assert b.data.shape == (n, 96, 3, 64, 64) and n >= 50
    assert set(b.target) == {0, 1} and (b.box_source == "file").all()
    assert len(b.frame_ids) == 25 and b.groups.max() == 24
    # frame-wise split
    assert not set(b.groups[b.train_index]) & set(b.groups[b.test_index])
    assert len(b.train_index) + len(b.test_index) == n
    boxes = json.loads((kvasir_dir / "kavsir_bboxes.json").read_text())
    for g, frame in enumerate(b.frame_ids[:5]):
        entry = boxes[frame]
        mask = np.asarray(Image.open(b.mask_paths[g]).convert("L")) >= 128
        pos = b.boxes[(b.groups == g) & (b.target == 1)]
        sx, sy = mask.shape[1] / entry["width"], mask.shape[0] / entry["height"]
        first = entry["bbox"][0]
        np.testing.assert_allclose(
            pos[0], [first["xmin"] * sx, first["ymin"] * sy, first["xmax"] * sx, first["ymax"] * sy]
        )
        for x0, y0, x1, y1 in b.boxes[(b.groups == g) & (b.target == 0)].astype(int):
            assert not mask[y0:y1, x0:x1].any()  # negatives hold no polyp pixel
    # patches are the box protocol's on the frame
    k = int(np.flatnonzero(b.target == 0)[0])
    image = np.asarray(Image.open(b.image_paths[b.groups[k]]).convert("RGB"))
    np.testing.assert_array_equal(b.data[k], box_patches(image, b.boxes[k]))
    # the same seed gives the same candidates; boxes from the masks agree with the file's
    again = load_kvasir_seg(
        kvasir_dir,
        max_frames=25,
        random_state=0,
        boxes="masks",
        protocol=BoxProtocol(shift=0, patch_size=32),
    )
    assert again.data.shape[1:] == (24, 3, 32, 32) and (again.box_source == "masks").all()
    np.testing.assert_array_equal(again.frame_ids, b.frame_ids)
    a, f = again.boxes[again.target == 1][:10], b.boxes[b.target == 1][:10]
    inter = np.clip(np.minimum(a[:, 2:], f[:, 2:]) - np.maximum(a[:, :2], f[:, :2]), 0, None).prod(
        1
    )
    union = (a[:, 2:] - a[:, :2]).prod(1) + (f[:, 2:] - f[:, :2]).prod(1) - inter
    assert np.median(inter / union) > 0.8


def make_polyp_folder(root, n=4, size=64, ext=".png"):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(80, 200, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[8:24, 10:30] = 255
        if i == 0:
            mask[40:56, 40:60] = 255  # a second polyp
        Image.fromarray(img).save(root / "images" / f"frame{i}{ext}")
        Image.fromarray(mask).save(root / "masks" / f"frame{i}.png")
    return root


def test_kvasir_layout_without_box_file(tmp_path):
    root = make_polyp_folder(tmp_path / "polyps")
    b = load_kvasir_seg(
        root, protocol=BoxProtocol(patch_size=16), negatives_per_frame=2, test_size=0.5
    )
    assert (b.box_source == "masks").all()
    assert b.target.sum() == 5  # one polyp per frame, two in frame0
    np.testing.assert_array_equal(b.boxes[b.target == 1][0], [10, 8, 30, 24])
    np.testing.assert_array_equal(b.boxes[b.target == 1][1], [40, 40, 60, 56])
    assert (b.target == 0).sum() + b.n_negatives_missing == 8
    for g in range(4):
        neg = b.boxes[(b.groups == g) & (b.target == 0)].astype(int)
        mask = np.asarray(Image.open(b.mask_paths[g])) >= 128
        for x0, y0, x1, y1 in neg:
            assert not mask[y0:y1, x0:x1].any()
        if len(neg) == 2:  # negatives of a frame do not overlap each other
            (a0, b0, a1, b1), (c0, d0, c1, d1) = neg
            assert min(a1, c1) <= max(a0, c0) or min(b1, d1) <= max(b0, d0)
    assert len(set(b.groups[b.test_index])) == 2
    X, y = load_kvasir_seg(root, protocol=BoxProtocol(patch_size=16), return_X_y=True)
    assert X.shape[0] == len(y)
    assert len(load_kvasir_seg(root, test_size=None).test_index) == 0


def test_kvasir_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir"):
        load_kvasir_seg(tmp_path / "nowhere")
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="images folder"):
        load_kvasir_seg(tmp_path / "a")
    (tmp_path / "a" / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="masks folder"):
        load_kvasir_seg(tmp_path / "a")
    (tmp_path / "a" / "masks").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        load_kvasir_seg(tmp_path / "a")
    root = make_polyp_folder(tmp_path / "b")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "masks" / "orphan.png")
    with pytest.raises(ValueError, match="orphan"):
        load_kvasir_seg(root)
    (root / "masks" / "orphan.png").unlink()
    (root / "images" / "frame1.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / "frame2.png")
    with pytest.warns(UserWarning) as record:
        b = load_kvasir_seg(root, protocol=BoxProtocol(patch_size=16))
    text = " ".join(str(w.message) for w in record)
    assert "frame1.png" in text and "frame2.png" in text
    assert list(b.frame_ids) == ["frame0", "frame3"]
    (root / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_kvasir_seg(root, boxes=root / "bad.json")
    (root / "bad.json").write_text(json.dumps({"frame0": {"width": 64}}))
    with pytest.raises(ValueError, match="frame0"):
        load_kvasir_seg(root, boxes=root / "bad.json")
    with pytest.raises(ValueError, match="negatives_per_frame"):
        load_kvasir_seg(root, negatives_per_frame=-1)
    with pytest.raises(ValueError, match="box protocol"):
        load_kvasir_seg(root, protocol=FrameProtocol())


# --------------------------------------------------------------------------- MedMNIST
def test_medmnist_real_file(breastmnist_npz):
    b = load_medmnist(breastmnist_npz)
    assert b.data.shape == (546, 21, 1, 28, 28) and set(b.target) == {0, 1}
    assert b.images.shape == (546, 28, 28)
    X, y = load_medmnist(breastmnist_npz, split="test", return_X_y=True)
    assert X.shape[0] == len(y) == 156
    assert load_medmnist(breastmnist_npz, split="val").data.shape[0] == 78
    patches = np.asarray(X[[0, 1]])
    assert patches.dtype == np.uint8 and patches.std() > 0
    np.testing.assert_array_equal(
        patches, np.asarray(load_medmnist(breastmnist_npz, "test").data[[0, 1]])
    )


def test_medmnist_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_medmnist(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="split"):
        load_medmnist(tmp_path / "missing.npz", split="dev")
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="broken.npz"):
        load_medmnist(tmp_path / "broken.npz")


def _corrupt_npz_files(folder):
    """Files named .npz that are not readable ones, each with what its error must say."""
    good = folder / "good.npz"
    np.savez(good, train_images=np.zeros((4, 28, 28), np.uint8), train_labels=np.zeros((4, 1)))
    data = good.read_bytes()
    files = {
        "truncated.npz": (data[: len(data) // 2], "not a zip archive"),
        "garbage.npz": (b"garbage", "not a zip archive"),
        "empty.npz": (b"", "it is empty"),
    }
    for name, (content, _) in files.items():
        (folder / name).write_bytes(content)
    flipped = bytearray(data)
    flipped[200:260] = b"x" * 60  # inside the first array: the zip's CRC check fails
    (folder / "crc.npz").write_bytes(bytes(flipped))
    np.savez(folder / "objects.npz", train_images=np.array([None, 1]), train_labels=[0, 1])
    expected = {name: why for name, (_, why) in files.items()}
    expected.update({"crc.npz": "CRC", "objects.npz": "Python objects"})
    return expected


def test_medmnist_corrupt_file_is_named_and_called_not_a_readable_npz(tmp_path):
    for name, why in _corrupt_npz_files(tmp_path).items():
        path = tmp_path / name
        with pytest.raises(ValueError) as info:
            load_medmnist(path)
        msg = str(info.value)
        assert f"npz_path={str(path)!r} is not a readable .npz file" in msg, msg
        assert why in msg, msg
        assert "pickled (object) data" not in msg
    np.savez(tmp_path / "keys.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="train_labels"):
        load_medmnist(tmp_path / "keys.npz")
    np.savez(
        tmp_path / "multi.npz",
        train_images=np.zeros((2, 28, 28), np.uint8),
        train_labels=np.zeros((2, 14)),
    )
    with pytest.raises(ValueError, match="multi-label"):
        load_medmnist(tmp_path / "multi.npz")
    np.savez(
        tmp_path / "rgb.npz",
        test_images=np.zeros((3, 28, 28, 3), np.uint8),
        test_labels=np.arange(3)[:, None],
    )
    assert load_medmnist(tmp_path / "rgb.npz", "test").data.shape == (3, 21, 3, 28, 28)


# --------------------------------------------------------------------------- image folders
def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in [("b_normal", 3), ("a_polyp", 2)]:
        (tmp_path / cls).mkdir()
        for i in range(n):
            size = (30 + 10 * i, 40)
            Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.jpg"
            )
    (tmp_path / "b_normal" / "notes.txt").write_text("ignored")
    b = load_image_folder(tmp_path, protocol=FrameProtocol(n_patches=5, patch_size=16))
    assert b.target_names.tolist() == ["a_polyp", "b_normal"]
    assert b.target.tolist() == [0, 0, 1, 1, 1]
    assert b.data.shape == (5, 5, 3, 16, 16)
    assert np.asarray(b.data).shape == (5, 5, 3, 16, 16)
    grey = load_image_folder(tmp_path, image_mode="L", return_X_y=True)[0]
    assert grey.shape == (5, 21, 1, 64, 64)


def test_image_folder_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="root"):
        load_image_folder(tmp_path / "none")
    with pytest.raises(ValueError, match="no class subfolders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with (
        pytest.raises(ValueError, match="no readable images"),
        pytest.warns(UserWarning, match="empty"),
    ):
        load_image_folder(tmp_path)
    (tmp_path / "ok").mkdir()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "ok" / "good.png")
    (tmp_path / "ok" / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.warns(UserWarning) as record:
        b = load_image_folder(tmp_path)
    text = " ".join(str(w.message) for w in record)
    assert "bad.png" in text and "empty" in text
    assert b.filenames.tolist() == [str(tmp_path / "ok" / "good.png")]
    with pytest.raises(ValueError, match="image_mode"):
        load_image_folder(tmp_path, image_mode="CMYK")


def _class_folders(root, counts):
    for cls, n in counts.items():
        (root / cls).mkdir()
        for i in range(n):
            value = 40 * (len(cls) % 5) + i
            Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(root / cls / f"{i}.png")


def test_image_folder_empty_class_folder_is_not_a_class(tmp_path):
    _class_folders(tmp_path, {"a_empty": 0, "benign": 2, "malignant": 3})
    with pytest.warns(UserWarning, match="a_empty"):
        b = load_image_folder(tmp_path)
    assert b.target_names.tolist() == ["benign", "malignant"]
    assert b.target.tolist() == [0, 0, 1, 1, 1]  # numbered without the empty folder
    assert [Path(f).parent.name for f in b.filenames] == ["benign"] * 2 + ["malignant"] * 3


def test_image_folder_positive_class_is_target_1(tmp_path):
    _class_folders(tmp_path, {"benign": 2, "malignant": 3})
    default = load_image_folder(tmp_path)
    assert default.target_names.tolist() == ["benign", "malignant"]
    b = load_image_folder(tmp_path, positive_class="benign")
    assert b.target_names.tolist() == ["malignant", "benign"]
    # every image keeps its folder's class, only the numbering changes
    names = [Path(f).parent.name for f in b.filenames]
    assert [b.target_names[t] for t in b.target] == names
    assert b.filenames.tolist() == default.filenames.tolist()  # same candidates, same order
    assert b.target.tolist() == [1, 1, 0, 0, 0]
    assert load_image_folder(tmp_path, positive_class="malignant").target.tolist() == (
        default.target.tolist()
    )


def test_image_folder_positive_class_is_validated(tmp_path):
    _class_folders(tmp_path, {"benign": 2, "empty": 0, "malignant": 1, "other": 1})
    with pytest.warns(UserWarning, match="empty"):
        with pytest.raises(ValueError, match=r"positive_class='polyp' is not a class folder"):
            load_image_folder(tmp_path, positive_class="polyp")
        with pytest.raises(ValueError, match="'empty' is a class folder without readable"):
            load_image_folder(tmp_path, positive_class="empty")
        with pytest.raises(ValueError, match="needs exactly two class folders.*found 3"):
            load_image_folder(tmp_path, positive_class="benign")
        with pytest.raises(ValueError, match="positive_class=1 "):
            load_image_folder(tmp_path, positive_class=1)
