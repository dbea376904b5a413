"""Careless *data* fed to the image widgets: layers whose array napari reads differently than the user means."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segsuite.core import load_sample


def _unet(widget):
    assert widget.load_sample_model()
    widget.predict_image.value = widget._viewer.layers["colour"]
    return widget.predict()


def _maskrcnn(widget):
    assert widget.load_sample_model()
    widget.image.value = widget._viewer.layers["colour"]
    return widget.predict()


def _grabcut(widget, box=(40, 40, 70, 70)):
    r0, c0, r1, c1 = box
    widget.image.value = widget._viewer.layers["colour"]
    widget.shapes.value = widget._viewer.add_shapes([[[r0, c0], [r0, c1], [r1, c1], [r1, c0]]],
                                                    shape_type="rectangle", name="boxes")
    return widget.run()


def _superpixels(widget):
    widget.image.value = widget._viewer.layers["colour"]
    return widget.compute()


@pytest.mark.parametrize("module, cls, start", [
    ("unet_widget", "UNetWidget", _unet), ("maskrcnn_widget", "MaskRCNNWidget", _maskrcnn),
    ("grabcut_widget", "GrabCutWidget", _grabcut), ("superpixels_widget", "SuperpixelsWidget", _superpixels)])
def test_yx3_image_not_flagged_rgb_is_refused_not_read_as_planes(module, cls, start, make_napari_viewer_proxy,
                                                                 shown_errors):
    """A (Y, X, 3) array added with rgb=False is shown by napari as Y planes of X x 3 pixels: the U-Net
    segmented 128 planes of 128 x 3 pixels, Mask R-CNN returned a 2D layer over the 3D one, GrabCut said
    every box was outside "cols 0..3". Each widget now says what the layer is and how to add it."""
    import importlib

    viewer = make_napari_viewer_proxy()
    image, _ = load_sample("nuclei_test")
    viewer.add_image(np.stack([image[:128, :128]] * 3, -1), name="colour", rgb=False)
    widget = getattr(importlib.import_module(f"napari_segsuite._napari.{module}"), cls)(viewer)
    n_layers = len(viewer.layers)
    assert start(widget) is None
    assert len(shown_errors) == 1, shown_errors
    assert "looks like colour channels" in shown_errors[0] and "rgb=True" in shown_errors[0]
    assert "(128, 128, 3)" in shown_errors[0]
    assert len(viewer.layers) == n_layers + (module == "grabcut_widget")  # only GrabCut's boxes layer is new


def test_rgb_flagged_copy_of_the_same_array_runs(make_napari_viewer_proxy, qtbot, wait_job, shown_errors):
    """The advice of the message works: the same array added with rgb=True goes through GrabCut."""
    from scipy import ndimage as ndi

    from napari_segsuite._napari.grabcut_widget import GrabCutWidget

    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    rgb = np.stack([image[:128, :128]] * 3, -1)
    viewer.add_image(rgb, name="colour", rgb=True)
    nucleus = gt[:128, :128] == gt[64, 64] if gt[64, 64] else gt[:128, :128] == np.unique(gt[:128, :128])[1]
    rows, cols = ndi.find_objects(nucleus.astype(int))[0]
    widget = GrabCutWidget(viewer)
    assert _grabcut(widget, (rows.start - 4, cols.start - 4, rows.stop + 4, cols.stop + 4)) is not None
    wait_job(widget.jobs, 30000)
    out = widget.output.value
    assert out.data.shape == (128, 128) and shown_errors == []
    inter, union = ((out.data == 1) & nucleus).sum(), ((out.data == 1) | nucleus).sum()
    assert inter / union > 0.7


def test_a_long_refusal_wraps_in_the_status_line_instead_of_widening_the_dock(make_napari_viewer_proxy,
                                                                              shown_errors):
    """The refusal above made the GrabCut dock ~2000 px wide (one unwrapped status line), squeezing the canvas."""
    from napari_segsuite._napari.grabcut_widget import GrabCutWidget

    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.zeros((128, 128, 3), np.uint16), name="colour", rgb=False)
    widget = GrabCutWidget(viewer)
    before = widget.native.sizeHint().width()
    assert _grabcut(widget) is None and len(widget.jobs.status) > 200
    after = widget.jobs.native.minimumSizeHint().width()
    assert after <= max(before, 600), (before, after)
