"""U-Net widget: threaded training from layer pairs with a live readout, threaded prediction, model files."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite._napari.unet_widget import UNetWidget  # noqa: E402
from napari_segsuite.core.unet import infer  # noqa: E402


def _recording(gen_func, results):
    """``gen_func`` with each call's return value appended to ``results`` (in the worker thread)."""

    def recorded(*args, **kwargs):
        result = yield from gen_func(*args, **kwargs)
        results.append(result)
        return result

    return recorded


def _discs(seed=0):
    yy, xx = np.mgrid[:64, :64]
    lab = np.zeros((64, 64), np.int32)
    for i, (cy, cx) in enumerate(((14, 14), (14, 46), (46, 20), (44, 48))):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = i + 1
    img = (100 + 800 * (lab > 0) + np.random.default_rng(seed).normal(0, 40, lab.shape)).clip(0).astype(np.uint16)
    return img, lab


def _tiny(widget):
    widget.epochs.value = 2
    widget.steps.value = 2
    widget.patch_size.value = 64
    widget.model_size.value = "tiny (base 8, depth 2)"
    widget.device.value = "cpu"


def test_train_then_predict_threaded(make_napari_viewer_proxy, qtbot, tmp_path, wait_job, monkeypatch):
    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    img, lab = _discs()
    viewer.add_image(img, name="cells", scale=(0.5, 0.5), translate=(3, 4))
    viewer.add_labels(lab, name="truth", scale=(0.5, 0.5), translate=(3, 4))
    widget = UNetWidget(viewer)
    _tiny(widget)
    widget.training.train_image.value = viewer.layers["cells"]
    widget.training.train_labels.value = viewer.layers["truth"]
    widget.training.add_pair()
    assert "cells + truth" in widget.training.pairs_label.value
    readouts = []  # the readout after each of the widget's own progress callbacks (none can be missed)
    start = widget.jobs.start

    def spying_start(*args, on_yielded, **kwargs):
        def spy(event):
            on_yielded(event)
            readouts.append(widget.readout.value)

        return start(*args, on_yielded=spy, **kwargs)

    widget.jobs.start = spying_start
    assert widget.train() is not None
    widget.jobs.start = start
    assert not widget.train_button.enabled
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: widget.checkpoint is not None, timeout=5000)
    assert any(r.startswith("epoch 1: loss") and "val AP@0.5" in r for r in readouts)
    assert widget.checkpoint["config"]["base"] == 8 and len(widget.checkpoint["history"]["loss"]) == 2
    assert widget.train_button.enabled

    widget.predict_image.value = viewer.layers["cells"]
    widget.probabilities.value = True
    widget.predict()
    wait_job(widget.jobs, 60000)
    qtbot.waitUntil(lambda: "cells U-Net" in [lay.name for lay in viewer.layers], timeout=5000)
    labels = viewer.layers["cells U-Net"]
    prob = viewer.layers["cells U-Net probability"]
    assert labels.data.shape == (64, 64) and labels.data.dtype.kind in "iu"
    assert prob.data.dtype == np.float32 and 0 <= prob.data.min() and prob.data.max() <= 1
    assert tuple(labels.scale) == (0.5, 0.5) and tuple(labels.translate) == (3, 4)

    # without the probability map: the job does not build one, the labels are the same
    widget.probabilities.value = False
    n_layers = len(viewer.layers)
    results = []
    monkeypatch.setattr(infer, "iter_predict_unet", _recording(infer.iter_predict_unet, results))
    assert widget.predict() is not None
    wait_job(widget.jobs, 60000)
    qtbot.waitUntil(lambda: len(viewer.layers) == n_layers + 1, timeout=5000)
    assert isinstance(results[0], np.ndarray)  # labels only: no whole-image probability array was made
    assert viewer.layers[-1].name.startswith("cells U-Net") and "probability" not in viewer.layers[-1].name
    np.testing.assert_array_equal(viewer.layers[-1].data, labels.data)

    # save, then load into a fresh widget: same weights
    widget.save_path.value = tmp_path / "model.pt"
    widget.save()
    assert (tmp_path / "model.pt").exists()
    other = UNetWidget(viewer)
    other.model_path.value = tmp_path / "model.pt"
    other.load()
    sd_a, sd_b = widget.checkpoint["state_dict"], other.checkpoint["state_dict"]
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)


