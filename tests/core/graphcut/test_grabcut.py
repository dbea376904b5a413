"""GrabCut on images with known objects: dtypes, channels, boxes, scribbles, stacks, errors."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core import (Cancelled, Progress, clip_box, grabcut, grabcut_boxes, iter_grabcut_boxes,
                                  load_sample, run)


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def _disk_image(shape=(64, 64), centre=(30, 34), radius=12, fg=160.0, bg=60.0, noise=12.0, seed=0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    disk = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2
    rng = np.random.default_rng(seed)
    img = np.where(disk, fg, bg) + rng.normal(0, noise, shape)
    return ndi.gaussian_filter(img, 0.7), disk


def _box_around(mask, pad=4):
    rows, cols = np.nonzero(mask)
    return (rows.min() - pad, cols.min() - pad, rows.max() + 1 + pad, cols.max() + 1 + pad)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.int16])
def test_disk_is_found_for_every_dtype(dtype):
    img, disk = _disk_image()
    scale = 200.0 if dtype == np.uint16 else (1 / 255 if np.dtype(dtype).kind == "f" else 1.0)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else None
    image = np.clip(img * scale, 0, top).astype(dtype)
    mask = grabcut(image, _box_around(disk))
    assert mask.dtype == bool and mask.shape == disk.shape
    assert _iou(mask, disk) > 0.9


def test_dark_object_on_bright_background():
    img, disk = _disk_image(fg=40.0, bg=200.0)
    assert _iou(grabcut(img, _box_around(disk)), disk) > 0.9


@pytest.mark.parametrize("channel_axis", [-1, 0])
def test_rgb_object_that_differs_only_in_hue(channel_axis):
    # Same brightness inside and outside: only the colour tells them apart.
    _, disk = _disk_image()
    rng = np.random.default_rng(3)
    rgb = np.where(disk[..., None], [200, 60, 60], [60, 60, 200]) + rng.normal(0, 15, disk.shape + (3,))
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    if channel_axis == 0:
        rgb = np.moveaxis(rgb, -1, 0)
    mask = grabcut(rgb, _box_around(disk), channel_axis=channel_axis)
    assert mask.shape == disk.shape
    assert _iou(mask, disk) > 0.9


def test_n_channel_image_with_signal_in_one_channel():
    img, disk = _disk_image()
    rng = np.random.default_rng(4)
    stack = rng.normal(100, 10, (5,) + disk.shape)
    stack[3] = img
    mask = grabcut(stack.astype(np.float32), _box_around(disk), channel_axis=0)
    assert _iou(mask, disk) > 0.9


def test_nuclei_sample_beats_otsu_and_is_never_empty():
    from skimage.filters import threshold_otsu

    image, gt = load_sample("nuclei_test")
    ious, otsu = [], []
    for i, sl in list(enumerate(ndi.find_objects(gt), start=1))[:40]:
        box = (sl[0].start - 4, sl[1].start - 4, sl[0].stop + 4, sl[1].stop + 4)
        mask = grabcut(image, box)
        assert mask.any(), f"empty mask for nucleus {i}"
        ious.append(_iou(mask, gt == i))
        r0, c0, r1, c1 = clip_box(box, gt.shape)
        patch = image[r0:r1, c0:c1]
        o = np.zeros(gt.shape, bool)
        o[r0:r1, c0:c1] = patch > threshold_otsu(patch)
        otsu.append(_iou(o, gt == i))
    assert np.mean(ious) >= 0.85
    assert np.mean(ious) > np.mean(otsu) + 0.08


def test_result_is_deterministic_and_stays_in_box():
    image, gt = load_sample("nuclei_test")
    box = (100, 100, 160, 170)
    a, b = grabcut(image, box), grabcut(image, box)
    assert np.array_equal(a, b)
    outside = np.ones(a.shape, bool)
    outside[100:160, 100:170] = False
    assert not a[outside].any()


def test_scribbles_are_hard_constraints():
    # Two equally bright touching disks inside one box: the cut takes both.
    yy, xx = np.mgrid[:60, :80]
    left = (yy - 30) ** 2 + (xx - 28) ** 2 <= 100
    right = (yy - 30) ** 2 + (xx - 48) ** 2 <= 100
    rng = np.random.default_rng(0)
    img = np.where(left | right, 150.0, 50.0) + rng.normal(0, 8, left.shape)
    box = (14, 12, 46, 64)
    both = grabcut(img, box)
    assert both[left].mean() > 0.9 and both[right].mean() > 0.9
    # Background scribbles across the right disk leave only the left one.
    trimap = np.zeros(img.shape, np.uint8)
    trimap[22:39, 47:50] = 2
    left_only = grabcut(img, box, trimap=trimap)
    assert not left_only[trimap == 2].any()
    assert _iou(left_only, left) > 0.85
    # A foreground scribble on a dark part of the box pulls it in.
    trimap = np.zeros(img.shape, np.uint8)
    trimap[40:44, 20:24] = 1
    with_fg = grabcut(img, box, trimap=trimap)
    assert with_fg[40:44, 20:24].all()


def test_boxes_give_one_instance_each_later_box_wins_overlaps():
    img, _ = _disk_image((60, 90), centre=(30, 25), radius=10)
    img2, disk2 = _disk_image((60, 90), centre=(30, 62), radius=12, seed=1)
    image = np.maximum(img, img2)
    _, disk1 = _disk_image((60, 90), centre=(30, 25), radius=10)
    boxes = [_box_around(disk1), _box_around(disk2)]
    labels = grabcut_boxes(image, boxes)
    assert labels.dtype == np.int32 and set(np.unique(labels)) == {0, 1, 2}
    assert _iou(labels == 1, disk1) > 0.9 and _iou(labels == 2, disk2) > 0.9
    # The same box twice: the second one (drawn later) owns the pixels.
    same = grabcut_boxes(image, [boxes[0], boxes[0]])
    assert set(np.unique(same)) == {0, 2}


def test_progress_per_box_and_cancel():
    img, disk = _disk_image()
    box = _box_around(disk)
    events = []
    labels = run(iter_grabcut_boxes(img, [box, box, box]), progress=events.append)
    assert [(e.step, e.total) for e in events] == [(1, 3), (2, 3), (3, 3)]
    assert all(isinstance(e, Progress) for e in events) and labels.max() == 3
    with pytest.raises(Cancelled):
        run(iter_grabcut_boxes(img, [box, box, box]), progress=lambda e: False)


def test_stack_box_applies_to_its_plane_only():
    img, disk = _disk_image()
    stack = np.stack([np.full(img.shape, 60.0), img, np.full(img.shape, 60.0)])
    box = (1, *_box_around(disk))
    mask = grabcut(stack, box)
    assert mask.shape == stack.shape
    assert not mask[0].any() and not mask[2].any()
    assert _iou(mask[1], disk) > 0.9
    labels = grabcut_boxes(stack, [box])
    assert labels.shape == stack.shape and labels[1].max() == 1


def test_partial_box_is_clipped():
    img, disk = _disk_image(centre=(10, 34), radius=8)
    r0, c0, r1, c1 = _box_around(disk, pad=20)
    assert r0 < 0
    mask = grabcut(img, (r0, c0, r1, c1))
    assert _iou(mask, disk) > 0.85
    assert clip_box((-5, -5, 10, 100), (64, 64)) == (0, 0, 10, 64)


@pytest.mark.parametrize("box, message", [
    ((10, 10, 10, 30), "no area"),
    ((30, 10, 20, 30), "no area"),
    ((100, 100, 120, 120), "outside the image"),
    ((10, 10, 30), "needs 4 values"),
    ((10, 10, 12, 12), "too small"),
    ((10, np.nan, 30, 30), "NaN"),
])
def test_bad_boxes_are_refused(box, message):
    img, _ = _disk_image()
    with pytest.raises(ValueError, match=message):
        grabcut(img, box)


def test_bad_inputs_are_refused_with_clear_messages():
    img, disk = _disk_image()
    box = _box_around(disk)
    bad = img.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        grabcut(bad, box)
    with pytest.raises(ValueError, match="trimap shape"):
        grabcut(img, box, trimap=np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="only hold 0"):
        grabcut(img, box, trimap=np.full(img.shape, 3, np.uint8))
    with pytest.raises(ValueError, match="integer labels"):
        grabcut(img, box, trimap=np.zeros(img.shape, np.float32))
    with pytest.raises(ValueError, match="n_iter"):
        grabcut(img, box, n_iter=0)
    with pytest.raises(ValueError, match="channel_axis"):
        grabcut(img, box, channel_axis=3)
    with pytest.raises(ValueError, match="2D image"):
        grabcut(np.zeros(50), (0, 0, 5, 5))
    with pytest.raises(ValueError, match="needs 5 values"):
        grabcut(np.zeros((3, 40, 40)), (0, 0, 10, 10))
    with pytest.raises(ValueError, match="plane index"):
        grabcut(np.zeros((3, 40, 40)), (5, 0, 0, 10, 10))
    with pytest.raises(ValueError, match="no boxes"):
        grabcut_boxes(img, [])
    with pytest.raises(ValueError, match="numeric"):
        grabcut(img.astype(str), box)
    with pytest.raises(ValueError, match="margin"):
        grabcut(img, box, margin=0)
    # A flat image has nothing to cut but must not crash; the result stays inside the box.
    flat = grabcut(np.full((40, 40), 7, np.uint16), (10, 10, 30, 30))
    assert not flat[:10].any()


def test_large_box_is_cut_coarse_to_fine_at_full_resolution():
    from napari_segsuite.core.graphcut.crop import MAX_BOX_PIXELS

    img, disk = _disk_image((260, 260), centre=(128, 131), radius=95, noise=20)
    box = _box_around(disk, pad=6)
    assert (box[2] - box[0]) * (box[3] - box[1]) > MAX_BOX_PIXELS
    mask = grabcut(img, box)
    assert _iou(mask, disk) > 0.97
    # The outline is found at full resolution, not in blocks of the coarse pass.
    assert np.logical_xor(mask, disk).sum() < 0.02 * disk.sum()
    trimap = np.zeros(img.shape, np.uint8)
    trimap[120:136, 30:60] = 2
    cut = grabcut(img, box, trimap=trimap)
    assert not cut[trimap == 2].any()


def test_box_covering_the_whole_image_learns_background_from_its_rim():
    # OpenCV asserts on a rect covering the whole image; here the box's rim stands in for the margin.
    img, disk = _disk_image()
    mask = grabcut(img.astype(np.uint8), (0, 0) + img.shape)
    assert _iou(mask, disk) > 0.9


def test_never_empty_on_dim_crowded_nuclei():
    # Low signal, many touching nuclei: the situation where OpenCV's models collapse to empty masks.
    from napari_segsuite.core import synthetic_nuclei

    image, gt = synthetic_nuclei((192, 192), seed=7, snr=0.4, touching_fraction=0.7)
    boxes = [(s[0].start - 4, s[1].start - 4, s[0].stop + 4, s[1].stop + 4) for s in ndi.find_objects(gt)]
    labels = grabcut_boxes(image, boxes)
    sizes = np.bincount(labels.ravel(), minlength=len(boxes) + 1)[1:]
    # Later boxes may cover an earlier instance where boxes overlap; check every mask before painting.
    from napari_segsuite.core import iter_grabcut_masks

    masks = run(iter_grabcut_masks(image, boxes))
    assert all(m.mask.any() for m in masks)
    assert (sizes > 0).mean() > 0.9
    ious = [_iou(labels == i + 1, gt == i + 1) for i in range(len(boxes))]
    assert np.mean(ious) > 0.7


def test_paint_box_masks_continues_after_existing_ids():
    from napari_segsuite.core import BoxMask, paint_box_masks

    existing = np.zeros((10, 10), np.int32)
    existing[0, 0] = 4
    a = BoxMask((1, 1, 4, 4), (slice(1, 4), slice(1, 4)), np.ones((3, 3), bool))
    b = BoxMask((2, 2, 6, 6), (slice(2, 6), slice(2, 6)), np.eye(4, dtype=bool))
    out = paint_box_masks((10, 10), [a, None, b], labels=existing)
    assert out[0, 0] == 4 and out[1, 1] == 5 and out[1, 2] == 5
    assert out[2, 2] == 7 and out[3, 3] == 7 and out[2, 3] == 5  # the later box wins its own pixels only
    assert existing[1, 1] == 0  # the input is not modified


def test_core_grabcut_is_the_function_even_after_the_module_is_imported():
    import importlib

    import napari_segsuite.core as core

    importlib.import_module("napari_segsuite.core.graphcut.boxes")
    assert callable(core.grabcut) and core.grabcut.__name__ == "grabcut"
    assert core.grabcut_boxes.__name__ == "grabcut_boxes"


# -- boxes that hold no object --------------------------------------------------------------------------
def _plain_background_boxes(labels, n, seed=0, pad=2):
    """``n`` random 10-45 px boxes with no labelled pixel within ``pad`` px (checked against the truth)."""
    rng = np.random.default_rng(seed)
    h, w = labels.shape
    boxes = []
    while len(boxes) < n:
        bh, bw = (int(v) for v in rng.integers(10, 46, 2))
        r, c = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        if not labels[max(r - pad, 0):r + bh + pad, max(c - pad, 0):c + bw + pad].any():
            boxes.append((r, c, r + bh, c + bw))
    return boxes


def test_boxes_over_plain_background_come_back_empty():
    image, gt = load_sample("nuclei_test")
    boxes = _plain_background_boxes(gt, 25) + [(0, 0, 31, 31)]  # and one cut by the image corner
    assert all(not gt[r0:r1, c0:c1].any() for r0, c0, r1, c1 in boxes)
    assert not any(grabcut(image, box).any() for box in boxes)
    # Without the contrast test each of them would be a blob of background shaped by its box.
    fakes = [grabcut(image, box, min_contrast=0) for box in boxes]
    assert all(m.sum() > 0.2 * (b[2] - b[0]) * (b[3] - b[1]) for m, b in zip(fakes, boxes))


def test_foreground_scribble_keeps_a_box_without_contrast():
    image, gt = load_sample("nuclei_test")
    r0, c0, r1, c1 = box = _plain_background_boxes(gt, 1, seed=3)[0]
    trimap = np.zeros(gt.shape, np.uint8)
    cy, cx = (r0 + r1) // 2, (c0 + c1) // 2
    trimap[cy - 1:cy + 2, cx - 1:cx + 2] = 1
    assert not grabcut(image, box).any()
    kept = grabcut(image, box, trimap=trimap)
    assert kept[trimap == 1].all()


def test_empty_box_leaves_its_id_unused():
    image, gt = load_sample("nuclei_test")
    sl = ndi.find_objects(gt)[9]
    nucleus = (sl[0].start - 4, sl[1].start - 4, sl[0].stop + 4, sl[1].stop + 4)
    labels = grabcut_boxes(image, [_plain_background_boxes(gt, 1, seed=5)[0], nucleus])
    assert set(np.unique(labels).tolist()) == {0, 2}
    assert _iou(labels == 2, gt == 10) > 0.7


def test_object_contrast_in_noise_levels():
    from napari_segsuite.core.graphcut.crop import object_contrast

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:60, :60]
    disc = (yy - 30) ** 2 + (xx - 30) ** 2 <= 12 ** 2
    box = (14, 14, 47, 47)
    noise = rng.normal(0, 5.0, disc.shape)
    # A disc 10 noise levels above its background: the contrast is 10 (white noise: the neighbour-difference
    # estimate of the noise level is the noise's own standard deviation).
    crop = (100 + 50 * disc + noise)[..., None]
    assert 8.5 < object_contrast(crop, disc, box) < 11.5
    # The same mask on noise alone: no contrast. Empty and full masks have nothing to compare: NaN, which
    # never drops a mask (a box over a whole small image is all foreground and is kept).
    assert object_contrast((100 + noise)[..., None], disc, box) < 1.0
    assert np.isnan(object_contrast(crop, np.zeros_like(disc), box))
    assert np.isnan(object_contrast(crop, np.ones_like(disc), box))
    # Several channels: the one that shows the object counts.
    two = np.stack([100 + noise, 100 + 50 * disc + rng.normal(0, 5.0, disc.shape)], axis=-1)
    assert object_contrast(two, disc, box) > 8.5


def test_min_contrast_must_be_non_negative():
    image, gt = load_sample("nuclei_test")
    with pytest.raises(ValueError, match="min_contrast must be >= 0"):
        grabcut(image, (10, 10, 40, 40), min_contrast=-1)


@pytest.mark.parametrize("boxes", [(6, 6, 24, 24), np.array([6, 6, 24, 24])])
def test_a_single_unwrapped_box_is_refused_with_a_hint(boxes):
    img = np.zeros((40, 60))
    img[10:20, 10:20] = 1
    with pytest.raises(ValueError, match=r"for one box write \[box\]|write \[box\]"):
        grabcut_boxes(img, boxes)
    assert grabcut_boxes(img, [boxes])[10:20, 10:20].all()  # wrapped, it works


def test_colour_image_without_channel_axis_is_refused_clearly():
    """A (Y, X, 3) image without channel_axis was read as Y planes 3 pixels wide ('a box needs 5 values')."""
    from napari_segsuite.core import grabcut

    rgb = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="looks like a colour image.*channel_axis=-1"):
        grabcut(rgb, (5, 5, 20, 20))
