"""The model widgets as a correction loop (issue 20 items 2, 3, 5, 8a, 8b; issue 16 "the loop in one place").

Every job runs through the widgets' thread workers (``wait_job``), with tiny schedules.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite._napari.maskrcnn_widget import MaskRCNNWidget  # noqa: E402
from napari_segsuite._napari.unet_widget import UNetWidget  # noqa: E402
from napari_segsuite.core import load_sample  # noqa: E402
from napari_segsuite.core.metrics import average_precision  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ap50(gt, pred):
    return float(average_precision(gt, np.asarray(pred), thresholds=(0.5,))["ap"][0])


def _predict(widget, viewer, qtbot, wait_job, name):
    assert widget.predict() is not None
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=5000)
    return viewer.layers[name]


# --- item 2: a colour image meets a gray model --------------------------------------------------------------
@pytest.mark.parametrize("cls", [UNetWidget, MaskRCNNWidget])
def test_colour_into_gray_model_is_refused_pointing_at_the_choice_or_converted(cls, make_napari_viewer_proxy, qtbot,
                                                                              wait_job, shown_errors, monkeypatch):
    import napari.utils.notifications as nn

    warned = []
    monkeypatch.setattr(nn, "show_warning", lambda msg: warned.append(str(msg)))
    viewer = make_napari_viewer_proxy()
    gray, _ = load_sample("nuclei_test")
    g = (gray[:96, :96].astype(float) / gray.max() * 255).astype(np.uint8)
    viewer.add_image(np.stack([255 - g // 2, 255 - g, 255 - g // 3], -1), name="he", rgb=True)  # dark = stained
    widget = cls(viewer)
    assert widget.load_sample_model()
    widget.predict_image.value = viewer.layers["he"]
    if cls is MaskRCNNWidget:
        widget.tile_size.value = 0
    assert widget.convert.value is None                       # the default refuses
    widget.predict()
    wait_job(widget.jobs)
    assert f"he {widget.title}" not in viewer.layers
    assert any("colour -> gray model" in m and "hematoxylin (H&E)" in m for m in shown_errors), shown_errors
    widget.convert.value = "hematoxylin"
    _predict(widget, viewer, qtbot, wait_job, f"he {widget.title}")
    assert any("hematoxylin" in m for m in warned), warned    # the conversion is announced


# --- item 3: training can start from the loaded model; figures say where they come from -----------------------
def _discs(n=96):
    yy, xx = np.mgrid[:n, :n]
    lab = np.zeros((n, n), np.int32)
    for i, (cy, cx) in enumerate(((20, 20), (20, 70), (70, 25), (68, 72))):
        lab[(yy - cy) ** 2 + (xx - cx) ** 2 <= 100] = i + 1
    img = (100 + 800 * (lab > 0) + np.random.default_rng(0).normal(0, 40, lab.shape)).clip(0).astype(np.uint16)
    return img, lab


def test_unet_training_starts_from_the_loaded_model_when_asked(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    img, lab = _discs(128)
    viewer.add_image(img, name="img")
    viewer.add_labels(lab, name="truth")
    widget = UNetWidget(viewer)
    widget.from_loaded.value = True
    assert widget.train() is None and "no model is loaded" in widget.jobs.status
    assert widget.load_sample_model()
    best = widget.checkpoint["history"]["best_val_ap50"]
    assert f"sample model: val AP@0.5 {best:.2f} on held-out images of its synthetic training corpus" in (
        widget.readout.value)
    sample = widget.checkpoint
    widget.epochs.value, widget.steps.value, widget.device.value = 1, 1, "cpu"
    widget.model_size.value = "tiny (base 8, depth 2)"          # ignored: the loaded model's size is kept
    widget.patch_size.value = 64
    assert widget.train() is not None
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: widget.checkpoint is not sample, timeout=5000)
    assert widget.checkpoint["config"] == sample["config"]      # base 16, depth 3: the sample's network
    assert widget.readout.value.startswith("model (fine-tuned): base 16, depth 3")
    assert "on a held-out part of your training image" in widget.readout.value
    assert "synthetic" not in widget.readout.value


def test_maskrcnn_training_starts_from_the_loaded_model_when_asked(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    img, lab = _discs(96)
    viewer.add_image(img, name="img")
    viewer.add_labels(lab, name="truth")
    widget = MaskRCNNWidget(viewer)
    assert widget.load_sample_model()
    assert "sample model: val AP@0.5" in widget.model_status.value and "synthetic" in widget.model_status.value
    sample = widget.checkpoint
    widget.from_loaded.value = True
    widget.epochs.value, widget.steps.value, widget.device.value = 1, 1, "cpu"
    assert widget.train() is not None
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: widget.checkpoint is not sample, timeout=5000)
    new, old = widget.checkpoint["state_dict"], sample["state_dict"]
    # one small step from the sample's weights: every tensor stays close to them (a fresh model would not)
    key = next(k for k in old if k.endswith("weight") and old[k].ndim == 4)
    assert torch.allclose(new[key].float(), old[key].float(), atol=0.05)
    assert "fine-tuned" in widget.model_status.value and "your images" not in widget.model_status.value


# --- item 5: probability threshold and watershed seed distance -----------------------------------------------
def test_unet_threshold_and_watershed_seed_distance_change_the_result(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    image, _ = load_sample("nuclei_test")
    viewer.add_image(image[:192, :192], name="n")
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    assert not widget.min_distance.enabled                     # only with the watershed split
    fg = {}
    for t in (0.1, 0.9):
        widget.threshold.value = t
        fg[t] = int((np.asarray(_predict(widget, viewer, qtbot, wait_job, "n U-Net").data) > 0).sum())
        viewer.layers.remove("n U-Net")
    assert fg[0.1] > fg[0.9] > 0
    widget.threshold.value = 0.5
    widget.watershed.value = True
    assert widget.min_distance.enabled
    counts = {}
    for d in (1, 20):
        widget.min_distance.value = d
        counts[d] = int(np.unique(_predict(widget, viewer, qtbot, wait_job, "n U-Net").data).size - 1)
        viewer.layers.remove("n U-Net")
    assert counts[1] > counts[20]                               # seeds closer together: more pieces


def test_unet_cell_diameter_sets_min_size_and_seed_distance(make_napari_viewer_proxy):
    from napari_segsuite.core.training.defaults import UNET_PREDICT_DEFAULTS

    widget = UNetWidget(make_napari_viewer_proxy())
    assert (widget.min_size.value, widget.min_distance.value) == (UNET_PREDICT_DEFAULTS["min_size"],
                                                                  UNET_PREDICT_DEFAULTS["min_distance"])
    widget.diameter.value = 20                                  # a quarter of pi * 10^2; 0.4 diameters
    assert (widget.min_size.value, widget.min_distance.value) == (79, 8)
    widget.diameter.value = 0                                   # 0: the user's own values stay
    widget.min_size.value = 33
    assert widget.min_size.value == 33 and widget.predict_options()["min_size"] == 33


# --- items 8a, 8b, and the fine-tune loop on Mask R-CNN ------------------------------------------------------
def test_maskrcnn_scores_filter_colour_and_training_never_preselects_the_prediction(
        make_napari_viewer_proxy, qtbot, wait_job, monkeypatch):
    from napari.utils.colormaps import DirectLabelColormap

    from napari_segsuite.core import maskrcnn

    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    viewer.add_image(image[:128, :128], name="n")
    widget = MaskRCNNWidget(viewer)
    assert widget.load_sample_model()
    widget.tile_size.value = 0
    widget.score_threshold.value = 0.05                         # keep low scores too, filter them afterwards
    assert widget.training.train_labels.value is None           # no Labels layer yet
    layer = _predict(widget, viewer, qtbot, wait_job, "n Mask R-CNN")
    assert widget.training.train_labels.value is None           # 8a: not the model's own output
    viewer.add_labels(np.zeros((128, 128), np.int32), name="manual")
    assert widget.training.train_labels.value is viewer.layers["manual"] or \
        widget.training.train_labels.value.name == "manual"
    # 8b: the filter hides instances below it, without a new prediction, and shows them again
    calls = []
    monkeypatch.setattr(maskrcnn, "iter_predict_maskrcnn", lambda *a, **k: calls.append(1))
    labels, table = widget.last_result
    scores = dict(zip(table["label"].tolist(), table["score"].tolist()))
    cut = float(np.median(list(scores.values())))
    widget.scores.minimum.value = cut
    shown = set(np.unique(layer.data).tolist()) - {0}
    assert shown == {k for k, s in scores.items() if s >= cut - 1e-9} and 0 < len(shown) < len(scores)
    widget.scores.minimum.value = 0.0
    assert np.array_equal(np.asarray(layer.data), labels) and not calls and widget.jobs.worker is None
    widget.scores.by_score.value = True
    assert isinstance(layer.colormap, DirectLabelColormap)
    best, worst = max(scores, key=scores.get), min(scores, key=scores.get)
    rgba = layer.colormap.color_dict
    assert rgba[best][1] > rgba[worst][1]                       # viridis: green rises with the score


def test_finetune_on_corrections_then_undo_unet(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    img, truth = image[:160, :160], gt[:160, :160]
    viewer.add_image(img, name="n")
    widget = UNetWidget(viewer)
    assert widget.finetune.start() is None and "no model" in widget.jobs.status
    assert widget.load_sample_model()
    sample, readout = widget.checkpoint, widget.readout.value
    layer = _predict(widget, viewer, qtbot, wait_job, "n U-Net")
    predicted = np.asarray(layer.data).copy()
    layer.data = truth.astype(np.int32)                          # the user's corrections
    assert widget.finetune.corrected.value.name == "n U-Net"    # the prediction is what one corrects
    widget.finetune.steps.value = 2
    assert widget.finetune.start() is not None
    assert not widget.finetune.run_button.enabled
    wait_job(widget.jobs, 180000)
    qtbot.waitUntil(lambda: "n U-Net fine-tuned" in viewer.layers, timeout=5000)
    assert widget.checkpoint is not sample and widget.readout.value.startswith("model (fine-tuned)")
    before, after = _ap50(truth, predicted), _ap50(truth, viewer.layers["n U-Net fine-tuned"].data)
    assert f"before {before:.2f} -> after {after:.2f}" in widget.finetune.result.value
    assert len(widget.checkpoint["history"]["loss"]) == 2        # the short schedule: 2 epochs of 1 step
    assert widget.finetune.undo_button.enabled
    assert widget.finetune.undo()
    assert widget.checkpoint is sample and widget.readout.value == readout
    assert not widget.finetune.undo_button.enabled


def test_finetune_cancelled_keeps_the_model_maskrcnn(make_napari_viewer_proxy, qtbot, wait_job):
    viewer = make_napari_viewer_proxy()
    image, gt = load_sample("nuclei_test")
    viewer.add_image(image[:128, :128], name="n")
    viewer.add_labels(gt[:128, :128].astype(np.int32), name="fixed")
    widget = MaskRCNNWidget(viewer)
    assert widget.load_sample_model()
    sample = widget.checkpoint
    widget.finetune.corrected.value = viewer.layers["fixed"]
    widget.tile_size.value = 0
    assert widget.finetune.start() is not None
    widget.jobs.cancel()
    wait_job(widget.jobs, 120000)
    assert widget.checkpoint is sample and widget.jobs.status == "cancelled"
    assert "n Mask R-CNN fine-tuned" not in viewer.layers and not widget.finetune.undo_button.enabled


# --- item 7: status text never widens the dock nor gets clipped ---------------------------------------------
@pytest.mark.parametrize("cls", [UNetWidget, MaskRCNNWidget])
def test_content_fits_the_dock_width_and_status_lines_get_their_height(cls, make_napari_viewer_proxy):
    """Before: the Mask R-CNN content needed 369 px in a 359-px viewport (the score filter's long check box),
    so its right edge was cut off; long status lines must wrap, not widen the dock, and show every line."""
    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer_proxy(show=True)
    widget = cls(viewer)
    viewer.window.add_dock_widget(widget, name=widget.title)
    assert widget.load_sample_model()
    long = "a status line much longer than the dock is wide, which has to wrap onto several lines " * 2
    widget.say(long)
    widget.finetune.result.value, widget.finetune.result.visible = long, True
    for _ in range(10):
        QApplication.processEvents()
    content, viewport = widget.native.widget(), widget.native.viewport()
    assert content.minimumSizeHint().width() <= viewport.width(), (content.minimumSizeHint().width(),
                                                                   viewport.width())
    for label in (widget.jobs._status.native, widget.readout.native, widget.finetune.result.native):
        assert label.width() <= viewport.width()
        assert label.height() >= label.heightForWidth(label.width()) > label.fontMetrics().height(), label.text()
