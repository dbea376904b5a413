"""GrabCut widget (issue 20 item 8d, issue 17): legend, active layer, stable ids, notices once, points, clicks,
the model prior."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_segsuite._napari.grabcut_widget import GrabCutWidget
from napari_segsuite.core import load_sample, sample_path

SCALE, TRANSLATE = (2.0, 2.0), (10.0, 20.0)


def _world_rect(box):
    """Corners (world) of the rectangle whose pixel centres are exactly ``box`` (end exclusive)."""
    r0, c0, r1, c1 = box
    rows = [TRANSLATE[0] + SCALE[0] * (r - 0.5) for r in (r0, r1)]
    cols = [TRANSLATE[1] + SCALE[1] * (c - 0.5) for c in (c0, c1)]
    return np.array([[rows[0], cols[0]], [rows[0], cols[1]], [rows[1], cols[1]], [rows[1], cols[0]]])


def _gt_boxes(gt, ids):
    sls = ndi.find_objects(gt)
    return [(sls[i - 1][0].start - 4, sls[i - 1][1].start - 4, sls[i - 1][0].stop + 4, sls[i - 1][1].stop + 4)
            for i in ids]


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.fixture
def scene(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    ids = [3, 10, 25]
    viewer.add_image(image, name="nuclei", scale=SCALE, translate=TRANSLATE)
    shapes = viewer.add_shapes([_world_rect(b) for b in _gt_boxes(gt, ids)], shape_type="rectangle", name="boxes")
    widget = GrabCutWidget(viewer)
    widget.image.value, widget.shapes.value = viewer.layers["nuclei"], shapes
    return viewer, widget, gt, ids


def _run(widget, wait_job):
    assert widget.run() is not None, widget.jobs.status
    wait_job(widget.jobs, 60_000)


def test_legend_is_shown_and_the_shapes_layer_stays_active_after_run(scene, wait_job):
    viewer, widget, gt, ids = scene
    assert "1 = foreground" in widget.legend.value and "2 = background" in widget.legend.value
    assert widget.legend.native.isHidden() is False and widget.legend in list(widget)  # on the dock, not a tooltip
    _run(widget, wait_job)
    assert widget.output.value is not None  # a new Labels layer was added (napari makes it active) ...
    assert viewer.layers.selection.active.name == "boxes"  # ... but drawing goes on in the boxes


def test_deleting_a_rectangle_keeps_the_other_ids(scene, wait_job):
    viewer, widget, gt, ids = scene
    _run(widget, wait_job)
    out = widget.output.value
    assert set(np.unique(out.data)) == {0, 1, 2, 3}
    shapes = viewer.layers["boxes"]
    shapes.selected_data = {1}
    shapes.remove_selected()
    _run(widget, wait_job)
    assert set(np.unique(out.data)) == {0, 1, 3}  # id 3 stays 3: no renumbering
    assert _iou(out.data == 1, gt == ids[0]) > 0.75 and _iou(out.data == 3, gt == ids[2]) > 0.75
    assert widget.last_computed == 0  # the remaining boxes came from the cache
    # a new rectangle gets a new id, after the largest in use
    shapes.add_rectangles([_world_rect(_gt_boxes(gt, [40])[0])])
    _run(widget, wait_job)
    assert set(np.unique(out.data)) == {0, 1, 3, 4} and _iou(out.data == 4, gt == 40) > 0.75


def test_empty_box_notice_is_shown_once_per_new_empty_box(scene, wait_job, monkeypatch):
    import napari.utils.notifications as nn

    shown = []
    monkeypatch.setattr(nn, "show_info", lambda msg: shown.append(str(msg)))
    viewer, widget, gt, ids = scene
    shapes = viewer.layers["boxes"]
    shapes.add_rectangles([_world_rect((150, 0, 180, 28))])
    _run(widget, wait_job)
    _run(widget, wait_job)
    empty_notices = [m for m in shown if "nothing in the box stands out" in m]
    assert empty_notices == [empty_notices[0]] and empty_notices[0].startswith("shape(s) 4:")
    assert widget.jobs.status.endswith("1 empty")  # the status line still says so on each run
    second = _empty_box(gt, avoid=(150, 0, 180, 28))
    shapes.add_rectangles([_world_rect(second)])
    _run(widget, wait_job)
    empty_notices = [m for m in shown if "nothing in the box stands out" in m]
    assert len(empty_notices) == 2 and empty_notices[1].startswith("shape(s) 5:")


def _empty_box(gt, avoid, size=30):
    """A box over plain background (no nucleus within 2 px), away from ``avoid``."""
    for r in range(0, gt.shape[0] - size, 6):
        for c in range(0, gt.shape[1] - size, 6):
            if abs(r - avoid[0]) < size + 4 and abs(c - avoid[1]) < size + 4:
                continue
            if not gt[max(r - 2, 0):r + size + 2, max(c - 2, 0):c + size + 2].any():
                return (r, c, r + size, c + size)
    raise AssertionError("no empty box in the sample")


def _far_from_cells(gt):
    """The background pixel farthest from every nucleus."""
    return tuple(int(v) for v in np.unravel_index(np.argmax(ndi.distance_transform_edt(gt == 0)), gt.shape))


def _centres(gt, ids):
    return [tuple(np.round(ndi.center_of_mass(gt == i)).astype(int)) for i in ids]


def test_points_layer_one_instance_per_point_beside_rectangles(scene, wait_job):
    viewer, widget, gt, ids = scene
    more = [40, 7]
    pts = [np.asarray(TRANSLATE) + np.asarray(SCALE) * np.asarray(c) for c in _centres(gt, more)]
    pts.append(np.asarray(TRANSLATE) + np.asarray(SCALE) * np.asarray(_far_from_cells(gt)))  # background
    widget.points.value = viewer.add_points(np.array(pts), name="cells")
    _run(widget, wait_job)
    out = widget.output.value.data
    assert set(np.unique(out)) == {0, 1, 2, 3, 4, 5}  # boxes 1-3, points 4, 5; the background point: none
    assert _iou(out == 4, gt == 40) > 0.7 and _iou(out == 5, gt == 7) > 0.7
    assert "3 point(s)" in widget.jobs.status and widget.jobs.status.endswith("1 empty")


def test_click_mode_segments_the_cell_under_a_click_and_a_drag_pans(scene, wait_job):
    viewer, widget, gt, ids = scene
    viewer.layers["boxes"].data = []
    widget.click_mode.value = True
    assert widget._on_click in viewer.mouse_drag_callbacks and viewer.layers["boxes"].mode == "pan_zoom"
    (r, c), = _centres(gt, [40])
    world = tuple(np.asarray(TRANSLATE) + np.asarray(SCALE) * (r, c))

    def drive(positions):
        event = SimpleNamespace(type="mouse_press", button=1, modifiers=set(), position=positions[0])
        gen = widget._on_click(viewer, event)
        next(gen)
        for p in positions[1:]:
            event.type, event.position = "mouse_move", p
            next(gen)
        event.type = "mouse_release"
        with pytest.raises(StopIteration):
            next(gen)

    drive([world, (world[0] + 40, world[1] + 40)])  # a drag: nothing happens (napari pans)
    assert widget.points.value is None and widget.jobs.worker is None
    drive([world])
    wait_job(widget.jobs, 60_000)
    cells = widget.points.value
    assert cells is not None and len(cells.data) == 1
    assert _iou(widget.output.value.data == 1, gt == 40) > 0.7
    widget.click_mode.value = False
    assert widget._on_click not in viewer.mouse_drag_callbacks


def test_model_prior_from_a_checkpoint_is_used_in_the_worker(scene, wait_job, monkeypatch):
    from napari_segsuite.core.graphcut import prior as prior_module

    viewer, widget, gt, ids = scene
    calls = []
    real = prior_module.model_prior

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(prior_module, "model_prior", spy)
    assert not widget.prior_weight.enabled and "prior_weight" not in widget._params()
    widget.use_model.value = True
    assert widget.prior_weight.enabled and widget._params()["prior_weight"] == 2.0   # the core's default, shown
    assert widget.run() is None and "choose a model file" in widget.jobs.status
    widget.model.value = str(sample_path("unet_nuclei.pt"))
    _run(widget, wait_job)
    assert len(calls) == 1 and calls[0]["channel_axis"] is None
    out = widget.output.value.data
    for k, i in enumerate(ids, start=1):
        assert _iou(out == k, gt == i) > 0.75
    assert widget.last_computed == 3
    _run(widget, wait_job)
    assert widget.last_computed == 0  # the same prior: cached boxes
    # a stronger prior weight recomputes every box, and the cuts use it
    from napari_segsuite.core.graphcut import crop

    weights, prior_costs = [], crop.prior_costs
    monkeypatch.setattr(crop, "prior_costs", lambda prior, weight: weights.append(weight) or prior_costs(prior, weight))
    widget.prior_weight.value = 16.0
    _run(widget, wait_job)
    assert widget.last_computed == 3 and weights and set(weights) == {16.0}
    widget.use_model.value = False
    assert not widget.prior_weight.enabled and not widget.model.enabled



def test_whole_cells_with_a_nucleus_image_from_the_widget(make_napari_viewer_proxy, wait_job):
    """Cytoplasm and nucleus as two Image layers (napari's way with channels): the nucleus image reaches the core
    as the nucleus channel, the whole-cell smoothness shows in the widget, and the run paints what the core gives
    for the same box and settings: the whole cell, not the nucleus alone."""
    from napari_segsuite._napari.grabcut_widget import GrabCutWidget
    from napari_segsuite.core.graphcut import grabcut

    yy, xx = np.mgrid[:80, :80]
    cell = (yy - 40) ** 2 + (xx - 40) ** 2 < 22 ** 2
    nucleus = (yy - 40) ** 2 + (xx - 40) ** 2 < 7 ** 2
    rng = np.random.default_rng(0)
    cyto = (np.where(cell, 60.0, 30.0) + rng.normal(0, 8, cell.shape)).astype(np.float32)
    nuc = (np.where(nucleus, 200.0, 10.0) + rng.normal(0, 8, cell.shape)).astype(np.float32)
    viewer = make_napari_viewer_proxy()
    viewer.add_image(cyto, name="cytoplasm")
    viewer.add_image(nuc, name="nuclei")
    widget = GrabCutWidget(viewer)
    widget.image.value = viewer.layers["cytoplasm"]
    widget.shapes.value = viewer.add_shapes([np.array([[14, 14], [14, 66], [66, 66], [66, 14]])],
                                            shape_type="rectangle", name="boxes")
    widget.nucleus_image.value = viewer.layers["nuclei"]
    assert widget.gamma.value == 10.0                       # the whole-cell default smoothness, shown
    params = widget._params()
    expected = grabcut(np.stack([cyto, nuc], axis=-1), (14, 14, 66, 66), channel_axis=-1, nucleus_channel=1,
                       n_iter=params.pop("n_iter"), **params)
    widget.run()
    wait_job(widget.jobs, 60000)
    np.testing.assert_array_equal(np.asarray(widget.output.value.data) == 1, expected)
    assert (expected & cell).sum() / (expected | cell).sum() > 0.8
    widget.nucleus_image.value = None                      # "none"
    assert widget.nucleus_image.value is None and widget.gamma.value == 30.0
