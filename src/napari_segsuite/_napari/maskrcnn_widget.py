"""Mask R-CNN dock widget: train on layer pairs or a dataset folder, load a checkpoint, predict instances."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import MASKRCNN_DEFAULTS

from ._jobs import JobControls
from ._layers import layer_in_viewer, layers_of_type, prediction_input, reset_layer_choices
from .training_pairs import TrainingPairs

if TYPE_CHECKING:
    import napari

__all__ = ["MaskRCNNWidget"]


class MaskRCNNWidget(Container):
    """Mask R-CNN instances: train, load a model, predict a Labels layer with scores and classes.

    Training pairs are (Image, Labels) layers added with "add pair" (a ``class`` column in the Labels
    layer's features gives classes), or a dataset folder. Prediction adds a Labels layer whose
    ``features`` table holds each instance's ``score`` and ``class``.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        self._viewer = viewer
        self.checkpoint: dict | None = None
        self.last_result = None
        self.jobs = JobControls("load or train a model")
        # model
        self.model_file = FileEdit(label="model file", mode="r", filter="*.pt")
        self.load_button = PushButton(text="Load model")
        self.sample_button = PushButton(text="Load sample model")
        self.model_status = Label(value="no model loaded")
        # training
        self.training = TrainingPairs(viewer, report=self.jobs.report)
        self.backbone = ComboBox(label="backbone", choices=["auto", "resnet18_slim", "resnet50_fpn_v2"], value="auto")
        self.epochs = SpinBox(label="epochs", value=MASKRCNN_DEFAULTS["epochs"], min=1, max=1000)
        self.steps = SpinBox(label="steps per epoch", value=MASKRCNN_DEFAULTS["steps_per_epoch"], min=1,
                             max=10000)
        self.device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self.save_to = FileEdit(label="save model to", mode="w", filter="*.pt")
        self.train_button = PushButton(text="Train")
        # prediction
        self.image = ComboBox(label="predict image", choices=self._image_layers)
        self.whole_stack = CheckBox(text="every plane of a stack", value=True)
        self.whole_stack.tooltip = "Off: only the plane shown in the viewer (faster on a CPU)."
        self.score_threshold = FloatSpinBox(label="score threshold", value=0.5, min=0.0, max=1.0, step=0.05)
        self.mask_threshold = FloatSpinBox(label="mask threshold", value=0.5, min=0.05, max=0.95, step=0.05)
        self.tile_size = SpinBox(label="tile size (0: whole)", value=512, min=0, max=8192, step=64)
        self.overlap = SpinBox(label="tile overlap", value=64, min=0, max=1024, step=8)
        self.predict_button = PushButton(text="Predict")
        super().__init__(widgets=[
            Label(value="<b>Model</b>"), self.model_file, self.load_button, self.sample_button, self.model_status,
            Label(value="<b>Train</b>"), self.training, self.backbone, self.epochs, self.steps,
            self.device, self.save_to, self.train_button,
            Label(value="<b>Predict</b>"), self.image, self.whole_stack, self.score_threshold, self.mask_threshold,
            self.tile_size, self.overlap, self.predict_button, self.jobs,
        ])
        self.training.fill_row()
        self.load_button.changed.connect(self.load_model)
        self.sample_button.changed.connect(self.load_sample_model)
        self.train_button.changed.connect(self.train)
        self.predict_button.changed.connect(self.predict)
        self.jobs.on_running_changed.append(self._set_running)
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    # --- layer choices -------------------------------------------------------------------------------
    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def _refresh(self, *_):
        reset_layer_choices(self.image)

    def _set_running(self, running: bool):
        for button in (self.train_button, self.predict_button, self.load_button, self.sample_button):
            button.enabled = not running

    def _error(self, exc: Exception) -> None:
        self.jobs.report(exc)

    # --- model ---------------------------------------------------------------------------------------
    def set_checkpoint(self, checkpoint: dict, source: str) -> None:
        """Use ``checkpoint`` for prediction and describe it in the model status line."""
        self.checkpoint = checkpoint
        cfg, hist = checkpoint["config"], checkpoint.get("history", {})
        best = hist.get("best_val_ap50")
        self.model_status.value = (f"{source}: {cfg['backbone']}, {cfg['in_channels']} channel(s), "
                                   f"{cfg['num_classes'] - 1} class(es)"
                                   + (f", val AP@0.5 {best:.2f}" if isinstance(best, float) else ""))

    def load_model(self, *_, path=None) -> bool:
        """Load a Mask R-CNN checkpoint; other kinds and bad files are refused with a notification."""
        from napari_segsuite.core.maskrcnn import load_maskrcnn_checkpoint

        target = path if path is not None else self.model_file.value
        try:
            if target is None or not str(target).strip() or Path(target).is_dir():
                raise ValueError("choose a model file (.pt) first.")
            path = Path(target)
            checkpoint = load_maskrcnn_checkpoint(path)
        except (ValueError, FileNotFoundError) as exc:
            self._error(exc)
            return False
        self.set_checkpoint(checkpoint, path.name)
        self.jobs.set_status(f"loaded {path.name}")
        return True

    def load_sample_model(self, *_) -> bool:
        """Load the small model shipped with the plugin (trained on the sample nuclei)."""
        from napari_segsuite.core.samples import sample_path

        try:
            return self.load_model(path=sample_path("maskrcnn_nuclei.pt"))
        except FileNotFoundError as exc:
            self._error(exc)
            return False

    # --- training ------------------------------------------------------------------------------------
    def train(self, *_):
        """Train in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.maskrcnn.train import iter_train_maskrcnn
        from napari_segsuite.core.training.triton import load_torch_without_triton

        try:
            data, channel_axis = self.training.training_data(with_features=True)
            save = str(self.save_to.value).strip()
            save_path = Path(save) if save and save != "." and not Path(save).is_dir() else None
            if save_path is not None and save_path.suffix != ".pt":
                raise ValueError(f"{save_path}: the model file should end in .pt")
        except ValueError as exc:
            self._error(exc)
            return None
        config = {} if self.backbone.value == "auto" else {"backbone": self.backbone.value}
        load_torch_without_triton(torchvision=True)  # on the main thread: see core.training.triton

        def done(checkpoint):
            self.set_checkpoint(checkpoint, "trained" + (f" -> {save_path.name}" if save_path else ""))

        def show(event):
            ap = event.info.get("val_ap50")
            if ap is not None:
                self.model_status.value = f"epoch {event.info['epoch']}: loss {event.info['loss']:.3f}, val AP@0.5 {ap:.2f}"

        return self.jobs.start(iter_train_maskrcnn, data, config=config, epochs=self.epochs.value,
                               steps_per_epoch=self.steps.value, device=self.device.value,
                               channel_axis=channel_axis, checkpoint_path=save_path, on_returned=done,
                               on_yielded=show)

    # --- prediction ----------------------------------------------------------------------------------
    def predict(self, *_):
        """Predict on the chosen image in a worker; adds a Labels layer. Returns the worker (or None)."""
        from napari_segsuite.core.maskrcnn import iter_predict_maskrcnn
        from napari_segsuite.core.training.triton import load_torch_without_triton

        layer = self.image.value
        try:
            if self.checkpoint is None:
                raise ValueError("load or train a Mask R-CNN model first.")
            image, channel_axis, place = prediction_input(self._viewer, layer, bool(self.whole_stack.value))
        except ValueError as exc:
            self._error(exc)
            return None
        load_torch_without_triton(torchvision=True)  # on the main thread: see core.training.triton

        def done(result):
            labels, table = result
            self.last_result = result
            if not layer_in_viewer(self._viewer, layer):
                from napari.utils.notifications import show_warning

                show_warning(f"'{layer.name}' was removed while Mask R-CNN ran; the prediction was not added.")
                return
            # napari matches feature rows to label values through the 'index' column
            features = {"index": table["label"], **{k: v for k, v in table.items() if k != "label"}}
            data, kwargs = place(labels)
            self._viewer.add_labels(data, name=f"{layer.name} Mask R-CNN", features=features, **kwargs)
            self.jobs.set_status(f"{len(table['label'])} instances")

        return self.jobs.start(iter_predict_maskrcnn, self.checkpoint, image, channel_axis=channel_axis,
                               tile_size=self.tile_size.value or None, overlap=self.overlap.value,
                               score_threshold=self.score_threshold.value, mask_threshold=self.mask_threshold.value,
                               device=self.device.value, return_table=True, on_returned=done)
