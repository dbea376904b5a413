"""Superpixels widget: threaded computation, live re-merge, clicks, strokes, removal, merge, undo."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from napari_segsuite.core import build_graph, slic_superpixels, synthetic_histology, synthetic_nuclei
from napari_segsuite._napari.superpixels_widget import SuperpixelsWidget


@pytest.fixture
def nuclei():
    return synthetic_nuclei((96, 96), n_nuclei=8, seed=1)


@pytest.fixture
def ready(make_napari_viewer_proxy, qtbot, nuclei):
    """A widget with superpixels computed (through the worker) on a scaled, translated image."""
    viewer = make_napari_viewer_proxy()
    image, _ = nuclei
    layer = viewer.add_image(image, name="nuclei", scale=(2.0, 2.0), translate=(10.0, -4.0))
    widget = SuperpixelsWidget(viewer)
    widget.image.value = layer
    widget.n_segments.value = 80
    worker = widget.compute()
    assert worker is not None
    # (waitUntil on the widget state: a tiny job can emit finished before waitSignal connects)
    qtbot.waitUntil(lambda: widget.graph is not None and not widget.jobs.running, timeout=60_000)
    widget.assist.value = True  # paint mode (off by default since issue 20 item 4: a plain drag pans)
    return viewer, widget, layer


def _drive(widget, layer, points_data, modifiers=()):
    """Replay a press / moves / release through the layer's mouse callback (points in data pixels)."""
    event = SimpleNamespace(type="mouse_press", modifiers=set(modifiers), dims_displayed=[0, 1],
                            position=tuple(layer.data_to_world(points_data[0])))
    gen = widget._on_mouse(layer, event)
    next(gen)
    for p in points_data[1:]:
        event.type = "mouse_move"
        event.position = tuple(layer.data_to_world(p))
        next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)


def test_compute_in_worker_adds_contour_layer_with_image_geometry(ready, nuclei):
    viewer, widget, layer = ready
    sp_layer = widget.superpixel_layer
    assert sp_layer in viewer.layers and sp_layer.contour == 1
    assert sp_layer.data.shape == nuclei[0].shape
    assert np.allclose(sp_layer.scale, (2.0, 2.0)) and np.allclose(sp_layer.translate, (10.0, -4.0))
    # threshold 0 shows the superpixels themselves, numbered from 1
    assert np.array_equal(np.unique(sp_layer.data), np.arange(1, widget.graph.n_regions + 1))
    target = widget.target.value
    assert target is not None and target.data.shape == nuclei[0].shape and not target.data.any()
    assert np.allclose(target.scale, (2.0, 2.0))
    assert sp_layer.mouse_pan is False  # assist on: drags are strokes


def test_threshold_slider_remerges_live_with_debounce(ready, qtbot):
    viewer, widget, layer = ready
    n0 = int(widget.superpixel_layer.data.max())
    lo, hi = widget.threshold.min, widget.threshold.max
    t = lo + 0.2 * (hi - lo)
    widget.threshold.value = t
    qtbot.waitUntil(lambda: int(widget.superpixel_layer.data.max()) < n0, timeout=5000)
    assert np.array_equal(widget.superpixel_layer.data, widget.graph.merge(widget.threshold.value, "hierarchical"))
    widget.mode.value = "threshold"  # mode change re-merges at once
    assert np.array_equal(widget.superpixel_layer.data, widget.graph.merge(widget.threshold.value, "threshold"))


def test_ncut_remerge_runs_in_worker(ready, qtbot):
    viewer, widget, layer = ready
    with widget.threshold.changed.blocked():
        widget.threshold.value = 0.0
    widget.mode.value = "ncut"  # re-merges at once, in the worker
    assert widget.jobs.worker is not None
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=30_000)
    assert widget.threshold.max == 2.0
    with widget.threshold.changed.blocked():  # no debounced re-merge racing this one
        widget.threshold.value = 0.5
    expected = widget.graph.merge(0.5, "ncut")
    assert expected.max() > 1
    assert widget.remerge() is not None
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=30_000)
    assert np.array_equal(widget.superpixel_layer.data, expected)


