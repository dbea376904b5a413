"""GrabCut dock widget: Image + Shapes rectangles (+ scribbles) -> one Labels instance per rectangle."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox

from ._jobs import JobControls, short_list
from ._layers import (current_plane, editable_labels_data, image_data, labels_data, layer_in_viewer,
                      reset_layer_choices, spatial_kwargs, unwrap)
from .shape_boxes import points_to_pixels, shapes_to_boxes

if TYPE_CHECKING:
    import napari

_NEW = "new Labels layer"


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class GrabCutWidget(Container):
    """Draw rectangles in a Shapes layer around cells; each becomes one instance in a Labels layer.

    Scribbles in a Labels layer (1 = foreground, 2 = background) become hard constraints; re-running
    recomputes only the boxes whose rectangle, pixels, scribbles or parameters changed.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        self._viewer = viewer
        self.image = ComboBox(label="image", choices=self._layers_of("Image"))
        self.shapes = ComboBox(label="rectangles", choices=self._layers_of("Shapes"))
        self.scribbles = ComboBox(label="scribbles", choices=self._scribble_choices)
        self.scribbles.tooltip = ("Labels layer of hard constraints: paint 1 on the object, 2 on the "
                                  "background, then Run again (only boxes near changed scribbles are recomputed).")
        self.image.tooltip = ("Gray, RGB or multichannel image; on a stack each rectangle applies to "
                              "its plane.")
        self.shapes.tooltip = ("Shapes layer with one rectangle per cell. Rotated rectangles and other "
                               "shapes use their bounding box.")
        self.fg_points = ComboBox(label="fg points", choices=self._points_choices)
        self.bg_points = ComboBox(label="bg points", choices=self._points_choices)
        self.fg_points.tooltip = "Optional Points layer: each point is a 3x3 foreground hard constraint."
        self.bg_points.tooltip = "Optional Points layer: each point is a 3x3 background hard constraint."
        self.output = ComboBox(label="output", choices=self._output_choices)
        self.output.tooltip = ("Labels layer to write (one new id per rectangle; later rectangles win "
                               "overlaps).")
        self.n_iter = SpinBox(label="iterations", value=5, min=1, max=20)
        self.gamma = FloatSpinBox(label="smoothness (gamma)", value=30.0, min=0.0, max=500.0, step=5.0)
        self.add_shapes_button = PushButton(text="New rectangles layer")
        self.add_scribbles_button = PushButton(text="New scribble layer")
        self.run_button = PushButton(text="Run GrabCut")
        self.info = Label(value="")
        self.jobs = JobControls("draw rectangles, then Run")
        super().__init__(widgets=[self.image, self.shapes, self.scribbles, self.fg_points, self.bg_points,
                                  self.output, self.n_iter, self.gamma, self.add_shapes_button,
                                  self.add_scribbles_button, self.run_button, self.jobs,
                                  self.info])
        self.run_button.changed.connect(self.run)
        self.add_shapes_button.changed.connect(self.add_shapes_layer)
        self.add_scribbles_button.changed.connect(self.add_scribble_layer)
        self.jobs.on_running_changed.append(lambda running: setattr(self.run_button, "enabled", not running))
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self._refresh()
        #: box key -> BoxMask; only boxes whose key is missing are computed.
        self.cache: dict = {}
        #: output layer -> (id offset, {label id: BoxMask}) painted by the last run, erased on the next.
        self._painted: dict = {}
        self.last_computed = 0
        self.notices: list[str] = []

    # -- layer choices ------------------------------------------------------------------------------
    def _layers_of(self, kind):
        def choices(_widget=None):
            import napari.layers

            cls = getattr(napari.layers, kind)
            return [layer for layer in self._viewer.layers if isinstance(layer, cls)]

        return choices

    def _scribble_choices(self, _widget=None):
        return [("none", None)] + [(lay.name, lay) for lay in self._layers_of("Labels")()]

    def _points_choices(self, _widget=None):
        return [("none", None)] + [(lay.name, lay) for lay in self._layers_of("Points")()]

    def _output_choices(self, _widget=None):
        return [(_NEW, None)] + [(lay.name, lay) for lay in self._layers_of("Labels")()]

    def _refresh(self, *_):
        reset_layer_choices(self.image, self.shapes, self.scribbles, self.fg_points, self.bg_points, self.output)

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
        from napari.utils.notifications import show_error

        img = self.image.value
        if img is None:
            show_error("choose an Image layer first.")
            return None
        data, channel_axis = image_data(img)
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

    def _key(self, image, channel_axis, trimap, box, params):
        from napari_segsuite.core.graphcut.boxes import DEFAULT_PARAMS

        lead = len(box) - 4
        planes, (r0, c0, r1, c1) = box[:lead], box[lead:]
        m = DEFAULT_PARAMS["margin"]
        sl = (*planes, slice(max(r0 - m, 0), r1 + m), slice(max(c0 - m, 0), c1 + m))
        img = np.moveaxis(image, channel_axis, -1) if channel_axis is not None else image
        parts = [img[sl]]
        if trimap is not None and trimap[sl].any():  # no scribble near this box: same as no scribble layer
            parts.append(trimap[sl])
        return (box, tuple(sorted(params.items())), _digest(*parts))

    # -- running ------------------------------------------------------------------------------------
    def run(self, *_):
        """Compute the new or changed boxes in a worker, then paint every box. Returns the worker or None."""
        from napari.utils.notifications import show_error, show_info

        from napari_segsuite.core.graphcut.boxes import iter_grabcut_masks

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
            show_error(str(exc))
            self.jobs.set_status(str(exc))
            return None
        self.notices = notices
        for text in notices:
            show_info(text)
        params = {"n_iter": int(self.n_iter.value), "gamma": float(self.gamma.value)}
        keys = {i: self._key(image, channel_axis, trimap, box, params) for i, box in boxes if box is not None}
        todo = [(i, boxes[i][1]) for i in keys if keys[i] not in self.cache]
        self.last_computed = len(todo)
        img_layer = self.image.value

        def done(masks):
            for (i, _), res in zip(todo, masks):
                self.cache[keys[i]] = res
            # Keep only the boxes of this run: memory stays bounded by the rectangles on screen.
            self.cache = {key: self.cache[key] for key in keys.values()}
            self._paint(img_layer, spatial, [(i, self.cache[keys[i]]) for i in keys])
            empty = [i + 1 for i in keys if not self.cache[keys[i]].mask.any()]
            status = f"{len(keys)} box(es), {len(todo)} computed, {len(keys) - len(todo)} cached"
            if empty:
                status += f", {len(empty)} empty"
                show_info(f"shape(s) {short_list(empty, 10)}: nothing in the box stands out from its "
                          f"surroundings, so no instance was made. Scribble foreground (1) inside to force one.")
            self.jobs.set_status(status)

        return self.jobs.start(iter_grabcut_masks, image, [b for _, b in todo], params["n_iter"],
                               channel_axis, trimap, gamma=params["gamma"], on_returned=done)

    def _in_viewer(self, layer) -> bool:
        return layer_in_viewer(self._viewer, layer)

    def _paint(self, img_layer, spatial, results):
        """Paint results (shape index, BoxMask) in drawing order into the output layer (main thread)."""
        layer = self.output.value
        if layer is not None and not self._in_viewer(layer):
            layer = None
        if layer is None:
            if not self._in_viewer(img_layer):
                raise ValueError("the image layer was removed while GrabCut ran.")
            data = np.zeros(spatial, np.int32)
            layer = self._viewer.add_labels(data, name=f"GrabCut ({img_layer.name})",
                                            **spatial_kwargs(img_layer, ndim=len(spatial)))
            self.output.value = layer
        data = layer.data
        layer = unwrap(layer)  # the real layer: proxies are new objects on every access
        offset, previous = self._painted.get(layer, (None, {}))
        if offset is None:
            offset = int(data.max()) if data.size else 0
        need = offset + max(i for i, _ in results) + 1
        if need > np.iinfo(data.dtype).max:
            # int32, uint32 past 2**31 (as core.labels.as_labels); never a wrapped id
            wide = np.int32 if need <= np.iinfo(np.int32).max else np.uint32
            if need > np.iinfo(wide).max or (wide == np.uint32 and data.size and data.min() < 0):
                raise ValueError(f"layer {layer.name!r} already uses label ids up to {offset}: {len(results)} "
                                 f"more do not fit in 32 bits. Choose '{_NEW}' as the output.")
            data = data.astype(wide)
        for label_id, res in previous.items():  # erase what the last run painted (only where still ours)
            view = data[res.slices]
            view[(view == label_id) & res.mask] = 0
        painted = {}
        for i, res in results:
            data[res.slices][res.mask] = offset + i + 1
            painted[offset + i + 1] = res
        self._painted = {lay: rec for lay, rec in self._painted.items() if self._in_viewer(lay)}
        self._painted[layer] = (offset, painted)
        if data is not layer.data:
            layer.data = data
        else:
            layer.refresh()
        return layer
