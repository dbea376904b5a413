"""core.training.edits: the region of the objects a correction touched, on hand-made labels with known answers."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite.core.training.edits import (EDIT_MARGIN_FRACTION, EDIT_MARGIN_FRACTIONS, MIN_EDIT_MARGIN,
                                                  edit_margin, edited_region)


def _cells():
    """Four 10 x 10 cells: 1 and 2 touch (columns 10-19 | 20-29), 3 and 4 stand alone."""
    lab = np.zeros((60, 80), np.int32)
    lab[5:15, 10:20] = 1
    lab[5:15, 20:30] = 2
    lab[40:50, 10:20] = 3
    lab[40:50, 55:65] = 4
    return lab


def _grown(mask, margin):
    """Every pixel within ``margin`` (Euclidean) of ``mask``: the answer computed the plain way."""
    return (ndi.distance_transform_edt(~mask) <= margin).astype(np.uint8)


def test_a_deleted_cell_is_the_region_with_its_margin():
    pred = _cells()
    fixed = np.where(pred == 3, 0, pred)
    region = edited_region(pred, fixed, margin=0)
    assert region.dtype == np.uint8 and np.array_equal(region, (pred == 3).astype(np.uint8))
    grown = edited_region(pred, fixed, margin=3)
    assert np.array_equal(grown, _grown(pred == 3, 3))
    assert grown[37, 15] == 1 and grown[36, 15] == 0            # 3 px above the cell's top row (40), not 4
    assert grown[38, 8] == 1 and grown[37, 9] == 0              # a disc, not a square: 2.8 px in, 3.2 px out
    assert not grown[pred == 4].any() and not grown[pred == 1].any()


def test_an_added_cell():
    pred = _cells()
    fixed = pred.copy()
    fixed[25:33, 40:48] = 9                                       # a cell the model missed, in the background
    assert np.array_equal(edited_region(pred, fixed, margin=0), (fixed == 9).astype(np.uint8))
    assert np.array_equal(edited_region(pred, fixed, margin=2), _grown(fixed == 9, 2))


def test_a_moved_boundary_takes_both_cells_whole():
    pred = _cells()
    fixed = pred.copy()
    fixed[5:15, 20:23] = 1                                        # cell 1 grows 3 columns into cell 2
    region = edited_region(pred, fixed, margin=0)
    assert np.array_equal(region, np.isin(pred, [1, 2]).astype(np.uint8))   # both whole, not only the 3 columns
    assert not region[pred == 3].any() and not region[pred == 4].any()


def test_split_and_merge():
    pred = _cells()
    split = pred.copy()
    split[40:50, 55:60] = 7                                       # cell 4 cut in two: 7 | 4
    assert np.array_equal(edited_region(pred, split, margin=0), (pred == 4).astype(np.uint8))
    merged = np.where(pred == 2, 1, pred)                         # cells 1 and 2 are one cell
    assert np.array_equal(edited_region(pred, merged, margin=0), np.isin(pred, [1, 2]).astype(np.uint8))


def test_a_trimmed_cell_counts_whole_in_the_prediction():
    pred = _cells()
    fixed = pred.copy()
    fixed[45:50, 55:65] = 0                                       # the bottom half of cell 4 erased
    assert np.array_equal(edited_region(pred, fixed, margin=0), (pred == 4).astype(np.uint8))


def test_no_edit_is_refused_with_what_to_do():
    pred = _cells()
    with pytest.raises(ValueError, match="nothing was corrected"):
        edited_region(pred, pred.copy())
    with pytest.raises(ValueError, match="nothing was corrected"):
        edited_region(np.zeros((8, 8), int), np.zeros((8, 8), int))


def test_wrong_inputs():
    pred = _cells()
    with pytest.raises(ValueError, match="same shape"):
        edited_region(pred, pred[:30])
    with pytest.raises(ValueError, match="0 or more pixels"):
        edited_region(pred, np.where(pred == 3, 0, pred), margin=-1)
    with pytest.raises(ValueError, match="2D"):
        edited_region(pred[None], pred[None])


def test_default_margin_follows_the_cell_size():
    pred = _cells()                                               # 10 x 10 cells: median diameter 11.28 px
    fixed = np.where(pred == 3, 0, pred)
    d = np.sqrt(4 * 100 / np.pi)
    assert edit_margin(pred, fixed) == max(MIN_EDIT_MARGIN, round(EDIT_MARGIN_FRACTION * d))
    assert np.array_equal(edited_region(pred, fixed), edited_region(pred, fixed, margin=edit_margin(pred, fixed)))
    big = np.kron(pred, np.ones((3, 3), np.int32))                # the same cells 3x larger: a 3x margin (rounded)
    assert edit_margin(big, big) == round(EDIT_MARGIN_FRACTION * 3 * d)
    # everything deleted: measured on the prediction; tiny cells: never below the minimum
    assert edit_margin(pred, np.zeros_like(pred)) == edit_margin(pred, pred)
    dots = np.zeros((20, 20), int)
    dots[5, 5], dots[10, 10] = 1, 2
    assert edit_margin(dots, dots) == MIN_EDIT_MARGIN


def test_the_mask_rcnn_margin_is_one_diameter():
    """Per model kind: the U-Net keeps a quarter diameter, the Mask R-CNN takes a whole one (it lost AP at a quarter
    and a half)."""
    pred = _cells()
    fixed = np.where(pred == 3, 0, pred)
    d = np.sqrt(4 * 100 / np.pi)
    assert EDIT_MARGIN_FRACTIONS["unet"] == EDIT_MARGIN_FRACTION == 0.25
    assert edit_margin(pred, fixed, EDIT_MARGIN_FRACTIONS["maskrcnn"]) == round(d) == 11
    wide = edited_region(pred, fixed, fraction=EDIT_MARGIN_FRACTIONS["maskrcnn"])
    assert np.array_equal(wide, edited_region(pred, fixed, margin=11))
    assert wide.sum() > edited_region(pred, fixed).sum()


@pytest.mark.parametrize("fraction", [float("nan"), float("inf"), -0.25, None, "half"])
def test_a_margin_fraction_that_is_not_a_number_above_zero_is_refused(fraction):
    pred = _cells()
    fixed = np.where(pred == 3, 0, pred)
    with pytest.raises(ValueError, match="fraction of a diameter must be a number >= 0"):
        edit_margin(pred, fixed, fraction)
    with pytest.raises(ValueError, match="fraction of a diameter"):
        edited_region(pred, fixed, fraction=fraction)
    assert edit_margin(pred, fixed, 0) == MIN_EDIT_MARGIN  # zero is allowed: the smallest margin


def test_the_region_near_the_image_edge_is_clipped_not_wrapped():
    pred = np.zeros((20, 20), np.int32)
    pred[0:4, 0:4] = 1
    fixed = np.zeros_like(pred)
    region = edited_region(pred, fixed, margin=5)
    assert np.array_equal(region, _grown(pred == 1, 5)) and region[-1, -1] == 0
