"""Mask R-CNN dock widget: train on layer pairs or a dataset folder, load a checkpoint, predict instances."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, FileEdit, FloatSpinBox, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import MASKRCNN_DEFAULTS

from ._model_base import ModelWidget
from ._scores import ScoreFilter
from .training_pairs import TrainingPairs

if TYPE_CHECKING:
    import napari

__all__ = ["MaskRCNNWidget"]


class MaskRCNNWidget(ModelWidget):
    """Mask R-CNN instances: train, load a model, predict a Labels layer with scores and classes.

    Training pairs are (Image, Labels) layers added with "add pair" (a ``class`` column in the Labels
    layer's features gives classes), or a dataset folder. Prediction adds a Labels layer whose
    ``features`` table holds each instance's ``score`` and ``class``.
    """

    kind = "maskrcnn"
    title = "Mask R-CNN"
    sample_file = "maskrcnn_nuclei.pt"
    idle_status = "load or train a model"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.last_result = None
        super().__init__(viewer)
        self.training.fill_row()
        self.finetune.fill_row()
        _fill(self.scores)

    def _build(self):
        model = self._model_section()
        # the names this widget had before the model widgets shared their model section
        self.model_file, self.model_status = self.model_path, self.readout
        self.model_status.value = "no model loaded"
        # training
        self.training = TrainingPairs(self._viewer, report=self.report)
        self.backbone = ComboBox(label="backbone", choices=["auto", "resnet18_slim", "resnet50_fpn_v2"],
                                 value="auto")
        self.epochs = SpinBox(label="epochs", value=MASKRCNN_DEFAULTS["epochs"], min=1, max=1000)
        self.steps = SpinBox(label="steps per epoch", value=MASKRCNN_DEFAULTS["steps_per_epoch"], min=1,
                             max=10000)
        self.device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self.save_to = FileEdit(label="save model to", mode="w", filter="*.pt")
        self.train_button = PushButton(text="Train")
        # prediction
        predict = self._predict_section()
        self.image = self.predict_image  # this widget's name for it
        self.score_threshold = FloatSpinBox(label="score threshold", value=0.5, min=0.0, max=1.0, step=0.05)
        self.mask_threshold = FloatSpinBox(label="mask threshold", value=0.5, min=0.05, max=0.95, step=0.05)
        self.tile_size = SpinBox(label="tile size (0: whole)", value=512, min=0, max=8192, step=64)
        self.overlap = SpinBox(label="tile overlap", value=64, min=0, max=1024, step=8)
        self.scores = ScoreFilter()  # after a prediction: hide low scores without predicting again
        return [*model, Label(value="<b>Train</b>"), self.training, *self._train_options(), self.backbone,
                self.epochs, self.steps, self.device, self.save_to, self.train_button,
                *predict, self.score_threshold, self.mask_threshold, self.tile_size, self.overlap,
                self.predict_button, self.scores, *self._finetune_section(), self.jobs]

    # --- model ---------------------------------------------------------------------------------------
    def _read_checkpoint(self, path: Path) -> dict:
        from napari_segsuite.core.maskrcnn import load_maskrcnn_checkpoint

        return load_maskrcnn_checkpoint(path)

    def _write_checkpoint(self, path: Path, checkpoint: dict) -> None:
        from napari_segsuite.core.maskrcnn.checkpoint import save_maskrcnn_checkpoint

        save_maskrcnn_checkpoint(path, checkpoint)

    def _describe(self, checkpoint: dict, source: str) -> str:
        cfg = checkpoint["config"]  # the validation figure follows, with what it was measured on (figure_source)
        return f"{source}: {cfg['backbone']}, {cfg['in_channels']} channel(s), {cfg['num_classes'] - 1} class(es)"

    def load_model(self, *_, path=None) -> bool:
        """The former name of :meth:`load`."""
        return self.load(path=path)

    def _error(self, exc: Exception) -> None:  # the name train() uses
        self.report(exc)

    # --- training ------------------------------------------------------------------------------------
    def train(self, *_):
        """Train in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.maskrcnn.train import iter_train_maskrcnn
        from napari_segsuite.core.training.triton import load_torch_without_triton

        try:
            data, channel_axis = self.training.training_data(with_features=True)
            init = self._init()
            save = str(self.save_to.value).strip()
            save_path = Path(save) if save and save != "." and not Path(save).is_dir() else None
            if save_path is not None and save_path.suffix != ".pt":
                raise ValueError(f"{save_path}: the model file should end in .pt")
        except ValueError as exc:
            self._error(exc)
            return None
        config = {} if self.backbone.value == "auto" or init is not None else {"backbone": self.backbone.value}
        load_torch_without_triton(torchvision=True)  # on the main thread: see core.training.triton

        def done(checkpoint):
            how = "trained" if init is None else "fine-tuned"
            self.set_checkpoint(checkpoint, how + (f" -> {save_path.name}" if save_path else ""))

        def show(event):
            ap = event.info.get("val_ap50")
            if ap is not None:
                self.model_status.value = (f"epoch {event.info['epoch']}: loss {event.info['loss']:.3f}, "
                                           f"val AP@0.5 {ap:.2f}")

        return self.jobs.start(iter_train_maskrcnn, data, config=config, epochs=self.epochs.value,
                               steps_per_epoch=self.steps.value, device=self.device.value,
                               channel_axis=channel_axis, checkpoint_path=save_path, init=init, on_returned=done,
                               on_yielded=show)

    # --- prediction ----------------------------------------------------------------------------------
    def _predict_job(self, image, channel_axis):
        from napari_segsuite.core.maskrcnn import iter_predict_maskrcnn
        from napari_segsuite.core.training.triton import load_torch_without_triton

        load_torch_without_triton(torchvision=True)  # on the main thread: see core.training.triton
        return iter_predict_maskrcnn, (self.checkpoint, image), dict(
            channel_axis=channel_axis, device=self.device.value, **self.predict_options())

    def predict_options(self) -> dict:
        return {**super().predict_options(), "tile_size": self.tile_size.value or None,
                "overlap": self.overlap.value, "score_threshold": self.score_threshold.value,
                "mask_threshold": self.mask_threshold.value, "return_table": True}

    def _add_result(self, name: str, result, place, suffix: str = "") -> None:
        labels, table = result
        self.last_result = result  # whole: the score filter hides and shows instances from it
        # napari matches feature rows to label values through the 'index' column
        features = {"index": table["label"], **{k: v for k, v in table.items() if k != "label"}}
        data, kwargs = place(labels)
        layer = self._add_labels(data, f"{name} Mask R-CNN{suffix}", features=features, **kwargs)
        self.scores.attach(layer, data, table, floor=float(self.score_threshold.value))
        self.say(f"{len(table['label'])} instances")


def _fill(widget) -> None:
    from .training_pairs import _hide_empty_row_label

    _hide_empty_row_label(widget)