def test_big_image_remerge_runs_in_worker(ready, qtbot, monkeypatch, wait_job):
    from napari_segsuite._napari import superpixels_widget as module

    viewer, widget, layer = ready
    monkeypatch.setattr(module, "_MAIN_THREAD_MERGE_PIXELS", widget.superpixel_layer.data.size - 1)
    with widget.threshold.changed.blocked():  # no debounced re-merge racing this one
        widget.threshold.value = widget.threshold.min + 0.2 * (widget.threshold.max - widget.threshold.min)
    expected = widget.graph.merge(widget.threshold.value, "hierarchical")
    worker = widget.remerge()
    assert worker is not None  # a big image: not on the GUI thread
    wait_job(widget.jobs, 30_000)
    qtbot.waitUntil(lambda: np.array_equal(widget.superpixel_layer.data, expected), timeout=5000)
    assert np.array_equal(widget.merged, expected) and expected.max() < widget.graph.n_regions


def test_click_adds_merged_region_with_current_label(ready):
    viewer, widget, layer = ready
    widget.threshold.value = widget.threshold.min + 0.15 * (widget.threshold.max - widget.threshold.min)
    widget.remerge()
    merged = widget.merged
    widget.label_id.value = 3
    n = widget.click_region((40.2, 50.7))
    region = merged[40, 51]
    target = widget.target.value.data
    assert n == int((merged == region).sum())
    assert np.array_equal(target == 3, merged == region)
    # a click through the mouse callback (world coordinates with scale/translate) on another region
    other = np.argwhere(merged != region)[0]
    widget.label_id.value = 4
    _drive(widget, widget.superpixel_layer, [other.astype(float)])
    assert np.array_equal(target == 4, merged == merged[tuple(other)])
    assert np.array_equal(target == 3, merged == region)


def test_modifier_click_removes_and_undo_restores(ready):
    viewer, widget, layer = ready
    merged = widget.merged
    widget.label_id.value = 2
    widget.click_region((10, 10))
    before = widget.target.value.data.copy()
    _drive(widget, widget.superpixel_layer, [np.array([10.0, 10.0])], modifiers=("Shift",))
    assert not widget.target.value.data.any()
    assert widget.undo()
    assert np.array_equal(widget.target.value.data, before)
    assert widget.undo()
    assert not widget.target.value.data.any()
    assert not widget.undo()  # nothing left
    assert merged is widget.merged


def test_stroke_adds_every_touched_superpixel(ready):
    viewer, widget, layer = ready
    sp = widget.graph.superpixels
    widget.label_id.value = 5
    path = [np.array([5.0, 5.0]), np.array([5.0, 60.0]), np.array([70.0, 60.0])]
    _drive(widget, widget.superpixel_layer, path)
    rows = np.r_[np.full(56, 5), np.arange(5, 71)]
    cols = np.r_[np.arange(5, 61), np.full(66, 60)]
    touched = np.unique(sp[rows, cols])
    assert np.array_equal(widget.target.value.data == 5, np.isin(sp, touched))


def test_merge_two_labels_and_undo(ready):
    viewer, widget, layer = ready
    widget.label_id.value = 1
    widget.click_region((10, 10))
    widget.label_id.value = 2
    widget.click_region((80, 80))
    data = widget.target.value.data
    ones, twos = data == 1, data == 2
    assert ones.any() and twos.any()
    assert widget.merge_labels(1, 2) == int(ones.sum())
    assert np.array_equal(data == 2, ones | twos) and not (data == 1).any()
    widget.undo()
    assert np.array_equal(data == 1, ones) and np.array_equal(data == 2, twos)
    assert widget.merge_labels(7, 2) == 0 and "not in" in widget.status.value


def test_clicks_outside_or_on_background_change_nothing(make_napari_viewer_proxy, nuclei):
    viewer = make_napari_viewer_proxy()
    image, gt = nuclei
    layer = viewer.add_image(image)
    widget = SuperpixelsWidget(viewer)
    mask = gt > 0
    sp = slic_superpixels(image, n_segments=40, mask=mask)
    widget.show_graph(build_graph(image, sp), layer, 2)
    assert widget.click_region((-1, 5)) == 0 and "outside" in widget.status.value
    assert widget.click_region((5, 500)) == 0 and "outside" in widget.status.value
    background = tuple(np.argwhere(~mask)[0])
    assert widget.click_region(background) == 0 and "no superpixel" in widget.status.value
    assert widget.stroke([(-20, -20), (-5, -30)]) == 0
    assert not widget.target.value.data.any()
    inside = tuple(np.argwhere(mask)[0])
    assert widget.click_region(inside) > 0


def test_target_of_another_shape_is_refused(ready):
    viewer, widget, layer = ready
    wrong = viewer.add_labels(np.zeros((50, 50), np.int32), name="wrong")
    widget.target.value = wrong
    assert widget.click_region((10, 10)) == 0
    assert "shape" in widget.status.value
    assert not wrong.data.any()


