"""What the model widgets (U-Net, Mask R-CNN) share: one model, loaded, trained, saved and predicted with.

:class:`ModelWidget` gives both the same methods (``load``, ``load_sample_model``, ``save``, ``predict``,
``set_checkpoint``; ``train`` is each backend's own), the same model section (a file to load, the sample
model, a readout saying where its figure comes from, a file to save to), the same predict options (what to do
with a colour image and a gray model) and the correction loop (:mod:`._finetune`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, Label, PushButton, SpinBox

from . import _large
from ._base import JobWidget
from ._layers import ROLE_KEY, layer_in_viewer, layers_of_type, prediction_input, unwrap
from ._readout import figure_source

__all__ = ["ModelWidget", "CONVERT_CHOICES", "SIZE_CHOICES"]

#: "cell size" choices of the predict section: (shown text, how ``diameter=`` is set)
SIZE_CHOICES = [("the image's own scale", "native"), ("estimate it, rescale to the model", "auto"),
                ("the diameter below, rescale to the model", "given")]

#: "colour image -> gray model" choices of the predict section: (shown text, ``convert=`` of the predictors)
CONVERT_CHOICES = [("none (refuse)", None), ("hematoxylin (H&E)", "hematoxylin"), ("channel mean", "gray")]
#: how many predictions the widget keeps a copy of, as they were added (for "around my edits"; the newest kept)
KEPT_PREDICTIONS = 4
_CONVERT_HINT = ("In this widget: choose 'hematoxylin (H&E)' or 'channel mean' in 'colour -> gray model' "
                 "(Predict section).")


def _hinted(gen_func):
    """``gen_func`` whose refusal of a colour image by a gray model names the widget's choice that lets it in."""

    def hinted(*args, **kwargs):
        try:
            return (yield from gen_func(*args, **kwargs))
        except ValueError as exc:
            if "trained on gray images and this image has colour" in str(exc):
                raise ValueError(f"{exc} {_CONVERT_HINT}") from exc
            raise

    return hinted



