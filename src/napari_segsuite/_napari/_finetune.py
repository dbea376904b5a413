"""The correction loop in one place (issue 16): "Fine-tune on my corrections" and "Undo fine-tune".

After Predict the user corrects the prediction's Labels layer; one button trains the current model on the
image and those corrections for a short schedule (``FINETUNE_DEFAULTS``), starting from its weights, then
predicts the image again into a new layer and shows AP@0.5 against the corrections before and after. Undo
restores the model from before the round.

"learn from" chooses what the round trains on and scores: the whole corrected image; "around my edits", the
objects the user changed plus a margin (:func:`~napari_segsuite.core.training.edits.edited_region`, against
the prediction as the model widget added it, see ``ModelWidget.prediction_of``); or a Shapes/Labels layer
marking where the labels are right (:func:`.training_pairs.region_mask`). A region becomes the trainers'
partial labels: they learn only inside it, and the AP counts the cells at least half inside it.
"""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import FINETUNE_DEFAULTS
from napari_segsuite.core.training.edits import EDIT_MARGIN_FRACTIONS

from ._layers import image_data, is_prediction, labels_data, layers_of_type, reset_layer_choices, unwrap

__all__ = ["FinetuneSection", "WHOLE_IMAGE", "AROUND_EDITS"]

#: the "learn from" choices that are not layers
WHOLE_IMAGE, AROUND_EDITS = "the whole image", "around my edits"


