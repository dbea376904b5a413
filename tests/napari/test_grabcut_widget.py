import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite._napari.grabcut_widget import GrabCutWidget
from napari_segsuite._napari.shape_boxes import shapes_to_boxes
from napari_segsuite.core import load_sample

SCALE, TRANSLATE = (2.0, 2.0), (10.0, 20.0)


def _world_rect(box, scale=SCALE, translate=TRANSLATE):
    """Corners (world) of the rectangle whose pixel centres are exactly ``box`` (end exclusive)."""
    r0, c0, r1, c1 = box
    rows = [translate[0] + scale[0] * (r - 0.5) for r in (r0, r1)]
    cols = [translate[1] + scale[1] * (c - 0.5) for c in (c0, c1)]
    return np.array([[rows[0], cols[0]], [rows[0], cols[1]], [rows[1], cols[1]], [rows[1], cols[0]]])


def _gt_boxes(gt, ids):
    sls = ndi.find_objects(gt)
    return [(sls[i - 1][0].start - 4, sls[i - 1][1].start - 4, sls[i - 1][0].stop + 4, sls[i - 1][1].stop + 4)
            for i in ids]


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def _run(widget, qtbot):
    # A run with every box cached finishes at once, maybe before a waitSignal could connect: wait for the
    # JobControls' own finished handler instead (it clears ``jobs.worker``).
    worker = widget.run()
    assert worker is not None, widget.jobs.status
    qtbot.waitUntil(lambda: widget.jobs.worker is None, timeout=30000)


