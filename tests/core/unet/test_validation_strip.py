"""The validation strip of a single training image: it must hold cells, or early stopping is blind.

Found on a real scratch-assay image (ndev, Hoechst): the far end of the longer side lay in the scratch, held no
nucleus, scored AP 1.0 from the first epoch, and patience ended every training after 10 epochs.
"""

import numpy as np

from napari_segsuite.core import synthetic_nuclei
from napari_segsuite.core.unet.training_items import split_items


def _field():
    image, labels = synthetic_nuclei((120, 240), n_nuclei=60, seed=3, radius_range=(4.0, 7.0))
    return image[None].astype(np.float32), labels.astype(np.int32)


def _n_cells(labels):
    return len(np.unique(labels)) - 1


def test_default_strip_is_kept_when_it_holds_its_share_of_the_cells():
    image, labels = _field()
    train, val, note = split_items([("a", image, labels, None)], 0.2, np.random.default_rng(0))
    assert note == "held-out part of the training image"
    # the far end of the longer side (columns), 20 % of it: 48 columns
    assert np.array_equal(val[0][2], labels[:, 192:]) and np.array_equal(train[0][2], labels[:, :192])
    assert np.array_equal(val[0][1], image[:, :, 192:])


def test_an_empty_far_end_moves_the_strip_to_where_the_cells_are():
    image, labels = _field()
    scratch = labels.copy()
    scratch[:, 110:] = 0                         # a scratch: no cell in the right half
    scratch[np.isin(scratch, np.unique(scratch[:, 100:110]))] = 0  # nor any cut by its edge
    n = _n_cells(scratch)
    assert n >= 15
    train, val, note = split_items([("a", image, scratch, None)], 0.2, np.random.default_rng(0))
    assert note == "held-out part of the training image"
    v, t = val[0][2], train[0][2]
    # 20 % of the image either way: 24 of the 120 rows or 48 of the 240 columns
    assert v.size == 24 * 240 and v.size + t.size == scratch.size
    in_val = [i for i in np.unique(v) if i and 2 * (v == i).sum() >= (scratch == i).sum()]
    # the chosen strip holds about its share of the cells (not the empty far end, not most of them)
    assert 0.5 * 0.2 * n <= len(in_val) <= 0.5 * n
    # and the parts are the image's own pixels, cut at the same place as the labels
    if v.shape[1] == scratch.shape[1]:
        rows = slice(0, v.shape[0]) if np.array_equal(v, scratch[:v.shape[0]]) else slice(-v.shape[0], None)
        assert np.array_equal(v, scratch[rows]) and np.array_equal(val[0][1], image[:, rows])
    else:
        assert np.array_equal(v, scratch[:, :v.shape[1]])
        assert np.array_equal(val[0][1], image[:, :, :v.shape[1]])


def test_no_strip_with_a_cell_validates_on_the_training_image():
    image, labels = _field()
    middle = np.zeros_like(labels)
    inside = np.zeros(labels.shape, bool)
    inside[40:80, 90:150] = True
    keep = [i for i in np.unique(labels[inside]) if i and inside[labels == i].all()]
    assert keep
    middle[np.isin(labels, keep)] = labels[np.isin(labels, keep)]   # cells only in the middle of the field
    train, val, note = split_items([("a", image, middle, None)], 0.2, np.random.default_rng(0))
    assert note == "training images (no held-out data)"
    assert train[0][2] is middle and val[0][2] is middle