class ModelWidget(JobWidget):
    """A JobWidget holding one model checkpoint (``self.checkpoint``) of :attr:`kind`.

    Subclasses set ``kind``, ``title`` (the result layer's suffix) and ``sample_file``, and implement
    ``_read_checkpoint(path)``, ``_write_checkpoint(path, checkpoint)``,
    ``_describe(checkpoint, origin)``, ``train()`` and ``_predict_job()``.
    """

    kind = ""
    title = ""
    sample_file = ""
    idle_status = "load a model or train one"

    def __init__(self, viewer):
        from ._finetune import FinetuneSection

        self.checkpoint: dict | None = None
        self.checkpoint_file: Path | None = None  # the file the checkpoint was loaded from, unchanged since
        self.origin = ""
        self._viewer = viewer
        self._predicted: list[tuple] = []  # (layer, its labels as added): 2D in-memory predictions, newest last
        self.finetune = FinetuneSection(self)
        super().__init__(viewer)
        self.load_button.changed.connect(self.load)
        self.sample_button.changed.connect(self.load_sample_model)
        self.save_button.changed.connect(self.save)
        self.train_button.changed.connect(self.train)
        self.predict_button.changed.connect(self.predict)
        self.readout.native.setWordWrap(True)  # a long readout wraps instead of widening the dock

    # -- sections -----------------------------------------------------------------------------------
    def _model_section(self) -> list:
        self.model_path = FileEdit(label="model file", mode="r", filter="*.pt")
        self.load_button = PushButton(text="Load model")
        self.sample_button = PushButton(text="Load sample model")
        self.sample_button.tooltip = "The small model shipped with the plugin, trained on the sample nuclei."
        self.readout = Label(value="no model yet")
        self.save_path = FileEdit(label="save as", mode="w", filter="*.pt")
        self.save_button = PushButton(text="Save model")
        return [Label(value="<b>Model</b>"), self.model_path, self.load_button, self.sample_button,
                self.readout, self.save_path, self.save_button]

    def _predict_section(self) -> list:
        self.predict_image = ComboBox(label="predict image", choices=self._image_layers)
        self.whole_stack = CheckBox(text="every plane of a stack", value=True)
        self.whole_stack.tooltip = "Off: only the plane shown in the viewer (faster on a CPU)."
        self.predict_button = PushButton(text="Predict")
        self.convert = ComboBox(label="colour -> gray model", choices=CONVERT_CHOICES, value=None)
        self.convert.tooltip = ("A colour image meeting a model trained on gray images: refuse it, take its "
                                "hematoxylin stain (H&E: nuclei bright, as in fluorescence), or the channel mean.")
        self.large_output = FileEdit(label="large images: write labels to", mode="w", filter="*.ome.zarr", value="")
        self.large_output.tooltip = (
            "A dask or zarr layer over 4096 x 4096 pixels a plane is predicted block by block into this OME-Zarr "
            "folder (empty: a folder named after the layer in the temporary folder), never loaded whole; "
            "the result layer reads it from disk. Cancel keeps the finished blocks: predict again to resume.")
        self.cell_size = ComboBox(label="cell size", choices=SIZE_CHOICES, value="native")
        self.cell_size.tooltip = ("Models that record the cell size they were trained at (the sample models do) "
                                  "predict 2D images rescaled to it: cells of any size meet the model at its own. "
                                  "Estimated, or from the diameter you give.")
        self.diameter = SpinBox(label="cell diameter (px)", value=0, min=0, max=10000)
        return [Label(value="<b>Predict</b>"), self.predict_image, self.whole_stack, self.convert,
                self.cell_size, self.diameter, self.large_output]

    def _train_options(self) -> list:
        self.from_loaded = CheckBox(text="start from the loaded model (fine-tune)", value=False)
        self.from_loaded.tooltip = "Off: a new model from scratch replaces the loaded one."
        return [self.from_loaded]

    def _finetune_section(self) -> list:
        return [Label(value="<b>Correct and fine-tune</b>"), self.finetune]

    def _init(self):
        """The checkpoint training starts from (``init=``): the loaded model if asked, else None."""
        if not self.from_loaded.value:
            return None
        if self.checkpoint is None:
            raise ValueError("'start from the loaded model' is on but no model is loaded: load one, or untick it.")
        return self.checkpoint

    def _busy_buttons(self):
        return (self.train_button, self.predict_button, self.load_button, self.sample_button,
                self.save_button, self.finetune.run_button, self.finetune.undo_button)

    def _running_changed(self, running: bool) -> None:
        super()._running_changed(running)
        self.finetune.undo_button.enabled = not running and bool(self.finetune._undo)

    def _layer_choices(self):
        return (self.predict_image,)

    def _refresh(self, *_):
        super()._refresh()
        self._predicted = [(lay, data) for lay, data in self._predicted if layer_in_viewer(self._viewer, lay)]
        self.finetune.refresh()

    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    # -- the model ----------------------------------------------------------------------------------
    def set_checkpoint(self, checkpoint: dict, origin: str) -> None:
        """Use ``checkpoint`` for prediction (and saving) and describe it in the readout."""
        from napari_segsuite.core.diameter import model_diameter

        self.checkpoint, self.origin, self.checkpoint_file = checkpoint, origin, None
        sized = model_diameter(checkpoint)
        self.cell_size.value = "auto" if sized else "native"
        self.cell_size.enabled = bool(sized)
        self.cell_size.tooltip = (f"This model was trained on cells about {sized:.0f} px across; 2D images can be "
                                  "rescaled so their cells meet it at that size." if sized else
                                  "This model does not record the cell size it was trained at: images are "
                                  "predicted at their own scale.")
        source = figure_source(checkpoint.get("history"), origin, sample=origin == self.sample_file)
        self.readout.value = self._describe(checkpoint, origin) + (f"; {source}" if source else "")

    def load(self, *_, path=None) -> bool:
        """Load the model file chosen in ``model_path`` (or ``path``); bad files are refused with a notice."""
        chosen = path if path is not None else self.model_path.value
        try:
            if chosen is None or str(chosen).strip() in ("", ".") or Path(chosen).is_dir():
                raise ValueError("choose a model file (.pt) first, or press 'Load sample model'.")
            target = Path(chosen)
            checkpoint = self._read_checkpoint(target)
        except (ValueError, FileNotFoundError) as exc:
            self.report(exc)
            return False
        self.set_checkpoint(checkpoint, target.name)
        self.checkpoint_file = target.resolve()
        self.say(f"loaded {target.name}")
        return True

    def load_sample_model(self, *_) -> bool:
        """Load the small model shipped with the plugin (trained on the sample nuclei)."""
        from napari_segsuite.core.samples import sample_path

        try:
            return self.load(path=sample_path(self.sample_file))
        except FileNotFoundError as exc:
            self.report(exc)
            return False

    def save(self, *_) -> bool:
        """Save the current model to ``save_path`` (atomically, as a ``.pt`` checkpoint)."""
        try:
            if self.checkpoint is None:
                raise ValueError("no model to save: train or load one first.")
            path = Path(self.save_path.value)
            if not str(self.save_path.value) or path.is_dir():
                raise ValueError("choose a file name to save the model to.")
            if path.suffix != ".pt":
                path = path.with_suffix(".pt")
            self._write_checkpoint(path, self.checkpoint)
        except (ValueError, OSError) as exc:
            self.report(exc)
            return False
        self.say(f"saved {path.name}")
        return True

    # -- prediction ---------------------------------------------------------------------------------
    def predict_options(self) -> dict:
        """The predictor's keyword arguments from the predict section (``channel_axis`` and ``device`` aside).

        Raises ValueError when "the diameter below" is chosen without a diameter.
        """
        options = {"convert": self.convert.value}
        mode = self.cell_size.value if self.cell_size.enabled else "native"
        if mode == "auto":
            options["diameter"] = "auto"
        elif mode == "given":
            if not self.diameter.value > 0:
                raise ValueError("give the cells' diameter in pixels, or choose another 'cell size'.")
            options["diameter"] = float(self.diameter.value)
        return options

    def prediction_place(self, layer):
        """``prediction_input`` of one plane: ``(image, channel_axis, place)`` (fine-tuning takes 2D images)."""
        return prediction_input(self._viewer, layer, False)

    def _add_labels(self, data, name: str, **kwargs):
        """Add a prediction's Labels layer, marked as one (the training chooser never preselects it).

        A 2D in-memory prediction is also kept as added (a copy: the user paints into the layer's array), so
        fine-tuning can find what the user changed (:meth:`prediction_of`); the newest ``KEPT_PREDICTIONS``
        whose layers are in the viewer are kept.
        """
        metadata = {ROLE_KEY: "prediction", "segsuite_model": self.kind}
        layer = self._viewer.add_labels(data, name=name, metadata=metadata, **kwargs)
        if isinstance(data, np.ndarray) and data.ndim == 2:
            self._predicted = [*self._predicted, (unwrap(layer), data.copy())][-KEPT_PREDICTIONS:]
        return layer

    def prediction_of(self, layer) -> np.ndarray | None:
        """The labels of ``layer`` as this widget added them (before any correction), or None if not kept."""
        target = unwrap(layer)
        return next((data for lay, data in self._predicted if lay is target), None)

    def predict(self, *_):
        """Predict the chosen image (or the shown plane of a stack) in a worker; returns the worker or None.

        The layer's data goes to the worker unread; the result is added as a Labels layer (and whatever
        :meth:`_add_result` adds) on the layer's plane, scale and translate.
        """
        layer = self.predict_image.value
        try:
            if self.checkpoint is None:
                raise ValueError("no model: load or train one first.")
            image, channel_axis, place = prediction_input(self._viewer, layer, bool(self.whole_stack.value))
            if _large.is_large(image, channel_axis):  # block by block into a file, never read whole
                return _large.predict_large(self, layer, image, channel_axis, place)
            gen, args, kwargs = self._predict_job(image, channel_axis)
        except ValueError as exc:
            self.report(exc)
            return None

        def returned(result):
            if not self.in_viewer(layer):
                from napari.utils.notifications import show_warning

                show_warning(f"'{layer.name}' was removed while {self.title} ran; the prediction was not "
                             "added.")
                return
            self._add_result(layer.name, result, place)

        return self.jobs.start(_hinted(gen), *args, on_returned=returned, **kwargs)