@pytest.fixture
def scene(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    ids = [3, 10, 25]
    boxes = _gt_boxes(gt, ids)
    viewer.add_image(image, name="nuclei", scale=SCALE, translate=TRANSLATE)
    # The Shapes layer lives in plain world units: the widget must go through world coordinates.
    shapes = viewer.add_shapes([_world_rect(b) for b in boxes], shape_type="rectangle", name="boxes")
    widget = GrabCutWidget(viewer)
    widget.image.value = viewer.layers["nuclei"]
    widget.shapes.value = shapes
    return viewer, widget, gt, ids, boxes


def test_threaded_run_one_instance_per_rectangle_then_only_changed_boxes(scene, qtbot, wait_job):
    viewer, widget, gt, ids, boxes = scene
    widget.run()
    wait_job(widget.jobs, 30000)
    qtbot.waitUntil(lambda: widget.output.value is not None, timeout=5000)
    out = widget.output.value
    assert out is not None and out.name == "GrabCut (nuclei)"
    assert tuple(out.scale) == SCALE and tuple(out.translate) == TRANSLATE
    assert set(np.unique(out.data)) == {0, 1, 2, 3}
    for k, i in enumerate(ids, start=1):
        assert _iou(out.data == k, gt == i) > 0.75
    assert widget.last_computed == 3
    # Nothing changed: nothing is recomputed, the layer is repainted identically.
    before = out.data.copy()
    _run(widget, qtbot)
    diff = out.data != before
    assert widget.last_computed == 0, widget.last_computed
    assert not diff.any(), (np.unique(before[diff]), np.unique(out.data[diff]), diff.sum())
    # Move one rectangle onto another nucleus: only that box runs again.
    new_box = _gt_boxes(gt, [40])[0]
    data = list(widget.shapes.value.data)
    data[1] = _world_rect(new_box)
    widget.shapes.value.data = data
    _run(widget, qtbot)
    assert widget.last_computed == 1
    assert _iou(out.data == 2, gt == 40) > 0.75 and not ((out.data == 2) & (gt == 10)).any()
    assert len(viewer.layers) == 3  # updated in place, no new layer


def test_scribbles_rerun_only_the_touched_box(scene, qtbot):
    viewer, widget, gt, ids, boxes = scene
    _run(widget, qtbot)
    scrib = widget.add_scribble_layer()
    assert scrib.data.shape == gt.shape and tuple(scrib.scale) == SCALE
    r0, c0, r1, c1 = boxes[0]
    # Background scribble over the middle row of the first box.
    mid = (r0 + r1) // 2
    scrib.data[mid - 1: mid + 2, c0:c1] = 2
    _run(widget, qtbot)
    assert widget.last_computed == 1
    out = widget.output.value.data
    assert not (out[mid - 1: mid + 2, c0:c1] == 1).any()


def test_existing_output_layer_gets_new_ids(scene, qtbot):
    viewer, widget, gt, ids, boxes = scene
    existing = np.zeros(gt.shape, np.int32)
    existing[:5, :5] = 7
    layer = viewer.add_labels(existing, name="manual", scale=SCALE, translate=TRANSLATE)
    widget.output.value = layer
    _run(widget, qtbot)
    assert set(np.unique(layer.data)) == {0, 7, 8, 9, 10}
    assert (layer.data[:5, :5] == 7).all()


def test_rotated_partial_and_empty_shapes(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    img = viewer.add_image(np.zeros((50, 60), np.uint16))
    diamond = np.array([[10, 20], [20, 30], [30, 20], [20, 10]], float)
    partial = np.array([[40, 50], [40, 70], [60, 70], [60, 50]], float)
    flat = np.array([[5.2, 5], [5.2, 15], [5.8, 15], [5.8, 5]], float)
    ellipse = np.array([[0, 0], [0, 8], [8, 8], [8, 0]], float)
    shapes = viewer.add_shapes([diamond, partial, flat], shape_type="rectangle")
    shapes.add_ellipses(ellipse)
    boxes, notices = shapes_to_boxes(shapes, img)
    assert boxes[0] == (0, (10, 10, 31, 31))
    assert boxes[1] == (1, (40, 50, 50, 60))
    assert boxes[2] == (2, None)
    assert boxes[3] == (3, (0, 0, 9, 9))
    text = " ".join(notices)
    assert "shape 1 is a rotated rectangle" in text and "shape 2 reaches outside" in text
    assert "shape 3 skipped" in text and "no area" in text and "shape 4 is an ellipse" in text


def test_rectangle_on_a_plane_of_a_stack(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 30) ** 2 + (xx - 32) ** 2 <= 100
    rng = np.random.default_rng(0)
    stack = rng.normal(100, 10, (4, 64, 64))
    stack[2][disk] += 300
    viewer.add_image(stack, name="stack")
    rect = np.array([[2, 16, 18], [2, 16, 47], [2, 45, 47], [2, 45, 18]], float)
    shapes = viewer.add_shapes([rect], shape_type="rectangle", ndim=3)
    widget = GrabCutWidget(viewer)
    widget.image.value, widget.shapes.value = viewer.layers["stack"], shapes
    _run(widget, qtbot)
    out = widget.output.value.data
    assert out.shape == stack.shape
    assert not out[[0, 1, 3]].any() and _iou(out[2] == 1, disk) > 0.9
    # A 2D Shapes layer over the stack applies to the plane on view.
    viewer.dims.set_point(0, 1)
    flat_shapes = viewer.add_shapes([rect[:, 1:]], shape_type="rectangle")
    boxes, _ = shapes_to_boxes(flat_shapes, viewer.layers["stack"], (1,))
    assert boxes == [(0, (1, 16, 18, 46, 48))]


def test_user_errors_are_notices(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.zeros((30, 30)), name="img")
    widget = GrabCutWidget(viewer)
    assert widget.run() is None and "rectangle" in widget.jobs.status
    widget.shapes.value = viewer.add_shapes([np.array([[2, 2], [2, 2.1], [2.1, 2.1], [2.1, 2]])],
                                            shape_type="rectangle")
    assert widget.run() is None and "no usable rectangle" in widget.jobs.status
    assert widget.run_button.enabled


def test_points_layers_are_hard_constraints(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    yy, xx = np.mgrid[:60, :80]
    left = (yy - 30) ** 2 + (xx - 28) ** 2 <= 100
    right = (yy - 30) ** 2 + (xx - 48) ** 2 <= 100
    rng = np.random.default_rng(0)
    img = np.where(left | right, 150.0, 50.0) + rng.normal(0, 8, left.shape)
    viewer.add_image(img, name="two", scale=(0.5, 0.5))
    # Shapes and points in world units (half the pixel size).
    rect = np.array([[14, 12], [14, 64], [46, 64], [46, 12]], float) * 0.5
    shapes = viewer.add_shapes([rect - 0.25], shape_type="rectangle")
    widget = GrabCutWidget(viewer)
    widget.image.value, widget.shapes.value = viewer.layers["two"], shapes
    _run(widget, qtbot)
    out = widget.output.value
    assert (out.data[left] == 1).mean() > 0.9 and (out.data[right] == 1).mean() > 0.9
    bg = viewer.add_points(np.array([[r, 48] for r in range(22, 39, 2)], float) * 0.5, name="bg")
    widget.bg_points.value = bg
    _run(widget, qtbot)
    assert widget.last_computed == 1
    assert _iou(out.data == 1, left) > 0.85 and not (out.data[22:39, 47:50] == 1).any()


def test_cancel_leaves_the_labels_untouched(scene, qtbot):
    viewer, widget, gt, ids, boxes = scene
    image, _ = load_sample("nuclei_test")
    sls = ndi.find_objects(gt)
    many = [_world_rect((s[0].start - 4, s[1].start - 4, s[0].stop + 4, s[1].stop + 4)) for s in sls[:60]]
    widget.shapes.value.data = many
    widget.shapes.value.shape_type = ["rectangle"] * len(many)
    worker = widget.run()
    widget.jobs.cancel()
    qtbot.waitUntil(lambda: widget.jobs.worker is None, timeout=30000)
    assert not worker.is_running
    assert widget.jobs.status == "cancelled"
    assert widget.output.value is None and len(viewer.layers) == 2
    assert widget.run_button.enabled


def test_rgb_layer(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 30) ** 2 + (xx - 34) ** 2 <= 144
    rng = np.random.default_rng(3)
    rgb = np.where(disk[..., None], [200, 60, 60], [60, 60, 200]) + rng.normal(0, 15, disk.shape + (3,))
    layer = viewer.add_image(np.clip(rgb, 0, 255).astype(np.uint8), name="rgb")
    assert layer.rgb
    shapes = viewer.add_shapes([np.array([[13.5, 17.5], [13.5, 50.5], [46.5, 50.5], [46.5, 17.5]])],
                               shape_type="rectangle")
    widget = GrabCutWidget(viewer)
    widget.image.value, widget.shapes.value = layer, shapes
    _run(widget, qtbot)
    out = widget.output.value.data
    assert out.shape == disk.shape and _iou(out == 1, disk) > 0.9


def test_rectangle_over_plain_background_makes_no_instance_and_says_so(scene, qtbot, monkeypatch):
    import napari.utils.notifications as nn

    shown = []
    monkeypatch.setattr(nn, "show_info", shown.append)
    viewer, widget, gt, ids, boxes = scene
    # Shape 2 of 4 lies over plain background (checked against the ground truth), the others on nuclei.
    empty_box = (150, 0, 180, 28)
    r0, c0, r1, c1 = empty_box
    assert not gt[max(r0 - 2, 0):r1 + 2, max(c0 - 2, 0):c1 + 2].any()
    widget.shapes.value.data = [_world_rect(boxes[0]), _world_rect(empty_box), *map(_world_rect, boxes[1:])]
    widget.shapes.value.shape_type = ["rectangle"] * 4
    _run(widget, qtbot)
    out = widget.output.value
    assert set(np.unique(out.data)) == {0, 1, 3, 4}  # id 2 (shape 2) is unused
    assert not out.data[r0:r1, c0:c1].any()
    for k, i in zip((1, 3, 4), ids):
        assert _iou(out.data == k, gt == i) > 0.75
    assert widget.jobs.status.endswith("1 empty")
    assert any(msg.startswith("shape(s) 2: nothing in the box stands out") for msg in shown), shown


def _run_into_layer_with_id(scene, wait_job, dtype, top):
    """Run the scene's three boxes into an output layer (named "ids") already holding ``top`` in a corner."""
    viewer, widget, gt, ids, boxes = scene
    existing = np.zeros(gt.shape, dtype)
    existing[:3, :3] = top
    widget.output.value = viewer.add_labels(existing, name="ids", scale=SCALE, translate=TRANSLATE)
    assert widget.run() is not None
    wait_job(widget.jobs, 30000)
    return existing, viewer.layers["ids"].data


def test_output_layer_with_ids_near_int32_max_widens_to_uint32(scene, wait_job, shown_errors):
    """Three new ids after 2**31 - 2 went past int32: an OverflowError notice, nothing painted, status "done"."""
    _, out = _run_into_layer_with_id(scene, wait_job, np.int32, 2**31 - 2)
    gt, ids = scene[2], scene[3]
    assert shown_errors == [] and out.dtype == np.uint32, (shown_errors, out.dtype)
    assert set(np.unique(out)) == {0, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1}
    for k, i in enumerate(ids, start=1):
        assert _iou(out == 2**31 - 2 + k, gt == i) > 0.75


def test_output_layer_whose_ids_cannot_grow_is_refused_unchanged(scene, wait_job, shown_errors):
    existing, out = _run_into_layer_with_id(scene, wait_job, np.uint32, 2**32 - 2)
    widget = scene[1]
    assert len(shown_errors) == 1, shown_errors
    assert "do not fit in 32 bits" in shown_errors[0] and "new Labels layer" in shown_errors[0]
    assert widget.jobs.status.startswith("failed:")  # not "done"
    assert np.array_equal(out, existing)
    assert widget.run_button.enabled


def test_output_layer_holding_a_dask_array_is_refused_before_running(scene, shown_errors):
    """Painting a dask-backed Labels layer raised an IndexError after the whole job had run."""
    import dask.array as da

    viewer, widget, gt, ids, boxes = scene
    widget.output.value = viewer.add_labels(da.zeros(gt.shape, dtype=np.int32, chunks=128), name="lazy",
                                            scale=SCALE, translate=TRANSLATE)
    assert widget.run() is None
    assert len(shown_errors) == 1, shown_errors
    assert "'lazy' holds a dask array that cannot be painted" in shown_errors[0], shown_errors