def test_rgb_image_and_bad_image_choice(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    rgb, _ = synthetic_histology((64, 64), seed=0)
    widget = SuperpixelsWidget(viewer)  # no image yet: a clear message, no job
    assert widget.image.value is None
    assert widget.compute() is None and "Image layer" in widget.status.value
    layer = viewer.add_image(rgb, rgb=True)
    assert widget.image.value == layer  # the only image is chosen for the user
    widget.n_segments.value = 30
    assert widget.compute() is not None
    qtbot.waitUntil(lambda: widget.graph is not None and not widget.jobs.running, timeout=60_000)
    assert widget.superpixel_layer.data.shape == (64, 64)
    assert widget.graph.sums.shape[1] == 3


def test_3d_stack_click_adds_the_3d_region(make_napari_viewer_proxy, qtbot):
    from napari_segsuite.core import synthetic_nuclei_3d

    viewer = make_napari_viewer_proxy()
    vol, _ = synthetic_nuclei_3d((12, 48, 48), n_nuclei=3, seed=0)
    layer = viewer.add_image(vol, scale=(3.0, 1.0, 1.0))
    widget = SuperpixelsWidget(viewer)
    widget.image.value = layer
    widget.n_segments.value = 40
    assert widget.compute() is not None
    qtbot.waitUntil(lambda: widget.graph is not None and not widget.jobs.running, timeout=60_000)
    assert widget.superpixel_layer.data.shape == vol.shape
    assert np.allclose(widget.superpixel_layer.scale, (3.0, 1.0, 1.0))
    sp = widget.graph.superpixels
    assert widget.click_region((4, 20, 20)) == int((sp == sp[4, 20, 20]).sum())
    assert np.array_equal(widget.target.value.data == 1, sp == sp[4, 20, 20])
    # a drag in the displayed plane only touches superpixels of that plane
    widget.assist.value = True  # paint mode (off by default since issue 20 item 4: a plain drag pans)
    widget.label_id.value = 2
    event = SimpleNamespace(type="mouse_press", modifiers=set(), dims_displayed=[1, 2],
                            position=tuple(widget.superpixel_layer.data_to_world((2, 2, 2))))
    gen = widget._on_mouse(widget.superpixel_layer, event)
    next(gen)
    event.type = "mouse_move"
    event.position = tuple(widget.superpixel_layer.data_to_world((2.4, 2, 30)))  # z jitter is ignored
    next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)
    touched = np.unique(sp[2, 2, 2:31])
    assert np.array_equal(widget.target.value.data == 2, np.isin(sp, touched))  # overwrites label 1 there


def _compute(widget, qtbot):
    worker = widget.compute()
    assert worker is not None, widget.status.value
    qtbot.waitUntil(lambda: widget.graph is not None and not widget.jobs.running, timeout=60_000)


def test_mask_layer_limits_superpixels_to_its_nonzero_pixels(make_napari_viewer_proxy, qtbot, nuclei, shown_errors):
    viewer = make_napari_viewer_proxy()
    image, cells = nuclei  # the mask: the nuclei's instance labels (several values; nonzero = inside)
    inside = cells != 0
    assert 0.05 < inside.mean() < 0.6
    layer = viewer.add_image(image, name="nuclei", scale=(2.0, 2.0))
    mask_layer = viewer.add_labels(cells, name="cells")
    widget = SuperpixelsWidget(viewer)
    assert widget.mask.value is None  # optional: no mask unless chosen
    widget.image.value, widget.mask.value, widget.n_segments.value = layer, mask_layer, 40
    _compute(widget, qtbot)
    sp = widget.graph.superpixels
    assert (sp[~inside] == 0).all() and (sp[inside] > 0).all()
    shown = np.asarray(widget.superpixel_layer.data)
    assert (shown[~inside] == 0).all() and (shown[inside] > 0).all()
    assert widget.mask.value == mask_layer  # the layers added since (superpixels, target) kept the choice
    assert "superpixels" not in [c.name for c in widget.mask.choices + widget.target.choices if c is not None]
    assert widget.click_region((0, 0)) == 0 or inside[0, 0]
    assert not shown_errors


