"""Fine-tuning where the user corrected (issue 16): "learn from" the whole image, around the edits, or a region layer.

Jobs run through the widgets' thread workers (``wait_job``) with a 2-step schedule; the trainer is wrapped so the
test sees the training item that reached it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_segsuite._napari._finetune import AROUND_EDITS, WHOLE_IMAGE  # noqa: E402
from napari_segsuite._napari._model_base import KEPT_PREDICTIONS  # noqa: E402
from napari_segsuite._napari.unet_widget import UNetWidget  # noqa: E402
from napari_segsuite.core import load_sample  # noqa: E402
from napari_segsuite.core.training.edits import edited_region  # noqa: E402
from napari_segsuite.core.training.regions import score_in_region  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def trained_on(monkeypatch):
    """The training data each fine-tuning round handed to the real trainer, in order."""
    from napari_segsuite.core import finetune as ft

    real, seen = ft._backend, []

    def backend(kind):
        train, predict = real(kind)

        def recording(data, **kwargs):
            seen.append(data)
            return (yield from train(data, **kwargs))

        return recording, predict

    monkeypatch.setattr(ft, "_backend", backend)
    return seen


def _predicted(viewer, qtbot, wait_job, n=128):
    image, truth = load_sample("nuclei_test")
    viewer.add_image(image[:n, :n], name="n")
    widget = UNetWidget(viewer)
    assert widget.load_sample_model()
    widget.finetune.steps.value = 2
    assert widget.predict() is not None
    wait_job(widget.jobs, 120000)
    qtbot.waitUntil(lambda: "n U-Net" in viewer.layers, timeout=5000)
    return widget, viewer.layers["n U-Net"], truth[:n, :n].astype(np.int32)


def _finetuned(widget, viewer, qtbot, wait_job):
    assert widget.finetune.start() is not None
    wait_job(widget.jobs, 180000)
    qtbot.waitUntil(lambda: "n U-Net fine-tuned" in viewer.layers, timeout=5000)
    return widget.finetune.result.value


def test_around_my_edits_trains_on_the_edited_cells_then_a_region_layer(make_napari_viewer_proxy, qtbot, wait_job,
                                                                       trained_on):
    viewer = make_napari_viewer_proxy()
    widget, layer, truth = _predicted(viewer, qtbot, wait_job)
    predicted = np.asarray(layer.data).copy()
    assert widget.finetune.learn_from.value == WHOLE_IMAGE                  # today's behaviour stays the default
    # the user's corrections: the two largest predicted cells redrawn as the reference has them
    ids, areas = np.unique(predicted[predicted > 0], return_counts=True)
    redrawn = ids[np.argsort(areas)[-2:]]
    corrected = np.where(np.isin(predicted, redrawn), 0, predicted)
    for k, t in enumerate(np.unique(truth[np.isin(predicted, redrawn) & (truth > 0)])):
        corrected[truth == t] = predicted.max() + 1 + k
    layer.data = corrected.astype(np.int32)
    widget.finetune.learn_from.value = AROUND_EDITS
    text = _finetuned(widget, viewer, qtbot, wait_job)
    (item,) = trained_on[0]
    region = edited_region(predicted, corrected)
    assert len(item) == 3 and np.array_equal(item[1], corrected) and np.array_equal(item[2], region)
    assert 0 < region.mean() < 0.5                                          # the edited cells, not the image
    before = score_in_region(corrected, predicted, region)["ap50"]
    assert text.startswith(f"learned from around your edits ({region.mean():.0%} of the image)")
    assert "inside it" in text and f"before {before:.2f} -> after" in text
    # the round's own prediction is kept too: the loop can go on from it
    assert widget.prediction_of(viewer.layers["n U-Net fine-tuned"]) is not None

    # a Shapes layer marks where the labels are right: that mask reaches the trainer
    viewer.layers.remove("n U-Net fine-tuned")
    box = viewer.add_shapes([np.array([[0, 0], [0, 127], [59, 127], [59, 0]])], shape_type="polygon", name="checked")
    widget.finetune.learn_from.value = box
    text = _finetuned(widget, viewer, qtbot, wait_job)
    (item,) = trained_on[1]
    assert item[2].dtype == np.uint8 and item[2][:59].all() and not item[2][61:].any()
    before = score_in_region(corrected, predicted, item[2])["ap50"]
    assert text.startswith("learned from inside 'checked'") and f"before {before:.2f} -> after" in text


def test_refusals_start_no_job(make_napari_viewer_proxy, qtbot, wait_job, shown_errors):
    viewer = make_napari_viewer_proxy()
    widget, layer, truth = _predicted(viewer, qtbot, wait_job, n=96)
    fine = widget.finetune
    fine.learn_from.value = AROUND_EDITS
    assert fine.start() is None and "nothing was corrected" in widget.jobs.status     # no edit yet
    manual = viewer.add_labels(truth, name="manual")                        # not a prediction of this widget
    fine.corrected.value = manual
    assert fine.start() is None and "'manual' is not one" in widget.jobs.status
    # the corrected layer itself is never offered as its own region; the other labels are
    assert [getattr(c, "name", c) for c in fine.learn_from.choices] == [WHOLE_IMAGE, AROUND_EDITS]
    fine.corrected.value = layer
    assert [getattr(c, "name", c) for c in fine.learn_from.choices] == [WHOLE_IMAGE, AROUND_EDITS, "manual"]
    assert "inside 'manual'" in [fine.learn_from.native.itemText(i) for i in range(3)]
    fine.corrected.value = manual
    empty = viewer.add_shapes(name="nothing drawn")
    fine.learn_from.value = empty
    assert fine.start() is None and "'nothing drawn' marks nothing" in widget.jobs.status
    other = viewer.add_labels(np.ones((50, 50), np.int32), name="elsewhere")
    fine.learn_from.value = other
    assert fine.start() is None and "has shape (50, 50), the labels (96, 96)" in widget.jobs.status
    assert widget.jobs.worker is None and len(shown_errors) == 4 and fine.run_button.enabled


def test_kept_predictions_are_bounded_and_follow_their_layers(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    widget = UNetWidget(viewer)
    data = [np.full((8, 8), k, np.int32) for k in range(KEPT_PREDICTIONS + 1)]
    layers = [widget._add_labels(d, f"p{k} U-Net") for k, d in enumerate(data)]
    assert widget.prediction_of(layers[0]) is None                          # the oldest went past the bound
    assert all(np.array_equal(widget.prediction_of(lay), d) for lay, d in zip(layers[1:], data[1:]))
    layers[1].data[0, 0] = 99                                               # painting the layer: the copy stays
    assert widget.prediction_of(layers[1])[0, 0] == 1
    viewer.layers.remove(layers[2])
    assert len(widget._predicted) == KEPT_PREDICTIONS - 1 and widget.prediction_of(layers[2]) is None
    stack = widget._add_labels(np.zeros((1, 8, 8), np.int32), "plane U-Net")   # a stack plane: not kept
    assert widget.prediction_of(stack) is None
