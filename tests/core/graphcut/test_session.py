import numpy as np

from napari_segsuite.core.graphcut.boxes import BoxMask
from napari_segsuite.core.graphcut.session import GrabCutSession, box_key
from napari_segsuite.core.progress import run
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def test_key_changes_with_pixels_near_the_box_only():
    image = np.zeros((100, 100), np.float32)
    box = (20, 20, 40, 40)
    key = box_key(image, None, None, box, {"gamma": 30.0})
    far = image.copy()
    far[90, 90] = 1
    near = image.copy()
    near[30, 30] = 1
    assert box_key(far, None, None, box, {"gamma": 30.0}) == key
    assert box_key(near, None, None, box, {"gamma": 30.0}) != key
    assert box_key(image, None, None, box, {"gamma": 10.0}) != key
    trimap = np.zeros((100, 100), np.uint8)
    trimap[95, 95] = 1  # a scribble far away: same key as no scribbles
    assert box_key(image, None, trimap, box, {"gamma": 30.0}) == key



def test_key_covers_the_margin_the_cut_uses():
    """A pixel 15 px from the box is outside the default 10 px margin but inside a 20 px one: with margin=20
    an edit there must give a new key (else the cached mask of the old pixels would be reused)."""
    image = np.zeros((100, 100), np.float32)
    box = (40, 40, 60, 60)
    edited = image.copy()
    edited[25, 50] = 1.0                                    # 15 px above the box
    assert box_key(edited, None, None, box, {}) == box_key(image, None, None, box, {})
    assert box_key(edited, None, None, box, {"margin": 20}) != box_key(image, None, None, box, {"margin": 20})

def test_second_run_computes_only_the_changed_box():
    image, gt = synthetic_nuclei((128, 128), seed=0)
    session = GrabCutSession()
    boxes = [(0, (10, 10, 40, 40)), (1, (60, 60, 100, 100))]
    first = session.commit(run(session.iter_run(image, boxes, n_iter=2, gamma=30.0)))
    assert session.last_computed == 2 and [i for i, _ in first] == [0, 1]
    boxes[1] = (1, (60, 60, 101, 101))
    run_2 = run(session.iter_run(image, boxes, n_iter=2, gamma=30.0))
    session.commit(run_2)
    assert session.last_computed == 1 and len(session.cache) == 2


def test_paint_replaces_its_own_previous_instances_and_widens():
    mask = np.ones((2, 2), bool)
    a = BoxMask((0, 0, 2, 2), (slice(0, 2), slice(0, 2)), mask)
    b = BoxMask((2, 2, 4, 4), (slice(2, 4), slice(2, 4)), mask)
    data = np.zeros((5, 5), np.uint8)
    data[4, 4] = 7  # the user's own label: kept
    session = GrabCutSession()
    out = session.paint(data, "layer", [(0, a), (1, b)])
    assert out is data and data[0, 0] == 8 and data[2, 2] == 9 and data[4, 4] == 7
    out = session.paint(data, "layer", [(0, b)])  # next run: only one box, at b
    assert data[0, 0] == 0 and data[2, 2] == 8 and data[4, 4] == 7
    wide = session.paint(np.full((5, 5), 250, np.uint8), "other", [(9, a)])
    assert wide.dtype == np.int32 and wide[0, 0] == 260