def test_wrong_or_empty_mask_is_refused_and_the_widget_stays_usable(make_napari_viewer_proxy, qtbot, nuclei,
                                                                    shown_errors):
    viewer = make_napari_viewer_proxy()
    image, _ = nuclei
    layer = viewer.add_image(image, name="nuclei")
    small = viewer.add_labels(np.ones((50, 96), np.int32), name="small")
    empty = viewer.add_labels(np.zeros(image.shape, np.int32), name="empty")
    widget = SuperpixelsWidget(viewer)
    widget.image.value, widget.n_segments.value = layer, 40
    widget.mask.value = small
    assert widget.compute() is None and not widget.jobs.running
    assert shown_errors == ["mask 'small' has shape (50, 96) but image 'nuclei' has the spatial shape (96, 96); "
                            "choose a mask of the image's shape, or no mask."]
    widget.mask.value = empty
    assert widget.compute() is None
    assert "mask 'empty' is empty" in shown_errors[-1] and widget.status.value == shown_errors[-1]
    assert widget.compute_button.enabled and widget.graph is None
    widget.mask.value = None  # back to no mask: the whole image is cut
    _compute(widget, qtbot)
    assert (widget.graph.superpixels > 0).all() and len(shown_errors) == 2


def test_label_id_too_big_for_the_target_dtype_is_refused(ready, shown_errors):
    """A uint8 target and label id 300: an OverflowError escaped from the mouse callback into Qt."""
    viewer, widget, layer = ready
    target = viewer.add_labels(np.zeros(widget.merged.shape, np.uint8), name="small ids")
    widget.target.value = target
    widget.label_id.value = 300
    _drive(widget, widget.superpixel_layer, [np.array([48.0, 48.0])])  # a click, through the real callback
    assert not target.data.any()
    assert len(shown_errors) == 1 and "label id 300 does not fit" in shown_errors[0] and "uint8" in shown_errors[0]
    widget.label_id.value = 255
    assert widget.click_region(np.array([48.0, 48.0])) > 0 and target.data.max() == 255


def test_next_free_id_on_a_target_of_negative_ids(ready, shown_errors):
    """napari allows negative ids; "Next free id" raised (value -2 outside the spin box) into Qt."""
    viewer, widget, layer = ready
    widget.target.value = viewer.add_labels(np.full(widget.merged.shape, -3, np.int32), name="negative")
    widget.label_id.value = 7
    widget.next_id_button.changed.emit(True)
    assert widget.label_id.value == 1 and shown_errors == []


def test_target_holding_a_dask_array_is_refused(ready, shown_errors):
    """Clicks on a dask-backed target changed a temporary copy and reported pixels written."""
    import dask.array as da

    viewer, widget, layer = ready
    widget.target.value = viewer.add_labels(da.zeros(widget.merged.shape, dtype=np.int32, chunks=48), name="lazy")
    assert widget.click_region(np.array([48.0, 48.0])) == 0
    assert len(shown_errors) == 1 and "'lazy' holds a dask array that cannot be painted" in shown_errors[0]


def test_non_contiguous_target_is_painted_and_undone_in_place(ready):
    """A Fortran-ordered target: ``reshape(-1)`` is a copy there, so clicks changed nothing (but said they did)."""
    viewer, widget, layer = ready
    target = viewer.add_labels(np.asfortranarray(np.zeros(widget.merged.shape, np.int32)), name="fortran")
    widget.target.value = target
    region = widget.merged == widget.merged[48, 48]
    assert widget.click_region(np.array([48.0, 48.0])) == region.sum()
    assert np.array_equal(target.data == 1, region)
    assert widget.undo() and not target.data.any()


def test_failed_compute_replaces_the_result_line(make_napari_viewer_proxy, qtbot, wait_job, nuclei, monkeypatch):
    import napari.utils.notifications as nn

    monkeypatch.setattr(nn, "show_error", lambda msg: None)
    viewer = make_napari_viewer_proxy()
    widget = SuperpixelsWidget(viewer)
    assert widget.target.native.currentText() == "new layer at Compute"  # what an empty target means
    viewer.add_image(nuclei[0], name="good")
    widget.n_segments.value = 50
    assert widget.compute() is not None
    wait_job(widget.jobs)
    assert widget.status.value.endswith("regions")
    viewer.add_image(np.zeros((40, 40), bool), name="mask image")  # core refuses it, in the worker
    widget.image.value = viewer.layers["mask image"]
    assert widget.compute() is not None
    wait_job(widget.jobs)
    assert widget.jobs.status.startswith("failed")
    assert widget.status.value.startswith("no superpixels: ") and "regions" not in widget.status.value