class FinetuneSection(Container):
    """The fine-tune controls of a :class:`~._model_base.ModelWidget` (``widget``), and the round's job."""

    def __init__(self, widget):
        self._host = widget
        defaults = FINETUNE_DEFAULTS[widget.kind]
        self.corrected = ComboBox(label="corrected labels", choices=self._labels_layers)
        self.corrected.tooltip = "The prediction you corrected (of the image chosen in 'predict image')."
        self.learn_from = ComboBox(label="learn from", choices=self._region_choices, value=WHOLE_IMAGE)
        self.learn_from.tooltip = (
            "Where the round learns and is scored. The whole image: every cell of the corrected layer is taken as "
            "right. Around my edits: only the cells you deleted, added or redrew in the prediction, with a margin "
            f"of {EDIT_MARGIN_FRACTIONS[widget.kind]:g} cell diameter. A Shapes or Labels layer: only inside its "
            "shapes / nonzero pixels.")
        self.corrected.changed.connect(lambda *_: reset_layer_choices(self.learn_from))
        self.steps = SpinBox(label="fine-tune steps", value=defaults["epochs"] * defaults["steps_per_epoch"],
                             min=1, max=10000)
        self.steps.tooltip = "Optimizer steps of the round (a short schedule: the model is already trained)."
        self.run_button = PushButton(text="Fine-tune on my corrections")
        self.undo_button = PushButton(text="Undo fine-tune", enabled=False)
        self.result = Label(value="")
        self.result.native.setWordWrap(True)
        from qtpy.QtWidgets import QSizePolicy  # the row's whole width, not a narrow centred column of its own

        self.result.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        buttons = Container(widgets=[self.run_button, self.undo_button], layout="horizontal", labels=False)
        buttons.margins = (0, 0, 0, 0)
        super().__init__(widgets=[self.corrected, self.learn_from, self.steps, buttons, self.result])
        self.margins = (0, 0, 0, 0)
        self.result.visible = False
        self._buttons = buttons
        self._undo: list[tuple[dict, str]] = []
        self.run_button.changed.connect(self.start)
        self.undo_button.changed.connect(self.undo)

    def fill_row(self) -> None:
        """Take the whole width of the hosting widget's row (after it is placed in the widget)."""
        from .training_pairs import _hide_empty_row_label

        for widget in (self, self._buttons, self.result):
            _hide_empty_row_label(widget)

    def _labels_layers(self, _widget=None):
        layers = layers_of_type(self._host._viewer, "Labels")
        return sorted(layers, key=lambda lay: not is_prediction(lay))  # predictions first: what one corrects

    def _region_choices(self, _widget=None):
        corrected = unwrap(self.corrected.value) if hasattr(self, "corrected") else None
        layers = [lay for lay in layers_of_type(self._host._viewer, "Shapes") + self._labels_layers()
                  if not is_prediction(lay) and unwrap(lay) is not corrected]
        layers = [(f"inside '{lay.name}'", lay) for lay in layers]
        return [(WHOLE_IMAGE, WHOLE_IMAGE), (AROUND_EDITS, AROUND_EDITS), *layers]

    def refresh(self) -> None:
        reset_layer_choices(self.corrected, self.learn_from)

    def _region(self, corrected, labels):
        """(region mask or None, what it is) for the "learn from" choice; ValueError for a choice that cannot be."""
        from napari_segsuite.core.training.edits import edited_region

        from .training_pairs import region_mask

        choice = self.learn_from.value
        if choice is None or (isinstance(choice, str) and choice == WHOLE_IMAGE):
            return None, "the whole image"
        if isinstance(choice, str) and choice == AROUND_EDITS:
            predicted = self._host.prediction_of(corrected)
            if predicted is None:
                raise ValueError(f"'around my edits' compares the labels with the prediction as this widget added "
                                 f"it, and {corrected.name!r} is not one (or is a stack plane, or an older one): "
                                 "correct a prediction of this widget, or learn from the whole image or a region "
                                 "layer.")
            region = edited_region(predicted, labels, fraction=EDIT_MARGIN_FRACTIONS[self._host.kind])
            return region, f"around your edits ({region.mean():.0%} of the image)"
        if unwrap(choice) is unwrap(corrected):
            raise ValueError("the region layer cannot be the corrected labels themselves: choose a Shapes or Labels "
                             "layer marking where to learn, 'around my edits' or 'the whole image'.")
        return region_mask(choice, labels.shape), f"inside {choice.name!r}"

    def _schedule(self) -> dict:
        defaults = FINETUNE_DEFAULTS[self._host.kind]
        steps = int(self.steps.value)
        epochs = max(1, min(int(defaults["epochs"]), steps))
        return {"epochs": epochs, "steps_per_epoch": max(1, -(-steps // epochs))}

    def start(self, *_):
        """Start one fine-tuning round in the widget's worker; returns the worker (None if refused)."""
        from napari_segsuite.core.finetune import iter_finetune
        from napari_segsuite.core.training.triton import load_torch_without_triton

        w = self._host
        layer, corrected = w.predict_image.value, self.corrected.value
        try:
            if w.checkpoint is None:
                raise ValueError("no model to fine-tune: load or train one, predict, correct the result first.")
            if corrected is None:
                raise ValueError("choose the Labels layer you corrected (a prediction of the 'predict image').")
            image, channel_axis = image_data(layer)
            if image.ndim - (channel_axis is not None) != 2:
                raise ValueError("fine-tuning takes one 2D image; for a stack, train on layer pairs instead.")
            labels = labels_data(corrected).copy()  # the user may keep painting while the job runs
            region, where = self._region(corrected, labels)
            _, _, place = w.prediction_place(layer)
        except ValueError as exc:
            w.report(exc)
            return None
        load_torch_without_triton(torchvision=w.kind == "maskrcnn")  # on the main thread, before the worker
        previous, name = (w.checkpoint, w.origin), layer.name

        def shown(event):
            if event.info.get("stage") == "train" and event.info.get("epoch_end"):
                w.readout.value = f"fine-tuning, epoch {event.info['epoch']}: loss {event.info['loss']:.4f}"

        def returned(out):
            self._undo.append(previous)
            self.undo_button.enabled = True
            w.set_checkpoint(out["checkpoint"], "fine-tuned")
            inside = "" if region is None else " inside it"
            cells = f"{out['cells_scored']} cell" + ("s" if out["cells_scored"] != 1 else "")
            text = (f"learned from {where}. AP@0.5 against your corrections{inside} ({cells}): "
                    f"before {out['before_ap50']:.2f} -> after {out['after_ap50']:.2f} (the image trained on, not "
                    "held out; 'Undo fine-tune' restores the previous model)")
            self.result.value, self.result.visible = text, True
            if w.in_viewer(layer):
                w._add_result(name, out["result"], place, suffix=" fine-tuned")
            w.say(text)

        return w.jobs.start(iter_finetune, w.checkpoint, image, labels, region=region, channel_axis=channel_axis,
                            device=w.device.value, predict_kwargs=w.predict_options(), **self._schedule(),
                            on_yielded=shown, on_returned=returned)

    def undo(self, *_) -> bool:
        """Put back the model from before the last fine-tuning round."""
        if not self._undo:
            return False
        checkpoint, origin = self._undo.pop()
        self._host.set_checkpoint(checkpoint, origin)
        self.undo_button.enabled = bool(self._undo)
        self.result.value = "fine-tuning undone: the model from before the round is back"
        self._host.say(self.result.value)
        return True
