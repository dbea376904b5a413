"""GrabCut dock widget: Image + Shapes rectangles (+ scribbles) -> one Labels instance per rectangle.

The caching of box results between runs and the painting into the output labels live in
:class:`napari_segsuite.core.graphcut.session.GrabCutSession`; this widget reads the layers and shows the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, FloatSpinBox, Label, PushButton, SpinBox

from ._base import JobWidget
from ._jobs import short_list
from ._layers import (current_plane, editable_labels_data, image_data, labels_data, layers_of_type,
                      spatial_kwargs, unwrap)
from .shape_boxes import points_to_pixels, shapes_to_boxes

if TYPE_CHECKING:
    import napari

_NEW = "new Labels layer"


class GrabCutWidget(JobWidget):
    """Draw rectangles in a Shapes layer around cells; each becomes one instance in a Labels layer.

    Scribbles in a Labels layer (1 = foreground, 2 = background) become hard constraints; re-running
    recomputes only the boxes whose rectangle, pixels, scribbles or parameters changed.
    """

    idle_status = "draw rectangles, then Run"

    def __init__(self, viewer: napari.viewer.Viewer):
        from napari_segsuite.core.graphcut.session import GrabCutSession

        self.session = GrabCutSession()
        self.notices: list[str] = []
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)
        self.add_shapes_button.changed.connect(self.add_shapes_layer)
        self.add_scribbles_button.changed.connect(self.add_scribble_layer)

    def _build(self):
        self.image = ComboBox(label="image", choices=self._layers_of("Image"))
        self.shapes = ComboBox(label="rectangles", choices=self._layers_of("Shapes"))
        self.scribbles = ComboBox(label="scribbles", choices=self._optional("Labels", "none"))
        self.scribbles.tooltip = ("Labels layer of hard constraints: paint 1 on the object, 2 on the "
                                  "background, then Run again (only boxes near changed scribbles are recomputed).")
        self.image.tooltip = ("Gray, RGB or multichannel image; on a stack each rectangle applies to "
                              "its plane.")
        self.shapes.tooltip = ("Shapes layer with one rectangle per cell. Rotated rectangles and other "
                               "shapes use their bounding box.")
        self.fg_points = ComboBox(label="fg points", choices=self._optional("Points", "none"))
        self.bg_points = ComboBox(label="bg points", choices=self._optional("Points", "none"))
        self.fg_points.tooltip = "Optional Points layer: each point is a 3x3 foreground hard constraint."
        self.bg_points.tooltip = "Optional Points layer: each point is a 3x3 background hard constraint."
        self.output = ComboBox(label="output", choices=self._optional("Labels", _NEW))
        self.output.tooltip = ("Labels layer to write (one new id per rectangle; later rectangles win "
                               "overlaps).")
        self.n_iter = SpinBox(label="iterations", value=5, min=1, max=20)
        self.gamma = FloatSpinBox(label="smoothness (gamma)", value=30.0, min=0.0, max=500.0, step=5.0)
        self.add_shapes_button = PushButton(text="New rectangles layer")
        self.add_scribbles_button = PushButton(text="New scribble layer")
        self.run_button = PushButton(text="Run GrabCut")
        self.info = Label(value="")
        return [self.image, self.shapes, self.scribbles, self.fg_points, self.bg_points, self.output, self.n_iter,
                self.gamma, self.add_shapes_button, self.add_scribbles_button, self.run_button, self.jobs, self.info]

    def _busy_buttons(self):
        return (self.run_button,)

    def _layer_choices(self):
        return (self.image, self.shapes, self.scribbles, self.fg_points, self.bg_points, self.output)

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
        layer.selected_label = 1
        layer.mode = "paint"
        self.scribbles.value = layer
        return layer

    def _inputs(self):
        """Read layers on the main thread. Returns (image, channel_axis, boxes, trimap, notices)."""
        img_layer, shapes_layer = self.image.value, self.shapes.value
        if img_layer is None:
            raise ValueError("choose an Image layer.")
        if shapes_layer is None or len(shapes_layer.data) == 0:
            raise ValueError("draw at least one rectangle in a Shapes layer (New rectangles layer).")
        image, channel_axis = image_data(img_layer)
        spatial = image.shape if channel_axis is None else np.delete(image.shape, channel_axis % image.ndim)
        spatial = tuple(int(s) for s in spatial)
        if len(spatial) < 2:
            raise ValueError(f"image {img_layer.name!r} must have at least 2 spatial dimensions.")
        plane = current_plane(self._viewer, img_layer)
        boxes, notices = shapes_to_boxes(shapes_layer, img_layer, plane)
        if not any(b is not None for _, b in boxes):
            raise ValueError("no usable rectangle: " + " ".join(notices))
        trimap = None
        if self.scribbles.value is not None:
            trimap = labels_data(self.scribbles.value)
            if trimap.shape != spatial:
                raise ValueError(f"scribble layer {self.scribbles.value.name!r} has shape {trimap.shape}, "
                                 f"the image {spatial}: use a layer made with 'New scribble layer'.")
            trimap = np.array(trimap, copy=True)
        points = [(self.fg_points.value, 1), (self.bg_points.value, 2)]
        if any(layer is not None for layer, _ in points):
            if trimap is None:
                trimap = np.zeros(spatial, np.uint8)
            elif trimap.dtype == bool:
                trimap = trimap.astype(np.uint8)
            for layer, value in points:
                if layer is None:
                    continue
                for pix in points_to_pixels(layer, img_layer, plane):
                    lead, (r, c) = tuple(pix[:-2]), pix[-2:]
                    trimap[(*lead, slice(max(r - 1, 0), r + 2), slice(max(c - 1, 0), c + 2))] = value
        return image, channel_axis, spatial, boxes, trimap, notices

    # -- running ------------------------------------------------------------------------------------
    def run(self, *_):
        """Compute the new or changed boxes in a worker, then paint every box. Returns the worker or None."""
        from napari.utils.notifications import show_info

        try:
            image, channel_axis, spatial, boxes, trimap, notices = self._inputs()
            out_layer = self.output.value
            out_shape = editable_labels_data(out_layer).shape if out_layer is not None else spatial
            if out_shape != spatial:
                raise ValueError(f"output layer {out_layer.name!r} has shape {out_shape}; "
                                 f"the image's is {spatial}. Choose '{_NEW}'.")
            if out_layer is not None and out_layer is self.scribbles.value:
                raise ValueError("the output layer cannot be the scribble layer.")
        except ValueError as exc:
            self.report(exc)
            return None
        self.notices = notices
        for text in notices:
            show_info(text)
        img_layer = self.image.value

        def done(run):
            results = self.session.commit(run)
            self._paint(img_layer, spatial, results)
            empty = [i + 1 for i, res in results if not res.mask.any()]
            status = f"{len(results)} box(es), {len(run.computed)} computed, {len(results) - len(run.computed)} cached"
            if empty:
                status += f", {len(empty)} empty"
                show_info(f"shape(s) {short_list(empty, 10)}: nothing in the box stands out from its "
                          f"surroundings, so no instance was made. Scribble foreground (1) inside to force one.")
            self.say(status)

        # the image is read (and the boxes keyed) in the worker: a lazy layer is not loaded on the GUI thread
        return self.jobs.start(self.session.iter_run, image, boxes, channel_axis, trimap,
                               n_iter=int(self.n_iter.value), gamma=float(self.gamma.value), on_returned=done)

    def _paint(self, img_layer, spatial, results):
        """Paint results (shape index, BoxMask) in drawing order into the output layer (main thread)."""
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
