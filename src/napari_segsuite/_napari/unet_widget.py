"""U-Net dock widget: train on Image + Labels layer pairs or a dataset folder, predict, load/save models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton, SpinBox

from napari_segsuite.core.training.defaults import UNET_DEFAULTS, UNET_PATCH_SIZE_CPU

from ._jobs import JobControls
from ._layers import layers_of_type, prediction_input, reset_layer_choices
from .training_pairs import TrainingPairs

if TYPE_CHECKING:
    import napari

_MODEL_SIZES = {"auto (by device)": (None, None), "small, CPU (base 16, depth 3)": (16, 3),
                "tiny (base 8, depth 2)": (8, 2), "paper, GPU (base 64, depth 4)": (64, 4)}


class UNetWidget(Container):
    """Train a U-Net on corrected labels and predict cell instances (Ronneberger et al. 2015).

    The trained model lives on the widget (``self.checkpoint``) until it is saved; training and
    prediction run in a background thread with a progress bar and Cancel.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        self._viewer = viewer
        self.checkpoint: dict | None = None
        self.jobs = JobControls("load a model or train one")
        # --- training
        self.training = TrainingPairs(viewer, report=self.jobs.report)
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
        self.readout = Label(value="no model yet")
        # --- prediction
        self.predict_image = ComboBox(label="predict image", choices=self._image_layers)
        self.whole_stack = CheckBox(text="every plane of a stack", value=True)
        self.probabilities = CheckBox(text="add the probability map", value=False)
        self.min_size = SpinBox(label="min size (px)", value=10, min=0, max=100000)
        self.watershed = CheckBox(text="split touching cells (watershed)", value=False)
        self.predict_button = PushButton(text="Predict")
        # --- checkpoints
        self.model_path = FileEdit(label="model file", mode="r", filter="*.pt")
        self.load_button = PushButton(text="Load model")
        self.sample_button = PushButton(text="Load sample model")
        self.sample_button.tooltip = "The small model shipped with the plugin, trained on the sample nuclei."
        self.save_path = FileEdit(label="save as", mode="w", filter="*.pt")
        self.save_button = PushButton(text="Save model")
        super().__init__(widgets=[
            Label(value="<b>Model</b>"), self.model_path, self.load_button, self.sample_button, self.readout,
            self.save_path, self.save_button,
            Label(value="<b>Train</b>"), self.training, self.epochs, self.steps, self.patch_size, self.model_size,
            self.classes, self.device, self.autosave, self.train_button,
            Label(value="<b>Predict</b>"), self.predict_image, self.whole_stack, self.probabilities,
            self.min_size, self.watershed, self.predict_button,
            self.jobs])
        self.training.fill_row()
        self.readout.native.setWordWrap(True)  # a long readout wraps instead of widening the dock
        self.native.setMaximumWidth(460)
        self.train_button.changed.connect(self.train)
        self.predict_button.changed.connect(self.predict)
        self.load_button.changed.connect(self.load)
        self.sample_button.changed.connect(self.load_sample_model)
        self.save_button.changed.connect(self.save)
        self.jobs.on_running_changed.append(self._running_changed)
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    # ----------------------------------------------------------------- helpers
    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def _refresh(self, *_):
        reset_layer_choices(self.predict_image)

    def _running_changed(self, running: bool):
        for b in (self.train_button, self.predict_button, self.load_button, self.sample_button, self.save_button):
            b.enabled = not running

    def _error(self, exc: Exception):
        self.jobs.report(exc)

    def _set_model(self, ckpt: dict, origin: str):
        self.checkpoint = ckpt
        c = ckpt["config"]
        h = ckpt.get("history", {})
        best = max((v for v in h.get("val_ap50", []) if v == v), default=None)
        self.readout.value = (f"model ({origin}): base {c['base']}, depth {c['depth']}, {c['in_channels']} channel(s), "
                              f"{c['n_classes']} classes" + (f"; best val AP@0.5 {best:.3f}" if best is not None else ""))

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

    def predict(self, *_):
        """Predict the chosen image (or every plane of a stack) in a worker; returns the worker."""
        from napari_segsuite.core.unet.infer import iter_predict_unet

        layer = self.predict_image.value
        try:
            if self.checkpoint is None:
                raise ValueError("no model: train one or load a model file first.")
            image, channel_axis, place = prediction_input(self._viewer, layer, bool(self.whole_stack.value))
        except ValueError as exc:
            self._error(exc)
            return None
        name = layer.name
        # the core takes one stack axis: a TZYX (or longer) gray stack runs as one ZYX stack of its planes
        # (a 4D image without channel_axis would be read as ZYX + channels)
        stack_shape = image.shape[:-2] if channel_axis is None and image.ndim > 3 else None
        if stack_shape is not None:
            image = image.reshape(-1, *image.shape[-2:])
        with_prob = bool(self.probabilities.value)  # the map costs 4 bytes per pixel: only when asked for

        def returned(result):
            labels, prob = result if with_prob else (result, None)
            if stack_shape is not None:
                labels = labels.reshape(*stack_shape, *labels.shape[-2:])
                prob = None if prob is None else prob.reshape(labels.shape)
            if prob is not None:
                data, kwargs = place(prob)
                self._viewer.add_image(data, name=f"{name} U-Net probability", colormap="magma",
                                       contrast_limits=(0.0, 1.0), blending="additive", **kwargs)
            data, kwargs = place(labels)
            self._viewer.add_labels(data, name=f"{name} U-Net", **kwargs)
            self.jobs.set_status(f"{int(labels.max())} instances")

        return self.jobs.start(iter_predict_unet, self.checkpoint, image, channel_axis=channel_axis,
                               device=self.device.value, min_size=int(self.min_size.value),
                               watershed=bool(self.watershed.value), return_probabilities=with_prob,
                               on_returned=returned)

    def load(self, *_, path=None) -> bool:
        """Load the model file chosen in ``model_path`` (or ``path``); bad files are refused with a notice."""
        from napari_segsuite.core.unet.checkpoint import load_checkpoint

        target = Path(path if path is not None else self.model_path.value)
        try:
            if path is None and str(self.model_path.value).strip() in ("", "."):
                raise ValueError("choose a model file (.pt) first, or press 'Load sample model'.")
            ckpt = load_checkpoint(target, kind="unet")
        except (ValueError, FileNotFoundError) as exc:
            self._error(exc)
            return False
        self._set_model(ckpt, target.name)
        self.jobs.set_status(f"loaded {target.name}")
        return True

    def load_sample_model(self, *_) -> bool:
        """Load the small U-Net shipped with the plugin (trained on the sample nuclei by the project's script)."""
        from napari_segsuite.core.samples import sample_path

        try:
            return self.load(path=sample_path("unet_nuclei.pt"))
        except FileNotFoundError as exc:
            self._error(exc)
            return False

    def save(self, *_):
        """Save the current model to ``save_path`` (atomically)."""
        from napari_segsuite.core.unet.checkpoint import save_checkpoint

        try:
            if self.checkpoint is None:
                raise ValueError("no model to save: train or load one first.")
            path = Path(self.save_path.value)
            if not str(self.save_path.value) or path.is_dir():
                raise ValueError("choose a file name to save the model to.")
            if path.suffix != ".pt":
                path = path.with_suffix(".pt")
            ck = self.checkpoint
            save_checkpoint(path, kind="unet", config=ck["config"], normalization=ck["normalization"],
                            state_dict=ck["state_dict"], history=ck.get("history"),
                            **{k: ck[k] for k in ("training", "resume") if k in ck})
        except (ValueError, OSError) as exc:
            self._error(exc)
            return
        self.jobs.set_status(f"saved {path.name}")
