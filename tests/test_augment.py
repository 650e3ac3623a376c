"""The patch protocols: exact geometry on images whose pixels encode their coordinates."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_aift.augment import (
    AxisProtocol,
    BoxProtocol,
    FrameProtocol,
    axis_patches,
    box_patches,
    frame_patches,
)


def coord_image(height=48, width=64):
    """RGB image with R = column (x), G = row (y), B = 7."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 0] = np.arange(width)[None, :]
    img[..., 1] = np.arange(height)[:, None]
    img[..., 2] = 7
    return img


def crop_chw(img, x0, y0, x1, y1):
    return img[y0:y1, x0:x1].transpose(2, 0, 1)


# --------------------------------------------------------------------------- box
def test_box_default_is_paper_96_and_other_readings_one_parameter_away():
    assert BoxProtocol().n_patches == 96
    assert BoxProtocol(include_center=True).n_patches == 120
    assert BoxProtocol(shift=0).n_patches == 24
    assert BoxProtocol(dihedral=1, scales=(1.0,)).n_patches == 4
    out = box_patches(coord_image(), (20, 10, 40, 30), patch_size=12)
    assert out.shape == (96, 3, 12, 12) and out.dtype == np.uint8


def test_box_translations_are_exact_crops_in_documented_order():
    img = coord_image()
    # a 10 px box at scale 1: 10% shift = 1 px; patch_size = box side means no resampling
    p = BoxProtocol(patch_size=10, scales=(1.0,), dihedral=1, include_center=True)
    patches = p.generate(img, (20, 10, 30, 20))
    expected = [
        crop_chw(img, 21, 10, 31, 20),  # right
        crop_chw(img, 19, 10, 29, 20),  # left
        crop_chw(img, 20, 11, 30, 21),  # down
        crop_chw(img, 20, 9, 30, 19),  # up
        crop_chw(img, 20, 10, 30, 20),  # centre
    ]
    np.testing.assert_array_equal(patches, np.stack(expected))


def test_box_scales_enlarge_about_the_centre_and_make_square():
    img = coord_image()
    # a 10 x 6 box becomes a 10 x 10 square, then 20 x 20 at scale 2 (shift 2 px)
    p = BoxProtocol(patch_size=20, scales=(2.0,), dihedral=1)
    patches = p.generate(img, (25, 17, 35, 23))
    np.testing.assert_array_equal(patches[0], crop_chw(img, 22, 10, 42, 30))
    np.testing.assert_array_equal(patches[3], crop_chw(img, 20, 8, 40, 28))


def test_box_resampled_scale_keeps_coordinates_within_one_level():
    img = coord_image()
    p = BoxProtocol(patch_size=10, scales=(1.2,), dihedral=1, shift=0)
    patch = p.generate(img, (20, 10, 30, 20))[0].astype(float)
    # the crop is the 12 px square [19, 31) x [9, 21); output pixel j samples x = 19 + 1.2 (j + 0.5)
    centres = 19 + 1.2 * (np.arange(10) + 0.5) - 0.5
    np.testing.assert_allclose(patch[0], np.broadcast_to(centres, (10, 10)), atol=1.0)
    np.testing.assert_allclose(
        patch[1], np.broadcast_to((centres - 10)[:, None], (10, 10)), atol=1.0
    )


def test_box_not_square_stretches_the_rectangle():
    img = coord_image()
    boxes = BoxProtocol(scales=(1.0,), shift=0, square=False).crop_boxes((10, 10, 30, 20))
    np.testing.assert_array_equal(boxes, [[10, 10, 30, 20]])
    boxes = BoxProtocol(scales=(1.5,), shift=0, square=True).crop_boxes((10, 10, 30, 20))
    np.testing.assert_array_equal(boxes, [[5, 0, 35, 30]])
    patch = BoxProtocol(patch_size=20, scales=(1.0,), shift=0, square=False, dihedral=1).generate(
        img, (10, 10, 30, 20)
    )[0]
    np.testing.assert_array_equal(patch[0], np.broadcast_to(np.arange(10, 30), (20, 20)))
    rows = 10 + 0.5 * (np.arange(20) + 0.5) - 0.5  # 10 image rows stretched to 20
    np.testing.assert_allclose(patch[1], np.broadcast_to(rows[:, None], (20, 20)), atol=1.0)


@pytest.mark.parametrize("dihedral", [1, 2, 4, 8])
def test_box_orientations_are_the_dihedral_group(dihedral):
    img = coord_image()
    p = BoxProtocol(patch_size=10, scales=(1.0,), shift=0, dihedral=dihedral)
    patches = p.generate(img, (20, 10, 30, 20))
    base = crop_chw(img, 20, 10, 30, 20)
    transforms = p.patch_transforms()
    assert len(transforms) == dihedral == len(patches)
    for patch, (mirror, turns) in zip(patches, transforms):
        ref = base[:, :, ::-1] if mirror else base
        np.testing.assert_array_equal(patch, np.rot90(ref, turns, axes=(1, 2)))
    if dihedral == 8:  # all eight are different views of an asymmetric crop
        assert len({patch.tobytes() for patch in patches}) == 8