def test_stack_prediction_and_errors(make_napari_viewer_proxy, qtbot, tmp_path, wait_job):
    torch.set_num_threads(1)
    from napari_segsuite.core.unet import train_unet

    viewer = make_napari_viewer_proxy()
    img, lab = _discs()
    stack = np.stack([_discs(s)[0] for s in range(3)])
    viewer.add_image(stack, name="stack")
    widget = UNetWidget(viewer)
    # no model yet: a clear message, no worker
    assert widget.predict() is None
    assert "no model" in widget.jobs.status
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    widget.model_path.value = bad
    widget.load()
    assert widget.checkpoint is None and "not a readable" in widget.jobs.status
    widget.checkpoint = train_unet([(img, lab)], epochs=1, steps_per_epoch=2, base=8, depth=2, patch_size=64,
                                   batch_size=2, val_fraction=0, device="cpu")
    widget.predict_image.value = viewer.layers["stack"]
    widget.predict()
    wait_job(widget.jobs, 60000)
    qtbot.waitUntil(lambda: "stack U-Net" in [lay.name for lay in viewer.layers], timeout=5000)
    assert viewer.layers["stack U-Net"].data.shape == (3, 64, 64)
    # mismatched training pair: refused with a message, the widget stays usable
    viewer.add_labels(np.zeros((10, 10), np.int32), name="small")
    widget.training.train_image.value = viewer.layers["stack"]
    widget.training.train_labels.value = viewer.layers["small"]
    assert widget.train() is None
    assert "do not have the same shape" in widget.jobs.status
    assert widget.train_button.enabled


def test_sample_model_loads_and_predicts_the_sample_nuclei(make_napari_viewer_proxy, qtbot, wait_job):
    from napari_segsuite.core import average_precision, load_sample

    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    viewer.add_image(image[:256, :256], name="nuclei")
    widget = UNetWidget(viewer)
    assert widget.load() is False and "choose a model file" in widget.jobs.status  # nothing chosen yet
    assert widget.load_sample_model()
    assert widget.readout.value.startswith("model (unet_nuclei.pt)") and widget.jobs.status == "loaded unet_nuclei.pt"
    widget.predict_image.value = viewer.layers["nuclei"]
    assert widget.predict() is not None
    wait_job(widget.jobs, 60000)
    qtbot.waitUntil(lambda: "nuclei U-Net" in viewer.layers, timeout=5000)
    pred = np.asarray(viewer.layers["nuclei U-Net"].data)
    assert average_precision(gt[:256, :256], pred, thresholds=(0.5,))["ap"][0] > 0.8


def test_tzyx_gray_stack_is_predicted_plane_by_plane(make_napari_viewer_proxy, qtbot, wait_job, shown_errors):
    """A 4D gray layer was read as ZYX + 64 channels ("the image has 64 channels") and refused."""
    from napari_segsuite.core import load_sample
    from napari_segsuite.core.unet import predict_unet

    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    image, _ = load_sample("nuclei_test")
    planes = np.stack([image[:64, :64], image[64:128, :64], image[:64, 64:128], image[64:128, 64:128]])
    viewer.add_image(planes.reshape(2, 2, 64, 64), name="tzyx", scale=(1, 2, 0.5, 0.5))
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    widget.predict_image.value = viewer.layers["tzyx"]
    widget.probabilities.value = True
    assert widget.predict() is not None
    wait_job(widget.jobs, 60000)
    assert shown_errors == []
    labels, prob = viewer.layers["tzyx U-Net"].data, viewer.layers["tzyx U-Net probability"].data
    assert labels.shape == prob.shape == (2, 2, 64, 64)
    assert tuple(viewer.layers["tzyx U-Net"].scale) == (1, 2, 0.5, 0.5)
    want_labels, want_prob = predict_unet(widget.checkpoint, planes, device="cpu", min_size=10,
                                          return_probabilities=True)
    assert want_labels.max() > 4
    assert np.array_equal(labels.reshape(4, 64, 64), want_labels) and np.allclose(prob.reshape(4, 64, 64), want_prob)


