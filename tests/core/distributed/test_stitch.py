"""Block layout and stitching on synthetic labels with known answers (no model, no cluster)."""

import numpy as np
import pytest
from skimage.draw import disk
from skimage.measure import label as cc_label

from napari_segsuite.core.distributed.layout import block_grid
from napari_segsuite.core.distributed.stitch import global_maps, paste_core
from napari_segsuite.core.distributed.task import owned_objects


def _disks(shape, centres, radius=9):
    out = np.zeros(shape, np.int32)
    for i, c in enumerate(centres, 1):
        out[disk(c, radius, shape=shape)] = i
    return out


def _stitch(truth, block_size, halo, predict=None):
    """Every block 'predicts' its region (a crop of ``truth``, relabelled), then the stitching runs."""
    blocks = block_grid((), truth.shape, block_size, halo)
    stored, counts = [], []
    for b in blocks:
        y0, y1, x0, x1 = b.region
        region = (predict or (lambda crop, b: cc_label(crop > 0)))(truth[y0:y1, x0:x1], b)
        kept, n, cut = owned_objects(region, b, truth.shape)
        stored.append(kept)
        counts.append(n)
    maps, merged = global_maps(blocks, counts, lambda b: stored[b.index], reach=1 + 2 * halo // block_size)
    out = np.zeros(truth.shape, np.uint32)
    for b in blocks:
        y0, y1, x0, x1 = b.core
        out[y0:y1, x0:x1] = paste_core(b, [(o, stored[o.index], maps[o.index]) for o in blocks])
    return out, merged


def test_cores_partition_the_plane_and_regions_are_clipped():
    blocks = block_grid((2,), (100, 70), 32, 8)
    assert len(blocks) == 2 * 4 * 3
    cover = np.zeros((2, 100, 70), int)
    for b in blocks:
        y0, y1, x0, x1 = b.core
        cover[b.plane[0], y0:y1, x0:x1] += 1
    assert (cover == 1).all()
    last = blocks[-1]
    assert last.core == (96, 100, 64, 70) and last.region == (88, 100, 56, 70)
    with pytest.raises(ValueError, match="halo"):
        block_grid((), (64, 64), 32, -1)


def test_objects_crossing_borders_come_out_once_and_whole():
    # disks centred on a vertical border, a horizontal border and a block corner (blocks of 40)
    truth = _disks((120, 120), [(20, 40), (40, 60), (80, 80), (100, 18)])
    out, merged = _stitch(truth, 40, 16)
    assert merged == 0
    assert out.max() == 4
    for i in range(1, 5):  # each true object is exactly one output object with the same pixels
        ids = np.unique(out[truth == i])
        assert len(ids) == 1 and ids[0] > 0
        assert np.array_equal(out == ids[0], truth == i)


def test_a_halo_smaller_than_the_objects_is_reported():
    truth = _disks((120, 120), [(20, 40)], radius=15)
    blocks = block_grid((), truth.shape, 40, 4)
    b = blocks[1]  # core columns 40..80 owns the disk centred at column 40
    y0, y1, x0, x1 = b.region
    _, n, cut = owned_objects(cc_label(truth[y0:y1, x0:x1] > 0), b, truth.shape)
    assert n == 1 and cut == 1


def test_an_object_seen_by_two_blocks_differently_is_merged_into_one():
    truth = _disks((80, 80), [(20, 40)])

    def shifted(crop, b):  # the right block sees the disk 3 px to the right: both own it
        lab = cc_label(crop > 0)
        if b.grid == (0, 1):
            lab = np.roll(lab, 3, axis=1)
        if b.grid == (0, 0):
            lab = np.roll(lab, -3, axis=1)
        return lab

    out, merged = _stitch(truth, 40, 16, shifted)
    assert merged == 1
    assert out.max() == 1 and np.unique(out).tolist() == [0, 1]
    assert (out == 1).sum() >= (truth == 1).sum()  # the union of both views: whole