def test_paint_mode_is_off_by_default_so_a_drag_pans(make_napari_viewer_proxy, qtbot, nuclei):
    """Issue 20 item 4: with assist on by default, a pan drag painted 7 superpixels and the camera stayed."""
    viewer = make_napari_viewer_proxy()
    layer = viewer.add_image(nuclei[0], name="nuclei")
    widget = SuperpixelsWidget(viewer)
    widget.image.value, widget.n_segments.value = layer, 80
    _compute(widget, qtbot)
    sp_layer = widget.superpixel_layer
    assert widget.assist.value is False and sp_layer.mouse_pan is True  # napari pans on a drag
    event = SimpleNamespace(type="mouse_press", modifiers=set(), dims_displayed=[0, 1],
                            position=tuple(sp_layer.data_to_world((5.0, 5.0))))
    with pytest.raises(StopIteration):  # the widget's callback lets the drag go at once
        next(widget._on_mouse(sp_layer, event))
    assert not widget.target.value.data.any()
    widget.assist.value = True  # the widget's paint mode: drags paint, the superpixel layer gets the mouse
    assert sp_layer.mouse_pan is False and viewer.layers.selection.active.name == "superpixels"
    _drive(widget, sp_layer, [np.array([5.0, 5.0]), np.array([5.0, 60.0])])
    assert widget.target.value.data.any()
    widget.assist.value = False
    assert sp_layer.mouse_pan is True


def test_napari_undo_reverts_a_widget_click(ready):
    viewer, widget, layer = ready
    target = widget.target.value
    widget.label_id.value = 3
    widget.click_region((10, 10))
    widget.label_id.value = 4
    widget.click_region((80, 80))
    assert (target.data == 4).any()
    target.undo()  # napari's own undo (Ctrl+Z on the layer)
    assert not (target.data == 4).any() and (target.data == 3).any()
    target.undo()
    assert not target.data.any()
    target.redo()
    assert np.array_equal(target.data == 3, widget.merged == widget.merged[10, 10])


def test_stroke_adds_the_merged_regions_shown(ready):
    viewer, widget, layer = ready
    with widget.threshold.changed.blocked():
        widget.threshold.value = widget.threshold.min + 0.3 * (widget.threshold.max - widget.threshold.min)
    widget.remerge()
    merged, sp = widget.merged, widget.graph.superpixels
    # a region made of several superpixels, and a short stroke inside one of its superpixels
    sizes = {int(r): np.unique(sp[merged == r]).size for r in np.unique(merged)}
    region = max(sizes, key=sizes.get)
    assert sizes[region] > 1
    inside = np.argwhere(merged == region)
    p = inside[len(inside) // 2].astype(float)
    widget.label_id.value = 6
    _drive(widget, widget.superpixel_layer, [p, p + (0, 0.4), p + (0, 3)] if (merged[tuple((p + (0, 3)).astype(int))]
                                                                            == region) else [p, p + (0, 0.4)])
    written = widget.target.value.data == 6
    touched = np.unique(merged[written])
    assert region in touched
    assert np.array_equal(written, np.isin(merged, touched))  # whole merged regions, not raw superpixels


def test_cluster_kmeans_merge_mode_gives_connected_parts_of_the_mean_colour_classes(ready, qtbot, wait_job, nuclei):
    """Issue 19: a merge mode clustering the superpixels' mean colours (K classes), one region per connected part."""
    from scipy import ndimage as ndi

    from napari_segsuite.core.cluster import cluster_superpixel_means

    viewer, widget, layer = ready
    sp = widget.graph.superpixels
    widget.k.value = 2
    widget.mode.value = "cluster (k-means)"  # re-merges at once, in the worker
    assert widget.k.enabled and not widget.threshold.enabled
    wait_job(widget.jobs, 60_000)
    classes = cluster_superpixel_means(nuclei[0], sp, n_clusters=2)
    merged = widget.superpixel_layer.data
    # every region lies in one class and is one connected piece; each connected piece of a class is a region
    n_expected = sum(ndi.label(classes == c)[1] for c in (1, 2))
    assert int(merged.max()) == n_expected == np.unique(merged).size
    for r in np.unique(merged):
        assert np.unique(classes[merged == r]).size == 1
    # the bright class covers the nuclei: most nucleus pixels are in class 2
    assert (classes[nuclei[1] > 0] == 2).mean() > 0.6 > (classes[nuclei[1] == 0] == 2).mean()
    widget.k.value = 3
    wait_job(widget.jobs, 60_000)
    assert np.array_equal(widget.merged, widget.superpixel_layer.data) and widget.merged is not merged