def test_box_patch_order_is_scale_translation_orientation():
    img = coord_image()
    p = BoxProtocol(patch_size=8, scales=(1.0, 1.5), dihedral=8)
    patches = p.generate(img, (20, 10, 30, 20)).reshape(2, 4, 8, 3, 8, 8)
    single = BoxProtocol(patch_size=8, scales=(1.5,), dihedral=8).generate(img, (20, 10, 30, 20))
    np.testing.assert_array_equal(patches[1], single.reshape(4, 8, 3, 8, 8))


@pytest.mark.parametrize(
    "mode, expected_x",
    [("reflect", [2, 1, 0, 1, 2]), ("edge", [0, 0, 0, 1, 2]), ("constant", [0, 0, 0, 1, 2])],
)
def test_box_padding_modes_outside_the_image(mode, expected_x):
    img = coord_image()
    p = BoxProtocol(patch_size=5, scales=(1.0,), shift=0, dihedral=1, padding_mode=mode)
    patch = p.generate(img, (-2, 0, 3, 5))[0]
    np.testing.assert_array_equal(patch[0, 0], expected_x)
    blue = patch[2, 0]
    assert (blue[:2] == (0 if mode == "constant" else 7)).all() and (blue[2:] == 7).all()


def test_box_grey_image_gives_one_channel():
    grey = coord_image()[..., 0]
    out = box_patches(grey, (10, 10, 20, 20), patch_size=10, scales=(1.0,), dihedral=1, shift=0)
    np.testing.assert_array_equal(out[0, 0], grey[10:20, 10:20])
    assert out.shape == (1, 1, 10, 10)


# --------------------------------------------------------------------------- frame
def test_frame_pyramid_is_whole_frame_quadrants_and_cells():
    img = coord_image(16, 16)
    p = FrameProtocol(n_patches=21, patch_size=4)
    boxes = p.crop_boxes(img.shape)
    assert boxes.shape == (21, 4)
    np.testing.assert_array_equal(boxes[0], [0, 0, 16, 16])
    np.testing.assert_array_equal(
        boxes[1:5], [[0, 0, 8, 8], [8, 0, 16, 8], [0, 8, 8, 16], [8, 8, 16, 16]]
    )
    patches = p.generate(img)
    # the 4 x 4 cells are 4 px: exact crops in row-major order
    for k in range(16):
        i, j = divmod(k, 4)
        np.testing.assert_array_equal(
            patches[5 + k], crop_chw(img, 4 * j, 4 * i, 4 * j + 4, 4 * i + 4)
        )
    # quadrants and whole frame are shrunk: the mean coordinate is kept
    assert abs(patches[2, 0].mean() - 11.5) < 0.6 and abs(patches[2, 1].mean() - 3.5) < 0.6
    assert abs(patches[0, 0].mean() - 7.5) < 0.6


def test_frame_pyramid_sizes():
    assert FrameProtocol(n_patches=5).generate(coord_image(), None).shape == (5, 3, 64, 64)
    with pytest.raises(ValueError, match="1, 5, 21, 85"):
        FrameProtocol(n_patches=7).generate(coord_image())


def test_frame_random_layout_is_seeded_and_inside_the_frame():
    img = coord_image(40, 60)
    p = FrameProtocol(n_patches=30, patch_size=8, layout="random", crop_scale=(0.3, 0.6))
    assert p.uses_random_state and not FrameProtocol().uses_random_state
    boxes = p.crop_boxes(img.shape, random_state=3)
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(sides, boxes[:, 3] - boxes[:, 1])
    assert (sides >= 0.3 * 40 - 1e-9).all() and (sides <= 0.6 * 40 + 1e-9).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 60).all() and (boxes[:, 3] <= 40).all()
    a = p.generate(img, random_state=3)
    np.testing.assert_array_equal(a, p.generate(img, random_state=3))
    np.testing.assert_array_equal(
        a,
        frame_patches(
            img, n_patches=30, patch_size=8, layout="random", crop_scale=(0.3, 0.6), random_state=3
        ),
    )
    assert not np.array_equal(a, p.generate(img, random_state=4))
    # each patch shows its box: mean x coordinate matches the box centre
    centres = (boxes[:, 0] + boxes[:, 2]) / 2 - 0.5
    np.testing.assert_allclose(a[:, 0].mean(axis=(1, 2)), centres, atol=1.0)


# --------------------------------------------------------------------------- axis
def test_axis_default_is_paper_54():
    p = AxisProtocol()
    assert p.n_patches == 3 * 3 * 6
    frames = p.patch_frames((50, 50, 0))
    np.testing.assert_allclose(np.unique(frames[:, 2]), [32, 48, 64])
    np.testing.assert_allclose(np.unique(frames[:, 3]), [0, 60, 120, 180, 240, 300])


