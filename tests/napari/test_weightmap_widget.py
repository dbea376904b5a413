"""The Weight map dock widget, through its thread worker."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite._napari.weightmap_widget import STACK_CHOICES, WeightMapWidget
from napari_segsuite.core.samples.synthetic import synthetic_nuclei
from napari_segsuite.core.weightmap import unet_weight_map


def _run(widget, qtbot):
    # A small job can finish before a waitSignal placed after run() connects, so wait on the widget's own
    # finished handler (connected before the worker starts), which clears jobs.running.
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=30_000)
    assert not worker.is_running
    return worker


def test_weight_map_layer_keeps_scale_and_translate(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    _, labels = synthetic_nuclei((128, 128), n_nuclei=25, seed=0)
    layer = viewer.add_labels(labels, name="cells", scale=(0.5, 0.5), translate=(10.0, -4.0))
    widget = WeightMapWidget(viewer)
    assert widget.labels_layer.value.name == layer.name
    widget.w0.value = 8.0
    widget.sigma.value = 4.0
    _run(widget, qtbot)
    out = viewer.layers["cells weight map"]
    np.testing.assert_array_equal(out.data, unet_weight_map(labels, w0=8.0, sigma=4.0))
    assert out.data.dtype == np.float32
    np.testing.assert_allclose(out.scale, (0.5, 0.5))
    np.testing.assert_allclose(out.translate, (10.0, -4.0))
    assert out.colormap.name == "inferno"
    assert out.contrast_limits == pytest.approx([float(out.data.min()), float(out.data.max())])
    assert widget.jobs.status == "done"

    # layer scale as spacing: sigma in layer units
    widget.use_scale.value = True
    widget.class_weights.value = "custom"
    widget.w_background.value = 0.5
    widget.w_foreground.value = 2.0
    assert not widget.w_background.native.isHidden()
    _run(widget, qtbot)
    expected = unet_weight_map(labels, w0=8.0, sigma=4.0, class_weights=(0.5, 2.0), spacing=(0.5, 0.5))
    np.testing.assert_array_equal(viewer.layers["cells weight map"].data, expected)
    assert len([lay for lay in viewer.layers if lay.name.startswith("cells weight map")]) == 1  # updated in place


def test_stack_plane_by_plane_and_as_volume(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    stack = np.stack([synthetic_nuclei((64, 64), n_nuclei=10, seed=s)[1] for s in range(3)])
    viewer.add_labels(stack, name="stack", scale=(3.0, 1.0, 1.0))
    widget = WeightMapWidget(viewer)
    assert not widget.stack_mode.native.isHidden()
    widget.class_weights.value = "none"
    widget.stack_mode.value = STACK_CHOICES[1]
    _run(widget, qtbot)
    got = viewer.layers["stack weight map"].data
    for z in range(3):
        np.testing.assert_array_equal(got[z], unet_weight_map(stack[z], class_weights=None))
    np.testing.assert_allclose(viewer.layers["stack weight map"].scale, (3.0, 1.0, 1.0))
    widget.stack_mode.value = STACK_CHOICES[0]
    widget.use_scale.value = True
    _run(widget, qtbot)
    np.testing.assert_array_equal(viewer.layers["stack weight map"].data,
                                  unet_weight_map(stack, class_weights=None, spacing=(3.0, 1.0, 1.0)))


def test_bad_input_is_reported_and_widget_stays_usable(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    widget = WeightMapWidget(viewer)
    assert widget.run() is None  # no layer yet
    assert "Labels layer" in widget.jobs.status
    viewer.add_labels(np.zeros((2, 2, 16, 16), np.int32), name="4d")
    assert widget.run() is None
    assert "expected 2D or 3D" in widget.jobs.status
    _, labels = synthetic_nuclei((64, 64), n_nuclei=8, seed=1)
    viewer.add_labels(labels, name="ok")
    widget.labels_layer.value = viewer.layers["ok"]
    _run(widget, qtbot)
    assert "ok weight map" in [lay.name for lay in viewer.layers]


def test_cancel_adds_no_layer(make_napari_viewer_proxy, wait_job):
    viewer = make_napari_viewer_proxy()
    _, labels = synthetic_nuclei((512, 512), n_nuclei=150, seed=2)
    viewer.add_labels(labels, name="big")
    widget = WeightMapWidget(viewer)
    widget.sigma.value = 40.0  # large crops: slow enough to cancel
    assert widget.run() is not None
    widget.jobs.cancel()
    wait_job(widget.jobs, 60_000)
    assert widget.jobs.status == "cancelled"
    assert "big weight map" not in [lay.name for lay in viewer.layers]
    assert widget.run_button.enabled


def test_source_layer_removed_while_running(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    _, labels = synthetic_nuclei((256, 256), n_nuclei=60, seed=3)
    viewer.add_labels(labels, name="gone")
    widget = WeightMapWidget(viewer)
    widget.sigma.value = 30.0
    worker = widget.run()
    viewer.layers.remove("gone")
    qtbot.waitUntil(lambda: not widget.jobs.running, timeout=60_000)
    assert not worker.is_running
    assert len(viewer.layers) == 0  # nothing added for a layer that no longer exists
    assert widget.run() is None and "Labels layer" in widget.jobs.status
