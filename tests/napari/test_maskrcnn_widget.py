import numpy as np
import pytest

from napari_segsuite._napari.maskrcnn_widget import MaskRCNNWidget
from napari_segsuite.core import load_sample
from napari_segsuite.core.metrics import average_precision


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_predict_with_sample_model_threaded(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    viewer.add_image(image[:256, :320], name="nuclei", scale=(0.5, 0.5), translate=(3, 4))
    widget = MaskRCNNWidget(viewer)
    assert widget.load_sample_model()
    assert "resnet18_slim" in widget.model_status.value
    widget.image.value = viewer.layers["nuclei"]
    widget.tile_size.value = 192
    widget.predict()
    wait_job(widget.jobs, 60000)
    qtbot.waitUntil(lambda: "nuclei Mask R-CNN" in viewer.layers, timeout=5000)
    layer = viewer.layers["nuclei Mask R-CNN"]
    assert tuple(layer.scale) == (0.5, 0.5) and tuple(layer.translate) == (3, 4)
    labels = np.asarray(layer.data)
    assert average_precision(gt[:256, :320], labels, thresholds=(0.5,))["ap"][0] > 0.75
    feats = layer.features
    n = int(labels.max())
    assert n == len(feats) and {"index", "score", "class"} <= set(feats.columns)
    assert feats["index"].tolist() == list(range(1, n + 1))
    assert (feats["score"] >= 0.5).all() and (feats["class"] == 1).all()
    assert widget.predict_button.enabled


def test_other_kinds_and_missing_model_are_refused(make_napari_viewer_proxy, tmp_path):
    import torch

    viewer = make_napari_viewer_proxy()
    widget = MaskRCNNWidget(viewer)
    unet = tmp_path / "unet.pt"
    torch.save({"format": "segsuite-model", "version": 1, "kind": "unet", "config": {}, "state_dict": {}}, unet)
    assert widget.load_model(path=unet) is False
    assert widget.checkpoint is None and "'unet' model" in widget.jobs.status
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert widget.load_model(path=junk) is False and "not a readable" in widget.jobs.status
    viewer.add_image(np.zeros((32, 32), np.uint16), name="img")
    widget.image.value = viewer.layers["img"]
    assert widget.predict() is None and "load or train" in widget.jobs.status
    assert widget.train() is None and "Labels" in widget.jobs.status      # no labels layer to pair


def test_train_from_layer_pairs_threaded(make_napari_viewer_proxy, qtbot, wait_job):
    from napari_segsuite.core import synthetic_nuclei

    viewer = make_napari_viewer_proxy()
    image, labels = synthetic_nuclei((96, 96), 8, seed=4)
    viewer.add_image(image, name="img")
    viewer.add_labels(labels, name="lab", features={"index": np.arange(labels.max() + 1),
                                                    "class": np.r_[0, np.ones(labels.max(), int) * 2]})
    widget = MaskRCNNWidget(viewer)
    widget.training.add_pair()
    assert "img + lab" in widget.training.pairs_label.value
    widget.epochs.value, widget.steps.value, widget.device.value = 1, 1, "cpu"
    widget.train()
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: widget.checkpoint is not None, timeout=5000)
    assert widget.checkpoint["kind"] == "maskrcnn"
    assert widget.checkpoint["config"]["num_classes"] == 3       # class 2 from the features table
    assert "trained" in widget.model_status.value


def test_current_plane_only_lands_on_that_plane(make_napari_viewer_proxy, qtbot, wait_job):
    from napari_segsuite.core.maskrcnn import predict_maskrcnn

    viewer = make_napari_viewer_proxy()
    image, _ = load_sample("nuclei_test")
    stack = np.stack([image[:128, :128], image[128:256, :128], image[256:384, :128]])
    layer = viewer.add_image(stack, name="stack", scale=(3.0, 1.0, 1.0))
    widget = MaskRCNNWidget(viewer)
    assert widget.load_sample_model()
    widget.image.value = layer
    widget.whole_stack.value = False
    viewer.dims.set_point(0, 3.0 * 2)  # plane 2
    assert widget.predict() is not None
    wait_job(widget.jobs)
    qtbot.waitUntil(lambda: "stack Mask R-CNN" in viewer.layers, timeout=5000)
    out = viewer.layers["stack Mask R-CNN"]
    assert out.data.shape == (1, 128, 128) and tuple(out.translate) == (6.0, 0.0, 0.0)
    expected, _ = predict_maskrcnn(widget.checkpoint, stack[2], tile_size=widget.tile_size.value or None,
                                   overlap=widget.overlap.value, score_threshold=widget.score_threshold.value,
                                   mask_threshold=widget.mask_threshold.value, device="cpu")
    other, _ = predict_maskrcnn(widget.checkpoint, stack[0], tile_size=widget.tile_size.value or None,
                                overlap=widget.overlap.value, score_threshold=widget.score_threshold.value,
                                mask_threshold=widget.mask_threshold.value, device="cpu")
    assert expected.max() > 0 and not np.array_equal(expected, other)  # plane 2 is not plane 0
    np.testing.assert_array_equal(out.data[0], expected)