def test_axis_angle_zero_is_an_exact_crop_and_rotations_are_exact():
    img = coord_image()
    p = AxisProtocol(patch_size=10, size=10, scales=(1.0,), shifts=(0.0,), n_rotations=4)
    patches = p.generate(img, (35, 25, 0.0))
    base = crop_chw(img, 30, 20, 40, 30)
    np.testing.assert_array_equal(patches[0], base)
    # the patch's x-axis turns counter-clockwise on screen: 90 degrees rotates the crop clockwise
    np.testing.assert_array_equal(patches[1], np.rot90(base, -1, axes=(1, 2)))
    np.testing.assert_array_equal(patches[2], np.rot90(base, 2, axes=(1, 2)))
    np.testing.assert_array_equal(patches[3], np.rot90(base, 1, axes=(1, 2)))


def test_axis_translations_move_along_the_axis():
    img = coord_image()
    p = AxisProtocol(patch_size=10, size=10, scales=(1.0,), shifts=(-0.2, 0.2), n_rotations=1)
    right = p.generate(img, (35, 25, 0.0))
    np.testing.assert_array_equal(right[0], crop_chw(img, 28, 20, 38, 30))
    np.testing.assert_array_equal(right[1], crop_chw(img, 32, 20, 42, 30))
    up = p.generate(img, (35, 25, 90.0))  # axis pointing up the screen: +0.2 moves 2 px up
    np.testing.assert_array_equal(up[1], np.rot90(crop_chw(img, 30, 18, 40, 28), -1, axes=(1, 2)))


def test_axis_scales_and_oblique_angle_sample_the_right_place():
    img = coord_image(80, 80)
    p = AxisProtocol(patch_size=16, size=16, scales=(1.0, 2.0), shifts=(0.0,), n_rotations=3)
    patches = p.generate(img, (40, 40, 30.0)).astype(float)
    # every patch is centred on (40, 40): its mean coordinates are the centre's
    np.testing.assert_allclose(patches[:, 0].mean(axis=(1, 2)), 39.5, atol=0.6)
    np.testing.assert_allclose(patches[:, 1].mean(axis=(1, 2)), 39.5, atol=0.6)
    # along the patch's rows, x changes at cos(angle) * side / patch_size per pixel
    for k, (side, angle) in enumerate(
        [(16, 30), (16, 150), (16, 270), (32, 30), (32, 150), (32, 270)]
    ):
        slope = np.polyfit(np.arange(4, 12), patches[k, 0, 8, 4:12], 1)[0]
        assert abs(slope - np.cos(np.deg2rad(angle)) * side / 16) < 0.1


def test_axis_random_rotations_are_seeded():
    img = coord_image()
    kw = dict(patch_size=8, size=8, random_rotations=True)
    a = axis_patches(img, (30, 20), 10.0, random_state=0, **kw)
    np.testing.assert_array_equal(a, axis_patches(img, (30, 20), 10.0, random_state=0, **kw))
    assert not np.array_equal(a, axis_patches(img, (30, 20), 10.0, random_state=1, **kw))
    assert a.shape == (54, 3, 8, 8)


# --------------------------------------------------------------------------- params, errors
def test_protocols_are_cloneable_parameter_objects():
    p = BoxProtocol(scales=(1.0, 2.0), dihedral=4)
    q = clone(p)
    assert q.get_params() == p.get_params() and q is not p
    assert q.set_params(dihedral=8).n_patches == 64
    assert FrameProtocol(n_patches=5).output_shape(1) == (5, 1, 64, 64)


@pytest.mark.parametrize(
    "protocol, message",
    [
        (BoxProtocol(dihedral=3), "dihedral"),
        (BoxProtocol(scales=()), "scales"),
        (BoxProtocol(scales=(1.0, -1.0)), "scales"),
        (BoxProtocol(shift=1.5), "shift"),
        (BoxProtocol(patch_size=0), "patch_size"),
        (BoxProtocol(padding_mode="wrap"), "padding_mode"),
        (FrameProtocol(layout="grid"), "layout"),
        (FrameProtocol(layout="random", crop_scale=(0.5, 2.0)), "crop_scale"),
        (AxisProtocol(n_rotations=0), "n_rotations"),
        (AxisProtocol(size=-3), "size"),
    ],
)
def test_bad_parameters_name_the_parameter(protocol, message):
    region = {BoxProtocol: (1, 1, 5, 5), FrameProtocol: None, AxisProtocol: (5, 5, 0)}[
        type(protocol)
    ]
    with pytest.raises(ValueError, match=message):
        protocol.generate(coord_image(), region)


def test_bad_images_and_regions():
    img = coord_image()
    with pytest.raises(TypeError, match="uint8"):
        box_patches(img.astype(float), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="shape"):
        box_patches(np.zeros((10, 10, 4), np.uint8), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="x0 < x1"):
        box_patches(img, (5, 1, 5, 5))
    with pytest.raises(ValueError, match="needs a region"):
        BoxProtocol().generate(img)
    with pytest.raises(ValueError, match="region must be None"):
        FrameProtocol().generate(img, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="region must be"):
        AxisProtocol().generate(img, (1, 2))
    with pytest.raises(TypeError, match="random_state"):
        FrameProtocol(layout="random").generate(img, random_state="seed")