def test_current_plane_only_lands_on_that_plane(make_napari_viewer_proxy, qtbot, wait_job):
    from napari_segsuite.core.unet import predict_unet, train_unet

    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    stack = np.stack([_discs(s)[0] for s in range(3)])
    layer = viewer.add_image(stack, name="stack", scale=(2.0, 0.5, 0.5), translate=(10.0, 0.0, 0.0))
    widget = UNetWidget(viewer)
    img, lab = _discs()
    widget.checkpoint = train_unet([(img, lab)], epochs=1, steps_per_epoch=2, base=8, depth=2, patch_size=64,
                                   batch_size=2, val_fraction=0, device="cpu")
    widget.predict_image.value = layer
    widget.whole_stack.value = False
    viewer.dims.set_point(0, 10.0 + 2.0 * 1)  # the viewer shows plane 1
    assert widget.predict() is not None
    wait_job(widget.jobs)
    qtbot.waitUntil(lambda: "stack U-Net" in viewer.layers, timeout=5000)
    out = viewer.layers["stack U-Net"]
    assert out.data.shape == (1, 64, 64)  # one plane, placed on plane 1 (a 2D layer would show on every plane)
    assert tuple(out.scale) == (2.0, 0.5, 0.5) and tuple(out.translate) == (12.0, 0.0, 0.0)
    expected = predict_unet(widget.checkpoint, stack[1], device="cpu", min_size=int(widget.min_size.value),
                            watershed=False)
    np.testing.assert_array_equal(out.data[0], expected)


def test_cell_size_rescales_small_nuclei_to_the_sample_model(make_napari_viewer_proxy, qtbot, wait_job, shown_errors):
    """The sample model records its training cell size: 'estimate' (its default for such a model) and a given
    diameter find nuclei shrunk 2.5x; 'the diameter below' without a diameter is refused; a model without a
    recorded size greys the choice out and predicts at the image's own scale."""
    from napari_segsuite.core import average_precision, load_sample
    from napari_segsuite.core.diameter import rescale_plane, resize_labels

    torch.set_num_threads(1)
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    small = rescale_plane(image[:400, :400], 0.4).astype(np.uint16)
    small_gt = resize_labels(gt[:400, :400], small.shape)
    viewer.add_image(small, name="small")
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    assert widget.cell_size.enabled and widget.cell_size.value == "auto"
    widget.predict_image.value = viewer.layers["small"]
    scores = {}
    for mode, diameter in (("auto", 0), ("given", 7.5), ("native", 0)):
        widget.cell_size.value, widget.diameter.value = mode, diameter
        assert widget.predict() is not None
        wait_job(widget.jobs, 60000)
        qtbot.waitUntil(lambda: "small U-Net" in viewer.layers, timeout=5000)
        scores[mode] = average_precision(small_gt, np.asarray(viewer.layers["small U-Net"].data), (0.5,))["ap"][0]
        viewer.layers.remove("small U-Net")
    assert scores["auto"] >= 0.75 and scores["given"] >= 0.75 and scores["given"] >= scores["native"] + 0.1
    widget.cell_size.value, widget.diameter.value = "given", 0
    assert widget.predict() is None and "give the cells' diameter" in shown_errors[-1]
    ck = dict(widget.checkpoint)
    ck["training"] = {k: v for k, v in ck.get("training", {}).items() if k != "diameter"}
    widget.set_checkpoint(ck, "old.pt")
    assert not widget.cell_size.enabled and widget.cell_size.value == "native"
