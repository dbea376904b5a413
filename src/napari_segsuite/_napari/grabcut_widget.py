"""GrabCut dock widget: Image + Shapes rectangles and/or Points on cells -> one Labels instance each.

The caching of box results between runs and the painting into the output labels live in
:class:`napari_segsuite.core.graphcut.session.GrabCutSession`; the worker job in :mod:`.grabcut_job`; the
click mode in :mod:`.grabcut_click`. This widget reads the layers and shows the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, Label, PushButton, SpinBox

from napari_segsuite.core.graphcut.checks import DEFAULT_PARAMS, NUCLEUS_DEFAULTS

from ._base import JobWidget
from ._jobs import short_list
from ._layers import editable_labels_data, image_data, layers_of_type, set_role, spatial_kwargs, unwrap
from .grabcut_click import ClickMode
from .grabcut_inputs import read_inputs
from .grabcut_job import grabcut_job

if TYPE_CHECKING:
    import napari

_NEW = "new Labels layer"
LEGEND = "scribbles: paint 1 = foreground (the cell), 2 = background"


class GrabCutWidget(ClickMode, JobWidget):
    """Draw rectangles around cells (or click cells); each becomes one instance in a Labels layer.

    Scribbles in a Labels layer (1 = foreground, 2 = background) become hard constraints; re-running
    recomputes only the boxes whose rectangle, pixels, scribbles, prior or parameters changed. Every
    rectangle and point keeps its instance id for as long as it exists (ids live in the layers' features).
    """

    idle_status = "draw rectangles (or click mode), then Run"

    def __init__(self, viewer: napari.viewer.Viewer):
        from napari_segsuite.core.graphcut.session import GrabCutSession

        self.session = GrabCutSession()
        self.notices: list[str] = []
        self._told_empty: set = set()  # keys of the empty boxes / points already reported
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)
        self.add_shapes_button.changed.connect(self.add_shapes_layer)
        self.add_scribbles_button.changed.connect(self.add_scribble_layer)
        self.click_mode.changed.connect(self._click_mode_changed)
        self.use_model.changed.connect(self._use_model_changed)

    def _build(self):
        self.image = ComboBox(label="image", choices=self._layers_of("Image"))
        self.shapes = ComboBox(label="rectangles", choices=self._optional("Shapes", "none"))
        self.points = ComboBox(label="cells (points)", choices=self._optional("Points", "none"))
        self.scribbles = ComboBox(label="scribbles", choices=self._optional("Labels", "none"))
        self.legend = Label(value=LEGEND)
        self.legend.native.setWordWrap(True)
        self.scribbles.tooltip = ("Labels layer of hard constraints: paint 1 on the object, 2 on the "
                                  "background, then Run again (only boxes near changed scribbles are recomputed).")
        self.image.tooltip = ("Gray, RGB or multichannel image; on a stack each rectangle applies to "
                              "its plane.")
        self.shapes.tooltip = ("Shapes layer with one rectangle per cell. Rotated rectangles and other "
                               "shapes use their bounding box.")
        self.points.tooltip = "Points layer with one point per cell: each becomes the object under it."
        self.fg_points = ComboBox(label="fg points", choices=self._optional("Points", "none"))
        self.bg_points = ComboBox(label="bg points", choices=self._optional("Points", "none"))
        self.fg_points.tooltip = "Optional Points layer: each point is a 3x3 foreground hard constraint."
        self.bg_points.tooltip = "Optional Points layer: each point is a 3x3 background hard constraint."
        self.output = ComboBox(label="output", choices=self._optional("Labels", _NEW))
        self.output.tooltip = ("Labels layer to write (one id per rectangle or point, kept while it exists; "
                               "later ones win overlaps).")
        self.n_iter = SpinBox(label="iterations", value=5, min=1, max=20)
        self.gamma = FloatSpinBox(label="smoothness (gamma)", value=DEFAULT_PARAMS["gamma"], min=0.0, max=500.0,
                                  step=5.0)
        self.features = ComboBox(label="colour features", choices=["auto", "raw", "stain"], value="auto")
        self.features.tooltip = ("auto: the hematoxylin stain for brightfield RGB (H&E), the raw values otherwise; "
                                 "raw: intensities / colours as they are; stain: hematoxylin optical density.")
        self.nucleus_image = ComboBox(label="nucleus image", nullable=True, value=None,
                                      choices=lambda _w=None: layers_of_type(self._viewer, "Image"))
        self.nucleus_image.null_string = "none"
        self.nucleus_image.tooltip = ("Whole cells: an Image layer of the same cells' nuclei (e.g. the DAPI or "
                                      "Hoechst channel). The nucleus nearest the box's centre seeds the cell; the "
                                      "other nuclei are other cells, and the box keeps to its nucleus's side of "
                                      "them; smoothness drops to the whole-cell default.")
        self.nucleus_image.changed.connect(self._nucleus_image_changed)
        self.use_model = CheckBox(text="use a model as a prior", value=False)
        self.model = FileEdit(label="model (.pt)", mode="r", filter="*.pt", value="", enabled=False)
        self.model.tooltip = "A segsuite U-Net or Mask R-CNN checkpoint: its foreground probability guides GrabCut."
        self.prior_weight = FloatSpinBox(label="prior weight", value=DEFAULT_PARAMS["prior_weight"], min=0.0,
                                         max=100.0, step=1.0, enabled=False)
        self.prior_weight.tooltip = ("How much the model's probability counts against the colours (0 ignores it). "
                                     f"{DEFAULT_PARAMS['prior_weight']:g} by default; a model fine-tuned on this "
                                     "kind of image earns more (8 raised the mean IoU on real HeLa nuclei from 0.91 "
                                     "to 0.94, but lowered it on synthetic ones).")
        self.click_mode = CheckBox(text="click mode: a click on a cell segments it", value=False)
        self.add_shapes_button = PushButton(text="New rectangles layer")
        self.add_scribbles_button = PushButton(text="New scribble layer")
        self.run_button = PushButton(text="Run GrabCut")
        self.info = Label(value="")
        return [self.image, self.shapes, self.points, self.scribbles, self.legend, self.fg_points, self.bg_points,
                self.output, self.n_iter, self.gamma, self.features, self.nucleus_image, self.use_model, self.model,
                self.prior_weight, self.click_mode,
                self.add_shapes_button, self.add_scribbles_button, self.run_button, self.jobs, self.info]

    def _use_model_changed(self, on):
        self.model.enabled = self.prior_weight.enabled = bool(on)

    def _nucleus_image_changed(self, *_):
        whole_cells = self.nucleus_image.value is not None
        self.gamma.value = (NUCLEUS_DEFAULTS if whole_cells else DEFAULT_PARAMS)["gamma"]

    def _params(self) -> dict:
        """GrabCut keyword arguments from the controls (the nucleus image goes with the image, see the job)."""
        params = {"n_iter": int(self.n_iter.value), "gamma": float(self.gamma.value), "features": self.features.value}
        if self.use_model.value:  # without a prior the weight changes nothing (and must not recompute the boxes)
            params["prior_weight"] = float(self.prior_weight.value)
        return params

    def _busy_buttons(self):
        return (self.run_button,)

    def _layer_choices(self):
        return (self.image, self.shapes, self.points, self.scribbles, self.fg_points, self.bg_points, self.output,
                self.nucleus_image)

    @property
    def cache(self) -> dict:
        """Box key -> BoxMask of the last run (see :class:`~napari_segsuite.core.graphcut.session.GrabCutSession`)."""
        return self.session.cache

    @property
    def last_computed(self) -> int:
        """How many boxes the last run computed (the others came from the cache)."""
        return self.session.last_computed

    # -- layer choices ------------------------------------------------------------------------------
    def _layers_of(self, kind):
        return lambda _widget=None: layers_of_type(self._viewer, kind)

    def _optional(self, kind, none_text):
        return lambda _widget=None: [(none_text, None)] + [(lay.name, lay) for lay in layers_of_type(self._viewer,
                                                                                                    kind)]

    # -- helpers ------------------------------------------------------------------------------------
    def add_shapes_layer(self, *_):
        """Add an empty Shapes layer in rectangle mode, aligned with the image."""
        img = self.image.value
        kw = spatial_kwargs(img, ndim=img.ndim) if img is not None else {}
        layer = self._viewer.add_shapes(name="GrabCut boxes", ndim=img.ndim if img is not None else 2,
                                        face_color="transparent", edge_color="yellow", edge_width=1, **kw)
        layer.mode = "add_rectangle"
        self.shapes.value = layer
        return layer

    def add_scribble_layer(self, *_):
        """Add an empty Labels layer for scribbles (paint 1 = foreground, 2 = background)."""
        img = self.image.value
        try:
            data, channel_axis = image_data(img)
        except ValueError as exc:
            self.report(exc)
            return None
        shape = data.shape if channel_axis is None else np.delete(data.shape, channel_axis % data.ndim)
        layer = self._viewer.add_labels(np.zeros(tuple(shape), np.uint8), name="GrabCut scribbles",
                                        **spatial_kwargs(img, ndim=len(shape)))
        set_role(layer, "scribbles")
        layer.selected_label = 1
        layer.mode = "paint"
        self.scribbles.value = layer
        return layer

    def _model_path(self, spatial):
        if not self.use_model.value:
            return None
        path = str(self.model.line_edit.value or "").strip()
        if path in ("", "."):
            raise ValueError("choose a model file (.pt), or switch 'use a model as a prior' off.")
        if len(spatial) != 2:
            raise ValueError("the model prior works on 2D images; switch 'use a model as a prior' off for a stack.")
        return path

    # -- running ------------------------------------------------------------------------------------
    def run(self, *_):
        """Compute the new or changed boxes and the points in a worker, then paint them. Returns the worker."""
        from napari.utils.notifications import show_info

        try:
            inp = read_inputs(self)
            out_layer = self.output.value
            out_shape = editable_labels_data(out_layer).shape if out_layer is not None else inp.spatial
            if out_shape != inp.spatial:
                raise ValueError(f"output layer {out_layer.name!r} has shape {out_shape}; "
                                 f"the image's is {inp.spatial}. Choose '{_NEW}'.")
            if out_layer is not None and out_layer is self.scribbles.value:
                raise ValueError("the output layer cannot be the scribble layer.")
            model = self._model_path(inp.spatial)
        except (ValueError, FileNotFoundError) as exc:
            self.report(exc)
            return None
        self.notices = inp.notices
        for text in inp.notices:
            show_info(text)
        img_layer, shapes_layer = self.image.value, self.shapes.value

        def done(result):
            run, found, _ = result
            boxes = self.session.commit(run)
            keys = {i: key for i, key in run.keys.items()}
            results = sorted(boxes + [(i, res) for i, _, res in found], key=lambda t: t[0])
            self._paint(img_layer, inp.spatial, results)
            empty = [(i, keys[i]) for i, res in boxes if not res.mask.any()]
            empty += [(i, key) for i, key, res in found if res is None]
            self._tell_empty(empty)
            n_box, n_pts = len(boxes), len(found)
            status = f"{n_box} box(es), {len(run.computed)} computed, {n_box - len(run.computed)} cached"
            status += f", {n_pts} point(s)" if n_pts else ""
            self.say(status + (f", {len(empty)} empty" if empty else ""))
            if shapes_layer is not None and self.in_viewer(shapes_layer):  # draw on at once: no reselecting
                self._viewer.layers.selection.active = shapes_layer

        # the image is read (and the boxes keyed) in the worker: a lazy layer is not loaded on the GUI thread
        return self.jobs.start(grabcut_job, self.session, inp.image, inp.channel_axis, inp.boxes, inp.points,
                               inp.trimap, model, nucleus=inp.nucleus, **self._params(),
                               on_returned=done)

    def _tell_empty(self, empty) -> None:
        """One notice per box or point that became empty; not again on later runs while it stays so."""
        from napari.utils.notifications import show_info

        new = sorted(i + 1 for i, key in empty if key not in self._told_empty)
        self._told_empty = {key for _, key in empty}
        if new:
            show_info(f"shape(s) {short_list(new, 10)}: nothing in the box stands out from its surroundings, so "
                      "no instance was made. Scribble foreground (1) inside to force one.")

    def _paint(self, img_layer, spatial, results):
        """Paint results (id - 1, BoxMask) in id order into the output layer (main thread)."""
        layer = self.output.value
        if layer is not None and not self.in_viewer(layer):
            layer = None
        if layer is None:
            if not self.in_viewer(img_layer):
                raise ValueError("the image layer was removed while GrabCut ran.")
            data = np.zeros(spatial, np.int32)
            layer = self._viewer.add_labels(data, name=f"GrabCut ({img_layer.name})",
                                            **spatial_kwargs(img_layer, ndim=len(spatial)))
            self.output.value = layer
        data = layer.data
        layer = unwrap(layer)  # the real layer: proxies are new objects on every access
        self.session.forget(self.in_viewer)
        try:
            painted = self.session.paint(data, layer, results)
        except ValueError as exc:
            raise ValueError(f"layer {layer.name!r}: {exc} Choose '{_NEW}' as the output.") from None
        if painted is not data:
            layer.data = painted
        else:
            layer.refresh()
        return layer
