"""Tests for the video-like development pools: synthetic sequences and Kvasir-SEG views."""

import numpy as np
import pytest

from sklearn_aift.augment import BoxProtocol
from sklearn_aift.candidates import candidate_keys, check_candidates
from sklearn_aift.datasets import load_kvasir_seg, load_kvasir_seg_video, make_colonoscopy_frames


def test_sequence_mode_gives_runs_of_near_duplicate_frames():
    b = make_colonoscopy_frames(30, sequence_length=5, frame_size=64, patch_size=32,
                                random_state=0)
    np.testing.assert_array_equal(b.scene, np.repeat(np.arange(6), 5))
    frames = b.frames.astype(float)
    within = [np.abs(frames[i] - frames[i + 1]).mean() for i in range(29) if b.scene[i] ==
              b.scene[i + 1]]
    between = [np.abs(frames[i] - frames[j]).mean() for i in range(0, 30, 5)
               for j in range(0, 30, 5) if i < j]
    assert np.median(within) < 0.5 * np.median(between)
    # frames of a run are not copies: the camera moves, focus and highlights change
    assert min(within) > 1.0
    # labels follow each frame's own view, and one artefact per scene
    np.testing.assert_array_equal(b.target, (b.clear_fraction >= 0.75).astype(int))
    for s in range(6):
        assert len(set(b.degradation[b.scene == s])) == 1
    assert b.data.shape == (30, 21, 3, 32, 32)


def test_sequence_mode_is_reproducible_and_independent_mode_unchanged():
    a = make_colonoscopy_frames(7, sequence_length=3, frame_size=48, random_state=1)
    b = make_colonoscopy_frames(7, sequence_length=3, frame_size=48, random_state=1)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.scene, [0, 0, 0, 1, 1, 1, 2])
    plain = make_colonoscopy_frames(4, frame_size=48, random_state=1)
    np.testing.assert_array_equal(plain.scene, np.arange(4))


@pytest.mark.parametrize("value", [0, -2, 2.5, True])
def test_sequence_length_is_checked(value):
    with pytest.raises(ValueError, match=f"sequence_length must be None or a positive integer; "
                                         f"got {value!r}"):
        make_colonoscopy_frames(4, sequence_length=value)


def test_kvasir_video_keeps_every_view_of_a_frame_on_one_side(kvasir_dir):
    protocol = BoxProtocol(patch_size=32, shift=0, dihedral=1)
    b = load_kvasir_seg_video(kvasir_dir, views_per_frame=3, max_frames=12, test_size=0.3,
                              protocol=protocol, random_state=0)
    base = load_kvasir_seg(kvasir_dir, max_frames=12, test_size=0.3, protocol=protocol,
                           random_state=0)
    assert len(b.target) == 3 * len(base.target)
    np.testing.assert_array_equal(b.target, base.target[b.source])
    train_frames = set(b.groups[b.train_index].tolist())
    test_frames = set(b.groups[b.test_index].tolist())
    assert train_frames and test_frames and not train_frames & test_frames
    assert len(b.train_index) + len(b.test_index) == len(b.target)
    assert test_frames == set(base.groups[base.test_index].tolist())
    # every view of a candidate on the same side as the candidate
    test_sources = set(base.test_index.tolist())
    assert all((s in test_sources) == (i in set(b.test_index.tolist()))
               for i, s in enumerate(b.source))
    # views differ from each other (moved, rescaled, blurred), but show one region
    X = np.asarray(check_candidates(b.data)[np.arange(6)])
    assert X.shape == (6, 3, 3, 32, 32) and X.dtype == np.uint8
    assert len(set(candidate_keys(b.data).tolist())) == len(b.target)
    assert np.abs(X[0].astype(float) - X[1]).mean() > 0.5
    assert np.all(np.abs(b.boxes[:3] - base.boxes[0]).max(axis=1) > 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"views_per_frame": 0}, "views_per_frame must be a positive integer; got 0"),
    ({"shift": 0.7}, r"shift must be a number in \[0, 0.5\); got 0.7"),
    ({"blur": (2.0, 1.0)}, r"blur must be a \(low, high\) pair"),
])
def test_kvasir_video_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_kvasir_seg_video("nowhere", **kwargs)
