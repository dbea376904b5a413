"""U-Net dock widget: train on Image + Labels layer pairs or a dataset folder, predict, load/save models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, FileEdit, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import UNET_DEFAULTS, UNET_PATCH_SIZE_CPU

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
        self.min_size = SpinBox(label="min size (px)", value=10, min=0, max=100000)
        self.watershed = CheckBox(text="split touching cells (watershed)", value=False)
        return [*self._model_section(),
                Label(value="<b>Train</b>"), self.training, self.epochs, self.steps, self.patch_size,
                self.model_size, self.classes, self.device, self.autosave, self.train_button,
                *predict, self.probabilities, self.min_size, self.watershed, self.predict_button, self.jobs]

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
        h = ckpt.get("history", {})
        best = max((v for v in h.get("val_ap50", []) if v == v), default=None)
        return (f"model ({origin}): base {c['base']}, depth {c['depth']}, {c['in_channels']} channel(s), "
                f"{c['n_classes']} classes" + (f"; best val AP@0.5 {best:.3f}" if best is not None else ""))

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
            self._set_model(ckpt, "trained")

        return self.jobs.start(iter_train_unet, data, epochs=int(self.epochs.value),
                               steps_per_epoch=int(self.steps.value), patch_size=int(self.patch_size.value),
                               base=base, depth=depth, n_classes=int(self.classes.value), device=self.device.value,
                               channel_axis=channel_axis, checkpoint_path=checkpoint,
                               on_yielded=yielded, on_returned=returned)

    # ----------------------------------------------------------------- prediction
    def _predict_job(self, image, channel_axis):
        from napari_segsuite.core.predict import iter_predict_stack
        from napari_segsuite.core.unet.infer import iter_predict_unet

        # a TZYX (or longer) gray stack runs as one stack of its planes (folded and unfolded in the worker)
        return iter_predict_stack, (iter_predict_unet, self.checkpoint, image), dict(
            channel_axis=channel_axis, device=self.device.value, min_size=int(self.min_size.value),
            watershed=bool(self.watershed.value),
            return_probabilities=bool(self.probabilities.value))  # the map costs 4 bytes a pixel: only if asked

    def _add_result(self, name: str, result, place) -> None:
        labels, prob = result if isinstance(result, tuple) else (result, None)
        if prob is not None:
            data, kwargs = place(prob)
            self._viewer.add_image(data, name=f"{name} U-Net probability", colormap="magma",
                                   contrast_limits=(0.0, 1.0), blending="additive", **kwargs)
        data, kwargs = place(labels)
        self._viewer.add_labels(data, name=f"{name} U-Net", **kwargs)
        self.say(f"{int(labels.max())} instances")
