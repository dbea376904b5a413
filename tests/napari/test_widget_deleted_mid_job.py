"""Closing the viewer deletes the docked widgets; a running job must then stop without touching them."""

import numpy as np

from napari_segsuite._napari.weightmap_widget import STACK_CHOICES, WeightMapWidget
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def test_job_stops_quietly_when_its_widget_is_deleted(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    _, lab = synthetic_nuclei((512, 512), n_nuclei=120, seed=0)
    layer = viewer.add_labels(np.stack([lab] * 40))  # 40 planes: long enough to delete the widget mid-job
    widget = WeightMapWidget(viewer)
    widget.labels_layer.value = layer
    widget.stack_mode.value = STACK_CHOICES[1]
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: "plane" in widget.jobs.status, timeout=30000)
    widget.native.deleteLater()  # what closing the viewer does to every dock widget
    qtbot.waitUntil(lambda: not worker.is_running, timeout=30000)
    qtbot.wait(200)  # let queued signals arrive: none may touch the deleted widgets (that aborted napari)
    assert [lay.name for lay in viewer.layers] == [layer.name]  # no half-finished result was added
