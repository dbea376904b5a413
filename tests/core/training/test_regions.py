"""Partial labels, shared parts: how training data with a region is given, where windows are sampled,
how instances cut by the region's edge are counted and how validation is scored inside a region."""

import numpy as np
import pytest

from napari_segsuite.core.training import TrainingItem, as_training_items
from napari_segsuite.core.training.regions import (inside_fraction, instances_inside, region_bbox, sample_window,
                                                   score_in_region)


def test_the_third_tuple_entry_is_a_region_if_an_array_and_features_if_a_table(tmp_path):
    img, lab = np.zeros((8, 8), np.uint16), np.zeros((8, 8), np.int32)
    reg = np.zeros((8, 8), np.uint8)
    reg[:4] = 1
    items = as_training_items([(img, lab), (img, lab, reg), (img, lab, {"class": [1]}), (img, lab, None),
                               TrainingItem(img, lab, region=reg, features={"class": [2]}, name="both")])
    assert [it.region is reg for it in items] == [False, True, False, False, True]
    assert [it.features for it in items] == [None, None, {"class": [1]}, None, {"class": [2]}]
    assert [it.name for it in items] == ["item0", "item1", "item2", "item3", "both"]
    assert len(as_training_items((img, lab, reg))) == 1 and as_training_items((img, lab, reg))[0].region is reg
    with pytest.raises(ValueError, match="neither a region mask"):
        as_training_items([(img, lab, 3)])
    with pytest.raises(ValueError, match="TrainingItems"):
        as_training_items([(img,)])
    # a dataset folder carries its regions
    from napari_segsuite.core import export_dataset

    path = export_dataset(tmp_path / "ds", [("a", img, lab, reg), ("b", img, lab)])
    loaded = {it.name: it for it in as_training_items(path)}
    assert np.array_equal(loaded["a"].region, reg) and loaded["b"].region is None


def test_windows_are_sampled_inside_the_region():
    rng = np.random.default_rng(0)
    region = np.zeros((128, 160), bool)
    region[:, :40] = True                                   # the left quarter
    fractions = []
    for _ in range(500):
        y, x = sample_window(rng, region.shape, 32, region)
        assert 0 <= y <= 96 and 0 <= x <= 128
        fractions.append(region[y:y + 32, x:x + 32].mean())
    assert min(fractions) >= 0.5                            # centred on a region pixel of a half-plane
    assert np.mean(fractions) > 0.9
    # a small blob far from the centre: every window holds it (moved to fit the image at the corner)
    blob = np.zeros((128, 160), bool)
    blob[120:124, 2:6] = True
    for _ in range(50):
        y, x = sample_window(rng, blob.shape, 32, blob)
        assert blob[y:y + 32, x:x + 32].sum() == 16
    # without a region: uniform over every position
    corners = np.array([sample_window(rng, (128, 160), 32) for _ in range(2000)])
    assert corners.min(0).tolist() == [0, 0] and corners.max(0).tolist() == [96, 128]


def test_cells_cut_by_the_region_edge_count_when_half_inside():
    lab = np.zeros((10, 20), np.int32)
    lab[1:5, 6:11] = 1            # columns 6..10: 4 of 5 inside columns < 10
    lab[6:9, 8:13] = 2            # columns 8..12: 2 of 5 inside
    lab[1:3, 15:18] = 3           # outside
    region = np.zeros((10, 20), bool)
    region[:, :10] = True
    assert inside_fraction(lab, region) == {1: 0.8, 2: 0.4, 3: 0.0}
    assert instances_inside(lab, region).tolist() == [1]
    assert region_bbox(region) == (slice(0, 10), slice(0, 10))
    # prediction: cell 1 found, cell 2 missed, cell 3 found, and a spurious cell outside the region
    pred = np.zeros_like(lab)
    pred[lab == 1], pred[lab == 3] = 5, 6
    pred[7:9, 16:19] = 7
    assert score_in_region(lab, pred, region)["ap50"] == 1.0       # only cell 1 counts, and it is found
    assert score_in_region(lab, pred)["ap50"] == pytest.approx(2 / 4)  # whole image: 2 TP, 1 FP, 1 FN
    pred[1:5, 2:4] = 8                                              # a false cell inside the region
    assert score_in_region(lab, pred, region)["ap50"] == 0.5
