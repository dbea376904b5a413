"""GrabCut on stained RGB (stain features), on two-channel whole cells (nucleus seeding), and point prompts
that leave no object without its instance."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core import load_sample
from napari_segsuite.core.graphcut.boxes import grabcut
from napari_segsuite.core.graphcut.features import is_brightfield_rgb
from napari_segsuite.core.graphcut.points import grabcut_points
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def _inner_boxes(labels, pad=4):
    h, w = labels.shape
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        box = (sl[0].start - pad, sl[1].start - pad, sl[0].stop + pad, sl[1].stop + pad)
        if box[0] > 0 and box[1] > 0 and box[2] < h and box[3] < w:
            yield i, box


def _mean_box_iou(image, labels, **kw):
    return np.mean([_iou(grabcut(image, b, channel_axis=-1, **kw), labels == i) for i, b in _inner_boxes(labels)])


def test_stain_features_beat_raw_rgb_on_the_histology_sample():
    image, labels = load_sample("histology")
    raw = _mean_box_iou(image, labels, features="raw")
    stain = _mean_box_iou(image, labels, features="stain")
    # measured: raw RGB 0.880, hematoxylin optical density 0.893 (41 nuclei away from the border)
    assert stain >= 0.85
    assert stain >= raw + 0.008


def test_auto_features_are_stain_for_brightfield_rgb_and_raw_for_fluorescence():
    image, labels = load_sample("histology")
    assert is_brightfield_rgb(image)
    i, box = next(_inner_boxes(labels))
    auto = grabcut(image, box, channel_axis=-1)
    assert np.array_equal(auto, grabcut(image, box, channel_axis=-1, features="stain"))
    assert not np.array_equal(auto, grabcut(image, box, channel_axis=-1, features="raw"))
    dark = np.zeros((40, 40, 3), np.uint8)
    dark[10:30, 10:30] = (200, 50, 20)
    assert not is_brightfield_rgb(dark)
    with pytest.raises(ValueError, match="RGB"):
        grabcut(dark[..., :2], (5, 5, 35, 35), channel_axis=-1, features="stain")
    with pytest.raises(ValueError, match="features"):
        grabcut(dark, (5, 5, 35, 35), channel_axis=-1, features="hsv")


def _two_channel_cell(seed=0):
    """A faint whole cell (radius 16) in channel 0 with a bright nucleus (radius 6) in channel 1, off-centre."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:80, :80]
    cell = np.hypot(yy - 40, xx - 40) <= 16
    nucleus = np.hypot(yy - 36, xx - 43) <= 6
    image = np.stack([0.25 * cell + rng.normal(0, 0.1, cell.shape),
                      1.0 * nucleus + rng.normal(0, 0.1, cell.shape)], -1)
    return image, cell, nucleus


def test_nucleus_channel_seeding_recovers_the_whole_cell():
    image, cell, nucleus = _two_channel_cell()
    box = (20, 20, 61, 61)  # the cell + 4 px
    seeded = grabcut(image, box, channel_axis=-1, nucleus_channel=1)
    assert _iou(seeded, cell) >= 0.85
    assert seeded[nucleus].all()
    assert grabcut(image, box, channel_axis=-1, nucleus_channel=-1).sum() == seeded.sum()
    with pytest.raises(ValueError, match="nucleus_channel"):
        grabcut(image, box, channel_axis=-1, nucleus_channel=2)
    with pytest.raises(ValueError, match="nucleus_channel"):
        grabcut(image[..., 0], box, nucleus_channel=0)


@pytest.mark.parametrize("seed", [3, 4])
def test_points_at_every_nucleus_centre_leave_none_empty(seed):
    image, labels = synthetic_nuclei((192, 192), seed=seed)
    ids = [i for i in range(1, labels.max() + 1) if (labels == i).any()]
    pts = [np.round(ndi.center_of_mass(labels == i)).astype(int) for i in ids]
    pts = [p for p, i in zip(pts, ids) if labels[tuple(p)] == i]
    lab = grabcut_points(image, pts)
    found = [bool((lab == n + 1).any()) for n in range(len(pts))]
    assert all(found), f"{found.count(False)} of {len(pts)} points left empty"
    for n, p in enumerate(pts):  # each instance holds its own point
        assert lab[tuple(p)] == n + 1


def test_points_on_plain_background_give_nothing_next_to_points_on_nuclei():
    image, labels = synthetic_nuclei((128, 128), seed=3)
    rng = np.random.default_rng(0)
    bg = image[ndi.distance_transform_edt(labels == 0) > 6]
    plain = rng.choice(bg, (128, 96)).astype(image.dtype)  # background pixels only, same noise
    big = np.hstack([image, plain])
    nuclei = [i for i in range(1, labels.max() + 1) if (labels == i).any()][:5]
    pts = [np.round(ndi.center_of_mass(labels == i)).astype(int) for i in nuclei]
    pts = [p for p, i in zip(pts, nuclei) if labels[tuple(p)] == i]
    background = [(20, 170), (64, 190), (100, 220), (110, 160)]
    lab = grabcut_points(big, pts + background)
    assert set(np.unique(lab[:, 128:]).tolist()) <= {0} | set(range(1, len(pts) + 1))
    assert not np.isin(lab, np.arange(len(pts) + 1, len(pts) + 5)).any()
    assert all((lab == n + 1).any() for n in range(len(pts)))
