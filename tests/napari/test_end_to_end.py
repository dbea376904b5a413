"""End to end in one viewer, with the plugin's real widgets on their threaded path:

sample -> GrabCut a few nuclei -> add one with Superpixels -> correct by hand -> export (TIFF) ->
train a tiny U-Net from the exported folder -> predict -> evaluate against the ground truth.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite._napari.evaluate_widget import EvaluateWidget  # noqa: E402
from napari_segsuite._napari.export_widget import ExportWidget  # noqa: E402
from napari_segsuite._napari.grabcut_widget import GrabCutWidget  # noqa: E402
from napari_segsuite._napari.superpixels_widget import SuperpixelsWidget  # noqa: E402
from napari_segsuite._napari.unet_widget import UNetWidget  # noqa: E402
from napari_segsuite.core.dataset import load_dataset  # noqa: E402


def _wait(qtbot, widget, timeout):
    # waitSignal(worker.finished) can miss a worker that ends before the wait starts; this cannot
    qtbot.waitUntil(lambda: widget.jobs.worker is None, timeout=timeout)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def _isolated_nuclei(gt, pad, n, exclude=()):
    """Ids of the n largest GT nuclei whose box grown by ``pad`` holds no other nucleus nor the border."""
    from skimage.measure import regionprops

    found = []
    for r in sorted(regionprops(gt), key=lambda r: -r.area):
        r0, c0, r1, c1 = r.bbox
        if r.label in exclude or r0 - pad < 0 or c0 - pad < 0 or r1 + pad > gt.shape[0] or c1 + pad > gt.shape[1]:
            continue
        window = gt[r0 - pad:r1 + pad, c0 - pad:c1 + pad]
        if set(np.unique(window)) == {0, r.label}:
            found.append(r)
        if len(found) == n:
            break
    return found


def test_sample_to_evaluation(make_napari_viewer_proxy, qtbot, tmp_path):
    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    viewer.open_sample("napari-segsuite", "nuclei")
    image_layer, gt_layer = viewer.layers["nuclei"], viewer.layers["nuclei ground truth"]
    gt = np.asarray(gt_layer.data)
    assert gt.shape == image_layer.data.shape == (512, 512) and gt.max() > 50

    # --- GrabCut: one rectangle (GT bounding box + 4 px) per isolated nucleus -> one instance each
    grabcut = GrabCutWidget(viewer)
    viewer.window.add_dock_widget(grabcut)
    grabcut.image.value = image_layer
    boxes_layer = grabcut.add_shapes_layer()
    picked = _isolated_nuclei(gt, 4, 4)
    assert len(picked) == 4
    boxes_layer.add_rectangles([np.array([[r.bbox[0] - 4, r.bbox[1] - 4], [r.bbox[2] + 4, r.bbox[3] + 4]], float)
                                for r in picked])
    grabcut.shapes.value = boxes_layer
    assert grabcut.output.value is None  # -> a new Labels layer
    assert grabcut.run() is not None
    _wait(qtbot, grabcut, 60000)
    annotations = grabcut.output.value
    assert annotations is not None and annotations.name == "GrabCut (nuclei)"
    data = np.asarray(annotations.data)
    assert data.shape == (512, 512) and tuple(annotations.scale) == tuple(image_layer.scale)
    assert sorted(np.unique(data[data > 0])) == [1, 2, 3, 4]
    for i, r in enumerate(picked, start=1):
        iou = _iou(data == i, gt == r.label)
        assert iou > 0.6, (i, r.label, iou)
    assert grabcut.last_computed == 4
    grabcut_result = data.copy()

    # --- Superpixels: compute, then click one more nucleus (its centre) into the same layer as label 5
    superpixels = SuperpixelsWidget(viewer)
    viewer.window.add_dock_widget(superpixels)
    superpixels.image.value = image_layer
    superpixels.n_segments.value = 600
    superpixels.target.value = annotations
    assert superpixels.compute() is not None
    _wait(qtbot, superpixels, 60000)
    assert superpixels.merged is not None and superpixels.merged.shape == (512, 512)
    assert superpixels.superpixel_layer is not None
    assert superpixels.target.value.name == annotations.name  # the chosen target is kept
    superpixels.next_free_id()
    assert superpixels.label_id.value == 5
    extra = _isolated_nuclei(gt, 4, 1, exclude={r.label for r in picked})[0]
    centre = np.round(extra.centroid).astype(int)
    assert gt[tuple(centre)] == extra.label
    changed = superpixels.click_region(centre)
    data = np.asarray(annotations.data)
    added = data == 5
    assert changed == added.sum() > 0
    # the region sits on the nucleus: most of it is inside it, and it does not touch GrabCut's instances
    assert (gt[added] == extra.label).mean() > 0.8 and added.sum() > 0.4 * (gt == extra.label).sum()
    assert np.array_equal(data[~added], grabcut_result[~added]) and not grabcut_result[added].any()

    # --- correct: delete instance 2 by hand, paint instance 2 anew as the GT nucleus (exact)
    corrected = data.copy()
    corrected[corrected == 2] = 0
    corrected[gt == picked[1].label] = 2
    annotations.data = corrected
    assert sorted(np.unique(corrected[corrected > 0])) == [1, 2, 3, 4, 5]

    # --- export the pair (TIFF layout) and read it back bit-exactly
    export = ExportWidget(viewer)
    viewer.window.add_dock_widget(export)
    pairs = [v for v in export.pairs.choices if (v[0].name, v[1].name) == ("nuclei", annotations.name)]
    assert len(pairs) == 1
    pair = pairs[0]
    export.pairs.value = [pair]
    export.names.value = "field1"
    export.folder.value = tmp_path / "dataset"
    assert export.run() is not None
    _wait(qtbot, export, 60000)
    assert export.result is not None and export.result["items"] == ["field1"]
    items = load_dataset(tmp_path / "dataset")
    assert [it.name for it in items] == ["field1"]
    assert items[0].image.dtype == image_layer.data.dtype
    assert np.array_equal(items[0].image, image_layer.data)
    assert np.array_equal(items[0].mask, annotations.data) and items[0].mask.dtype.kind == "u"
    assert items[0].meta["pixel_size"] == [float(x) for x in annotations.scale]
    assert items[0].meta["source_labels"] == annotations.name

    # --- train a tiny U-Net from that folder, predict the image
    unet = UNetWidget(viewer)
    viewer.window.add_dock_widget(unet)
    unet.training.source.value = "dataset folder"
    unet.training.dataset.value = tmp_path / "dataset"
    unet.epochs.value = 2
    unet.steps.value = 2
    unet.patch_size.value = 64
    unet.model_size.value = "tiny (base 8, depth 2)"
    unet.device.value = "cpu"
    assert unet.train() is not None
    _wait(qtbot, unet, 90000)
    assert unet.checkpoint is not None, unet.jobs.status
    assert len(unet.checkpoint["history"]["loss"]) == 2
    assert unet.checkpoint["training"]["patch_size"] == 64 and unet.checkpoint["training"]["steps_per_epoch"] == 2
    assert unet.checkpoint["config"]["in_channels"] == 1
    assert unet.readout.value.startswith("model (trained): base 8, depth 2")
    unet.predict_image.value = image_layer
    assert unet.predict() is not None
    _wait(qtbot, unet, 60000)
    predicted = viewer.layers["nuclei U-Net"]
    assert predicted.data.shape == (512, 512) and predicted.data.dtype.kind in "iu"
    assert tuple(predicted.scale) == tuple(image_layer.scale)
    assert tuple(predicted.translate) == tuple(image_layer.translate)

    # --- evaluate the prediction against the ground truth
    evaluate = EvaluateWidget(viewer)
    viewer.window.add_dock_widget(evaluate)
    assert evaluate.gt.value.name == gt_layer.name  # picked by name
    evaluate.pred.value = predicted
    assert evaluate.run() is not None
    _wait(qtbot, evaluate, 60000)
    metrics = evaluate.metrics
    assert metrics is not None
    for key in ("iou", "dice", "pixel_accuracy", "ap50", "ap75", "map"):
        assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    # foreground metrics recomputed by hand from the two layers
    g, p = gt > 0, np.asarray(predicted.data) > 0
    assert metrics["iou"] == pytest.approx((g & p).sum() / (g | p).sum())
    assert metrics["dice"] == pytest.approx(2 * (g & p).sum() / (g.sum() + p.sum()))
    assert metrics["pixel_accuracy"] == pytest.approx((g == p).mean())
    assert metrics["n_gt"] == len(np.unique(gt)) - 1 and metrics["n_pred"] > 0
    assert metrics["n_pred"] == len(np.unique(predicted.data)) - 1
    assert metrics["tp"] + metrics["fn"] == metrics["n_gt"] and metrics["tp"] + metrics["fp"] == metrics["n_pred"]
    values = evaluate.table.value["data"]
    assert len(values) == 11 and all(row[1] != "" for row in values)
    assert float(values[0][1]) == pytest.approx(metrics["iou"], abs=5e-4)
