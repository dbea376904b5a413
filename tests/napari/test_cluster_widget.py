"""The Pixel clustering dock widget: preview, worker run, mask, stacks, instances, errors, Cancel."""

from __future__ import annotations

import numpy as np

from napari_segsuite._napari.cluster_widget import ClusterWidget
from napari_segsuite.core.cluster import cluster_instances, cluster_pixels


def three_regions(shape=(120, 180), seed=0):
    truth = np.ones(shape, dtype=np.int32)
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    truth[(rr - 60) ** 2 + (cc - 45) ** 2 < 30 ** 2] = 3
    truth[20:100, 110:160] = 2
    truth[5:15, 5:15] = 3  # a second bright blob: cluster 3 has two instances
    image = np.array([0.0, 30.0, 110.0, 200.0])[truth] + np.random.default_rng(seed).normal(0, 4, shape)
    return image.astype(np.float32), truth


def test_run_adds_cluster_labels_with_layer_geometry_and_splits_instances(make_napari_viewer_proxy, wait_job):
    viewer = make_napari_viewer_proxy()
    image, truth = three_regions()
    viewer.add_image(image, name="cells", scale=(0.5, 2.0), translate=(3.0, -1.0))
    widget = ClusterWidget(viewer)
    assert widget.image.value.name == "cells"
    assert widget.run() is not None
    wait_job(widget.jobs)
    out = viewer.layers["cells clusters"]
    np.testing.assert_array_equal(out.data, truth)
    np.testing.assert_allclose(out.scale, (0.5, 2.0))
    np.testing.assert_allclose(out.translate, (3.0, -1.0))
    assert widget.info.value.startswith("3 cluster(s)") and widget.jobs.status == "done"

    widget.cluster_id.value = 3
    inst = widget.to_instances()
    np.testing.assert_array_equal(inst.data, cluster_instances(truth, 3))
    assert inst.data.max() == 2 and inst.name == "cells clusters 3 instances"
    np.testing.assert_allclose(inst.scale, (0.5, 2.0))

    # mean shift, run again: the same layer is updated
    widget.method.value = "meanshift"
    assert not widget.bandwidth.native.isHidden() and widget.n_clusters.native.isHidden()
    widget.bandwidth.value = 40.0
    widget.run()
    wait_job(widget.jobs)
    np.testing.assert_array_equal(viewer.layers["cells clusters"].data, truth)
    assert "bandwidth 40" in widget.info.value
    assert len([lay for lay in viewer.layers if lay.name.startswith("cells clusters")]) == 2  # + instances


def test_preview_is_downsampled_and_dropped_by_the_full_result(make_napari_viewer_proxy, wait_job):
    viewer = make_napari_viewer_proxy()
    image, truth = three_regions((600, 400))
    viewer.add_image(image, name="big", scale=(1.5, 1.5))
    widget = ClusterWidget(viewer)
    widget.spatial_weight.value = 0.0
    labels = widget.update_preview()
    step = 3  # ceil(600 / 256)
    np.testing.assert_array_equal(labels, cluster_pixels(image[::step, ::step], n_clusters=3))
    layer = viewer.layers["big clusters (preview)"]
    np.testing.assert_allclose(layer.scale, (4.5, 4.5))
    np.testing.assert_array_equal(layer.data, truth[::step, ::step])
    widget.n_clusters.value = 2
    widget.update_preview()
    assert viewer.layers["big clusters (preview)"].data.max() == 2  # updated in place
    widget.run()
    wait_job(widget.jobs)
    names = [lay.name for lay in viewer.layers]
    assert "big clusters (preview)" not in names and "big clusters" in names
    widget.preview.value = False
    assert widget.update_preview() is None and "big clusters (preview)" not in [lay.name for lay in viewer.layers]


def test_colour_image_mask_and_stack(make_napari_viewer_proxy, wait_job):
    viewer = make_napari_viewer_proxy()
    _, truth = three_regions()
    colours = np.array([[0, 0, 0], [100, 10, 10], [10, 220, 10], [220, 220, 220]], dtype=np.uint8)
    viewer.add_image(colours[truth], name="rgb", rgb=True)
    mask = np.zeros(truth.shape, np.uint8)
    mask[:, :90] = 1
    viewer.add_labels(mask, name="roi")
    widget = ClusterWidget(viewer)
    widget.image.value = viewer.layers["rgb"]
    widget.mask.value = viewer.layers["roi"]
    widget.run()
    wait_job(widget.jobs)
    got = viewer.layers["rgb clusters"].data
    np.testing.assert_array_equal(got, cluster_pixels(colours[truth], channel_axis=-1, mask=mask > 0))
    assert (got[:, 90:] == 0).all() and got[:, :90].min() == 1

    stack = np.stack([three_regions(seed=s)[0] for s in range(3)])
    viewer.add_image(stack, name="stack")
    widget.image.value = viewer.layers["stack"]
    widget.mask.value = None
    viewer.dims.set_point(0, 2)
    labels = widget.update_preview()  # the shown plane only, placed on that plane
    prev = viewer.layers["stack clusters (preview)"]
    assert prev.data.shape == (1, 120, 180)
    np.testing.assert_allclose(prev.translate[0], 2.0)
    np.testing.assert_array_equal(labels, three_regions()[1])
    widget.run()
    wait_job(widget.jobs)
    assert viewer.layers["stack clusters"].data.shape == stack.shape


def test_bad_input_is_reported_and_widget_stays_usable(make_napari_viewer_proxy, wait_job, shown_errors):
    viewer = make_napari_viewer_proxy()
    widget = ClusterWidget(viewer)
    assert widget.run() is None and "Image layer" in widget.jobs.status
    assert widget.to_instances() is None and "run 'Cluster' first" in widget.jobs.status
    image, truth = three_regions()
    viewer.add_image(image, name="img")
    viewer.add_labels(np.ones((10, 10), np.uint8), name="small mask")
    widget.mask.value = viewer.layers["small mask"]
    assert widget.run() is None and "has shape (10, 10)" in widget.jobs.status
    assert widget.update_preview() is None and widget.jobs.status.startswith("preview: mask")
    viewer.add_labels(np.zeros(truth.shape, np.uint8), name="empty")
    widget.mask.value = viewer.layers["empty"]
    assert widget.run() is not None  # the core refuses the empty mask in the worker
    wait_job(widget.jobs)
    assert "mask is empty" in widget.jobs.status and any("mask is empty" in m for m in shown_errors)
    widget.mask.value = None
    widget.run()
    wait_job(widget.jobs)
    widget.cluster_id.value = 3
    widget.cluster_id.max = 9
    widget.cluster_id.value = 9
    assert widget.to_instances() is None and "no pixel belongs to cluster 9" in widget.jobs.status


def test_cancel_adds_no_layer(make_napari_viewer_proxy, wait_job):
    viewer = make_napari_viewer_proxy()
    big = np.random.default_rng(0).normal(100, 10, (1500, 1500)).astype(np.float32)
    viewer.add_image(big, name="noise")
    widget = ClusterWidget(viewer)
    widget.method.value = "gmm"
    widget.n_clusters.value = 8
    assert widget.run() is not None
    widget.jobs.cancel()
    wait_job(widget.jobs)
    assert widget.jobs.status == "cancelled"
    assert "noise clusters" not in [lay.name for lay in viewer.layers] and widget.run_button.enabled
