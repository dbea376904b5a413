"""U-Net dock widget: train on Image + Labels layer pairs or a dataset folder, predict, load/save models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import (
    UNET_DEFAULTS, UNET_PATCH_SIZE_CPU, UNET_PREDICT_DEFAULTS, sizes_for_diameter,
)

from ._model_base import ModelWidget
from .training_pairs import TrainingPairs

if TYPE_CHECKING:
    import napari

_MODEL_SIZES = {"auto (by device)": (None, None), "small, CPU (base 16, depth 3)": (16, 3),
                "tiny (base 8, depth 2)": (8, 2), "paper, GPU (base 64, depth 4)": (64, 4)}


class UNetWidget(ModelWidget):
    """Train a U-Net on corrected labels and predict cell instances (Ronneberger et al. 2015).

    The trained model lives on the widget (``self.checkpoint``) until it is saved; training and
    prediction run in a background thread with a progress bar and Cancel.
    """

    kind = "unet"
    title = "U-Net"
    sample_file = "unet_nuclei.pt"

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(viewer)
        self.training.fill_row()
        self.finetune.fill_row()
        self._watershed_changed()
        self.native.setMaximumWidth(460)

    def _build(self):
        # --- training
        self.training = TrainingPairs(self._viewer, report=self.report)
        self.epochs = SpinBox(label="epochs", value=UNET_DEFAULTS["epochs"], min=1, max=10000)
        self.steps = SpinBox(label="steps per epoch", value=UNET_DEFAULTS["steps_per_epoch"], min=1,
                             max=100000)
        self.patch_size = ComboBox(label="patch size", choices=[64, 128, 256, 512],
                                   value=UNET_DEFAULTS["patch_size"] or UNET_PATCH_SIZE_CPU)
        self.model_size = ComboBox(label="model size", choices=list(_MODEL_SIZES), value="auto (by device)")
        self.classes = ComboBox(label="classes", choices=[("2: background, cell", 2), ("3: + boundary", 3)],
                                value=UNET_DEFAULTS["n_classes"])
        self.device = ComboBox(label="device", choices=["auto", "cpu", "cuda", "mps"], value="auto")
        self.autosave = FileEdit(label="save every epoch to", mode="w", filter="*.pt", value="")
        self.train_button = PushButton(text="Train")
        # --- prediction
        predict = self._predict_section()
        self.probabilities = CheckBox(text="add the probability map", value=False)
        self.diameter.tooltip = ("Typical cell size. At the image's own scale it sets 'min size' (a quarter of "
                                 "such a cell's area) and the split seed distance (0.4 diameters); 0: set them "
                                 "yourself.")
        self.diameter.changed.connect(self._diameter_changed)
        self.threshold = FloatSpinBox(label="probability threshold", value=UNET_PREDICT_DEFAULTS["threshold"],
                                      min=0.05, max=0.95, step=0.05)
        self.threshold.tooltip = "A pixel is a cell where the model's cell probability is above this."
        self.min_size = SpinBox(label="min size (px)", value=UNET_PREDICT_DEFAULTS["min_size"], min=0, max=100000)
        self.watershed = CheckBox(text="split touching cells (watershed)", value=False)
        self.min_distance = SpinBox(label="split seeds at least (px)", value=UNET_PREDICT_DEFAULTS["min_distance"],
                                    min=1, max=1000)
        self.min_distance.tooltip = ("Watershed: the smallest distance between two seeds of a split. About half "
                                     "a cell's diameter; raise it if cells are cut into pieces.")
        self.watershed.changed.connect(self._watershed_changed)
        return [*self._model_section(),
                Label(value="<b>Train</b>"), self.training, *self._train_options(), self.epochs, self.steps,
                self.patch_size, self.model_size, self.classes, self.device, self.autosave, self.train_button,
                *predict, self.probabilities, self.threshold, self.min_size, self.watershed,
                self.min_distance,
                self.predict_button, *self._finetune_section(), self.jobs]

    def _diameter_changed(self, *_):
        if self.diameter.value > 0 and self.cell_size.value == "native":
            sizes = sizes_for_diameter(self.diameter.value)
            self.min_size.value, self.min_distance.value = sizes["min_size"], sizes["min_distance"]

    def _watershed_changed(self, *_):
        self.min_distance.enabled = bool(self.watershed.value)

    # ----------------------------------------------------------------- the model
    def _read_checkpoint(self, path: Path) -> dict:
        from napari_segsuite.core.unet.checkpoint import load_checkpoint

        return load_checkpoint(path, kind="unet")

    def _write_checkpoint(self, path: Path, ck: dict) -> None:
        from napari_segsuite.core.unet.checkpoint import save_checkpoint

        save_checkpoint(path, kind="unet", config=ck["config"], normalization=ck["normalization"],
                        state_dict=ck["state_dict"], history=ck.get("history"),
                        **{k: ck[k] for k in ("training", "resume") if k in ck})

    def _describe(self, ckpt: dict, origin: str) -> str:
        c = ckpt["config"]
        return (f"model ({origin}): base {c['base']}, depth {c['depth']}, {c['in_channels']} channel(s), "
                f"{c['n_classes']} classes")

    def _set_model(self, ckpt: dict, origin: str):  # the name train() uses
        self.set_checkpoint(ckpt, origin)

    def _error(self, exc: Exception):  # the name train() uses
        self.report(exc)

    # ----------------------------------------------------------------- actions
    def train(self, *_):
        """Start training in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.training.triton import load_torch_without_triton
        from napari_segsuite.core.unet.train import iter_train_unet

        try:
            data, channel_axis = self.training.training_data()
            init = self._init()
        except ValueError as exc:
            self._error(exc)
            return None
        base, depth = _MODEL_SIZES[self.model_size.value]
        autosave = str(self.autosave.value)
        checkpoint = autosave if autosave not in ("", ".") and not Path(autosave).is_dir() else None
        load_torch_without_triton()  # on the main thread, before the worker's first optimizer step

        def yielded(event):
            info = event.info
            if info.get("epoch_end"):
                val = (f", val IoU {info['val_iou']:.3f}, val AP@0.5 {info['val_ap50']:.3f}"
                       if info.get("val_ap50") is not None else ", no validation")
                self.readout.value = f"epoch {info['epoch']}: loss {info['loss']:.4f}{val}"

        def returned(ckpt):
            self._set_model(ckpt, "trained" if init is None else "fine-tuned")

        return self.jobs.start(iter_train_unet, data, epochs=int(self.epochs.value),
                               steps_per_epoch=int(self.steps.value), patch_size=int(self.patch_size.value),
                               base=base, depth=depth, n_classes=int(self.classes.value), device=self.device.value,
                               channel_axis=channel_axis, checkpoint_path=checkpoint, init=init,
                               on_yielded=yielded, on_returned=returned)

    # ----------------------------------------------------------------- prediction
    def _predict_job(self, image, channel_axis):
        from napari_segsuite.core.predict import iter_predict_stack
        from napari_segsuite.core.unet.infer import iter_predict_unet

        # a TZYX (or longer) gray stack runs as one stack of its planes (folded and unfolded in the worker)
        return iter_predict_stack, (iter_predict_unet, self.checkpoint, image), dict(
            channel_axis=channel_axis, device=self.device.value, **self.predict_options(),
            return_probabilities=bool(self.probabilities.value))  # the map costs 4 bytes a pixel: only if asked

    def predict_options(self) -> dict:
        return {**super().predict_options(), "threshold": float(self.threshold.value),
                "min_size": int(self.min_size.value), "watershed": bool(self.watershed.value),
                "min_distance": int(self.min_distance.value)}

    def _add_result(self, name: str, result, place, suffix: str = "") -> None:
        labels, prob = result if isinstance(result, tuple) else (result, None)
        if prob is not None:
            data, kwargs = place(prob)
            self._viewer.add_image(data, name=f"{name} U-Net{suffix} probability", colormap="magma",
                                   contrast_limits=(0.0, 1.0), blending="additive", **kwargs)
        data, kwargs = place(labels)
        self._add_labels(data, f"{name} U-Net{suffix}", **kwargs)
        self.say(f"{int(labels.max())} instances")
