import numpy as np
import pytest

from napari_segsuite.core.superpixels.annotate import RegionAnnotator, line_pixels

# four 4x4 regions in an 8x8 image, region 0 (outside a mask) in the last column
REGIONS = np.kron(np.array([[1, 2], [3, 4]]), np.ones((4, 4), int))
REGIONS[:, 7] = 0


def test_click_writes_the_region_and_undo_restores():
    target = np.zeros((8, 8), np.int32)
    target[0, 0] = 9
    ann = RegionAnnotator()
    edit = ann.click(target, REGIONS, (1.2, 5.6), 5, key="t")  # rounds to (1, 6): region 2
    assert edit.changed == 12 and list(edit.regions) == [2] and not edit.reason
    assert np.array_equal(target == 5, REGIONS == 2)
    assert ann.click(target, REGIONS, (1, 6), 5).changed == 0  # already 5: nothing changes, nothing stored
    assert ann.undo() == ("t", 12)
    assert target.sum() == 9 and ann.undo() is None


@pytest.mark.parametrize("coord, reason", [((-1, 2), "outside"), ((2, 8), "outside"),
                                           ((2, 7), "no superpixel")])
def test_click_outside_or_on_background_writes_nothing(coord, reason):
    target = np.zeros((8, 8), np.int32)
    edit = RegionAnnotator().click(target, REGIONS, coord, 3)
    assert edit.changed == 0 and reason in edit.reason and not target.any()


def test_stroke_merge_and_dtype_limit():
    target = np.zeros((8, 8), np.uint8)
    ann = RegionAnnotator()
    edit = ann.stroke(target, REGIONS, [(1, 1), (6, 1)], 2)  # down the first column: regions 1 and 3
    assert sorted(edit.regions) == [1, 3] and np.array_equal(target == 2, np.isin(REGIONS, [1, 3]))
    assert ann.merge(target, 2, 7).changed == 32 and set(np.unique(target)) == {0, 7}
    assert "not in" in ann.merge(target, 4, 7).reason
    with pytest.raises(ValueError, match="does not fit"):
        ann.paint(target, REGIONS == 4, 300)
    ann.undo()
    assert np.array_equal(target == 2, np.isin(REGIONS, [1, 3]))
    assert list(map(tuple, line_pixels((0, 0), (0, 3)))) == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_undo_skips_edits_whose_target_is_gone():
    a, b = np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32)
    ann = RegionAnnotator()
    ann.click(a, REGIONS, (0, 0), 1, key="a")
    ann.click(b, REGIONS, (0, 0), 1, key="b")
    assert ann.undo(lambda key: None if key == "b" else {"a": a}[key]) == ("a", 16)
    assert not a.any() and b.sum() == 16
