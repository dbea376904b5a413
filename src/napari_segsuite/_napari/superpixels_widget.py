"""Superpixels widget: SLIC superpixels + live RAG merging, and assisted labeling by clicks and strokes.

Workflow: pick an Image layer (and optionally a mask: a Labels layer, nonzero = inside; superpixels are 0
outside it), compute superpixels (worker thread). A Labels layer of merged regions
appears in contour view; the threshold slider re-merges live (debounced, on the cached graph). With
"assist" on, clicking a merged region on that layer writes it into the target Labels layer with the
current label id, a drag writes every superpixel the stroke touches, and Shift-click/drag removes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSlider,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)

from ._jobs import JobControls
from ._layers import (editable_labels_data, image_data, labels_data, layers_of_type, reset_layer_choices,
                      spatial_kwargs, unwrap)

if TYPE_CHECKING:
    import napari

_MODES = ["hierarchical", "threshold", "boundary", "ncut"]
_REMOVE_MODIFIER = "Shift"
_UNDO_LIMIT = 50
_CLICK_TOLERANCE = 2  # a press and release closer than this many data pixels is a click
#: above this many pixels a re-merge runs in the worker: the relabeling takes ~1 s per 67 Mpx
_MAIN_THREAD_MERGE_PIXELS = 1 << 22


def _line_pixels(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Integer pixel coordinates on the segment p0 -> p1 (any dimensionality), endpoints included."""
    steps = int(np.ceil(np.abs(p1 - p0).max())) + 1
    t = np.linspace(0.0, 1.0, max(steps, 2))[:, None]
    return np.unique(np.round(p0 + t * (p1 - p0)).astype(np.int64), axis=0)


def _superpixels_job(data, mode, **kwargs):
    """Superpixels, their graph and the first merge (at the bottom of ``mode``'s range), all off the GUI thread."""
    from napari_segsuite.core.superpixels import iter_superpixels

    _, graph, _ = yield from iter_superpixels(data, **kwargs)
    lo, _ = graph.threshold_range(mode)
    return graph, graph.merge(lo, mode)


def _merge_job(graph, threshold, mode):
    from napari_segsuite.core.progress import Progress

    yield Progress(0, 1, f"merging ({mode})...")
    merged = graph.merge(threshold, mode)
    yield Progress(1, 1, f"{int(merged.max())} regions")
    return merged


class SuperpixelsWidget(Container):
    """SLIC superpixels, live merging by a threshold, and click/stroke labeling into a Labels layer."""

    def __init__(self, viewer: napari.viewer.Viewer):  # a string under `from __future__ import annotations`
        self._viewer = viewer
        self.graph = None  # SuperpixelGraph of the last computation
        self.superpixel_layer = None  # Labels layer showing merged regions (contours)
        self.merged = None  # current merged labels
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.mask = ComboBox(label="mask", choices=self._mask_layers, nullable=True, value=None,
                             tooltip="optional Labels layer of the image's shape: superpixels only where it is "
                                     "nonzero (0 outside)")
        self.mask.null_string = "none (whole image)"  # instead of "-----": no mask is a choice, not a gap
        self.n_segments = SpinBox(label="superpixels", value=1000, min=1, max=200_000, step=100,
                                  tooltip="approximate number of superpixels")
        self.compactness = FloatSpinBox(label="compactness", value=10.0, min=0.01, max=1000.0, step=1.0,
                                        tooltip="higher: more regular superpixels; lower: follow the image")
        self.compute_button = PushButton(text="Compute superpixels")
        self.jobs = JobControls("choose an image and compute superpixels")
        self.mode = ComboBox(label="merge mode", choices=_MODES, value="hierarchical")
        self.threshold = FloatSlider(label="merge threshold", value=0.0, min=0.0, max=1.0, step=0.001,
                                     tooltip="regions closer than this merge (0 = superpixels)")
        self.target = ComboBox(label="target labels", choices=self._target_layers, nullable=True, value=None)
        self.target.null_string = "new layer at Compute"  # what None means here (not "-----")
        self.new_target_button = PushButton(text="New target Labels layer")
        self.label_id = SpinBox(label="label id", value=1, min=1, max=2**31 - 1)
        self.next_id_button = PushButton(text="Next free id")
        self.assist = CheckBox(text=f"assist: click/drag on regions adds, {_REMOVE_MODIFIER}+click removes",
                               value=True)
        self.merge_from = SpinBox(label="merge label", value=1, min=1, max=2**31 - 1)
        self.merge_into = SpinBox(label="into label", value=2, min=1, max=2**31 - 1)
        self.merge_button = PushButton(text="Merge labels")
        self.undo_button = PushButton(text="Undo")
        self.status = Label(value="")
        super().__init__(widgets=[
            self.image, self.mask, self.n_segments, self.compactness, self.compute_button, self.jobs, self.mode,
            self.threshold, self.target, self.new_target_button, self.label_id, self.next_id_button, self.assist,
            self.merge_from, self.merge_into, self.merge_button, self.undo_button, self.status,
        ])
        self._undo: list[tuple] = []
        self._timer = None
        self.compute_button.changed.connect(self.compute)
        self.threshold.changed.connect(self._schedule_remerge)
        self.mode.changed.connect(self._mode_changed)
        self.new_target_button.changed.connect(self.new_target)
        self.next_id_button.changed.connect(self.next_free_id)
        self.merge_button.changed.connect(lambda *_: self.merge_labels(self.merge_from.value, self.merge_into.value))
        self.undo_button.changed.connect(self.undo)
        self.assist.changed.connect(self._assist_changed)
        self.jobs.on_running_changed.append(lambda running: setattr(self.compute_button, "enabled", not running))
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    # -- layer choices ----------------------------------------------------------------------------
    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def _target_layers(self, _widget=None):
        from napari.layers import Labels

        shown = unwrap(self.superpixel_layer)  # the viewer proxy hands out a new proxy per access
        return [layer for layer in self._viewer.layers if isinstance(layer, Labels) and unwrap(layer) is not shown]

    def _mask_layers(self, _widget=None):
        return self._target_layers()

    def _refresh(self, *_):
        reset_layer_choices(self.image, self.mask, self.target)

    def _in_viewer(self, layer) -> bool:
        # ``in`` (equality), not identity: a test viewer proxy hands out proxied layers
        return layer is not None and layer in self._viewer.layers

    def _say(self, text: str, error: bool = False) -> None:
        self.status.value = text
        if error:
            from napari.utils.notifications import show_error

            show_error(text)

    # -- computing --------------------------------------------------------------------------------
    def compute(self, *_):
        """Compute superpixels and their graph for the chosen image in a worker; returns the worker."""
        layer = self.image.value
        try:
            data, channel_axis = image_data(layer)
            spatial_shape = data.shape[:-1] if channel_axis is not None else data.shape
            mask = self._mask_array(layer, spatial_shape)
        except ValueError as exc:
            self._say(str(exc), error=True)
            return None
        spatial_ndim = len(spatial_shape)

        mode = self.mode.value

        def done(result):
            graph, merged = result
            self.show_graph(graph, layer, spatial_ndim, merged=merged if self.mode.value == mode else None)

        def failed(exc):  # the job line and a notification say why; the result line must not say "N regions"
            self._say(f"no superpixels: {exc}")

        return self.jobs.start(_superpixels_job, data, mode, n_segments=self.n_segments.value,
                               compactness=self.compactness.value, channel_axis=channel_axis, mask=mask,
                               on_returned=done, on_errored=failed)

    def _mask_array(self, image_layer, spatial_shape: tuple) -> np.ndarray | None:
        """The chosen mask as a boolean array (nonzero = inside), None for no mask.

        Raises
        ------
        ValueError
            If the mask layer is not a Labels layer, has another shape than the image, or is empty.
        """
        layer = self.mask.value
        if layer is None:
            return None
        labels = labels_data(layer)
        if labels.shape != tuple(spatial_shape):
            raise ValueError(f"mask {layer.name!r} has shape {labels.shape} but image {image_layer.name!r} has "
                             f"the spatial shape {tuple(spatial_shape)}; choose a mask of the image's shape, "
                             "or no mask.")
        inside = labels != 0  # a copy: painting the mask while the job runs changes nothing
        if not inside.any():
            raise ValueError(f"mask {layer.name!r} is empty: paint the region to cut into superpixels "
                             "(nonzero = inside), or choose no mask.")
        return inside

    def show_graph(self, graph, image_layer, spatial_ndim: int, merged: np.ndarray | None = None) -> None:
        """Show a computed :class:`~napari_segsuite.core.superpixels.graph.SuperpixelGraph` (main thread).

        ``merged``: the graph merged at the bottom of the current mode's threshold range, if already
        computed (in the worker); computed here otherwise.
        """
        self.graph = graph
        lo, hi = graph.threshold_range(self.mode.value)
        self.threshold.changed.disconnect(self._schedule_remerge)
        self.threshold.max = hi
        self.threshold.min = lo
        self.threshold.step = max(hi / 1000.0, 1e-6)
        self.threshold.value = lo
        self.threshold.changed.connect(self._schedule_remerge)
        if merged is None:
            merged = graph.merge(self.threshold.value, self.mode.value)
        kw = spatial_kwargs(image_layer, spatial_ndim) if self._in_viewer(image_layer) else {}
        if self.superpixel_layer is not None and self._in_viewer(self.superpixel_layer) \
                and self.superpixel_layer.data.shape == merged.shape:
            self.superpixel_layer.data = merged
            for key, value in kw.items():
                setattr(self.superpixel_layer, key, value)
        else:
            from napari.layers import Labels

            # built hidden and shown once: napari then draws (and contours) the whole plane once instead of
            # three times, seconds of main-thread time on a big image
            layer = Labels(merged, name="superpixels", visible=False, **kw)
            layer.contour = 1
            layer.mouse_drag_callbacks.append(self._on_mouse)
            self.superpixel_layer = self._viewer.add_layer(layer)
            self.superpixel_layer.visible = True
        self.merged = merged
        self.superpixel_layer.mouse_pan = not self.assist.value
        if self.target.value is None:
            self.new_target()
        self._refresh()
        self._say(f"{graph.n_regions} superpixels -> {int(merged.max())} regions")

    def _assist_changed(self, on: bool):
        # while assisting, a drag on the superpixel layer is a stroke, not a pan
        if self.superpixel_layer is not None:
            self.superpixel_layer.mouse_pan = not on

    def _mode_changed(self, *_):
        if self.graph is None:
            return
        lo, hi = self.graph.threshold_range(self.mode.value)
        self.threshold.changed.disconnect(self._schedule_remerge)
        value = min(self.threshold.value, hi)
        self.threshold.min, self.threshold.max = lo, hi
        self.threshold.step = max(hi / 1000.0, 1e-6)
        self.threshold.value = value
        self.threshold.changed.connect(self._schedule_remerge)
        self.remerge()

    def _schedule_remerge(self, *_):
        """Debounce: re-merge 60 ms after the slider stops moving."""
        from qtpy.QtCore import QTimer

        if self._timer is None:
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.setInterval(60)
            self._timer.timeout.connect(self.remerge)
        self._timer.start()

    def remerge(self, *_):
        """Re-merge the cached graph at the slider's threshold and update the superpixel layer.

        The fast modes on images up to 4 Mpx run here (milliseconds); ``"ncut"`` may compute new
        splits and a big image takes ~1 s per 67 Mpx to relabel, so those run in the worker. Returns the
        worker when one was started, else None.
        """
        if self.graph is None or not self._in_viewer(self.superpixel_layer):
            return None
        mode = self.mode.value
        if mode == "ncut" or self.superpixel_layer.data.size > _MAIN_THREAD_MERGE_PIXELS:
            if self.jobs.running:  # try again once the running job is done
                self._schedule_remerge()
                return None
            return self.jobs.start(_merge_job, self.graph, self.threshold.value, mode, on_returned=self._show_merged)
        try:
            merged = self.graph.merge(self.threshold.value, self.mode.value)
        except ValueError as exc:
            self._say(str(exc), error=True)
            return None
        self._show_merged(merged)
        return None

    def _show_merged(self, merged):
        if not self._in_viewer(self.superpixel_layer) or merged.shape != self.superpixel_layer.data.shape:
            return
        self.merged = merged
        self.superpixel_layer.data = merged
        self._say(f"{self.graph.n_regions} superpixels -> {int(merged.max())} regions")

    # -- assisted labeling ------------------------------------------------------------------------
    def new_target(self, *_):
        """Add an empty target Labels layer matching the superpixels (or the chosen image)."""
        if self.merged is not None:
            shape, ref = self.merged.shape, self.superpixel_layer
            kw = {"scale": ref.scale, "translate": ref.translate}
        else:
            try:
                data, axis = image_data(self.image.value)
            except ValueError as exc:
                self._say(str(exc), error=True)
                return None
            shape = data.shape[:-1] if axis is not None else data.shape
            kw = spatial_kwargs(self.image.value, len(shape))
        layer = self._viewer.add_labels(np.zeros(shape, dtype=np.int32), name="annotations", **kw)
        self._refresh()
        self.target.value = layer
        if self.superpixel_layer is not None and self._in_viewer(self.superpixel_layer):
            self._viewer.layers.selection.active = self.superpixel_layer
        return layer

    def next_free_id(self, *_):
        """Set the label id to one more than the largest id in the target layer."""
        target = self._target_array(quiet=True)
        if target is None:
            return
        free = max(int(target.max()), 0) + 1  # napari allows negative ids; ours start at 1
        if free > self.label_id.max:
            self._say(f"the target layer already uses id {free - 1}, the largest this widget offers.", error=True)
            return
        self.label_id.value = free

    def _target_array(self, quiet: bool = False):
        try:
            layer = self.target.value
            data = editable_labels_data(layer)
            if self.merged is not None and data.shape != self.merged.shape:
                raise ValueError(f"target Labels layer {layer.name!r} has shape {data.shape} but the superpixels "
                                 f"have shape {self.merged.shape}; choose or create a matching layer.")
        except ValueError as exc:
            if not quiet:
                self._say(str(exc), error=True)
            return None
        return data

    def _data_index(self, data_coord) -> tuple | None:
        coord = np.round(np.asarray(data_coord, dtype=float)).astype(np.int64)
        if coord.shape != (self.merged.ndim,) or np.any(coord < 0) or np.any(coord >= self.merged.shape):
            return None
        return tuple(coord)

    def _apply(self, region_mask: np.ndarray, remove: bool) -> int | None:
        """Write the current label id (or 0) into the target where ``region_mask``; push undo.

        Returns the number of pixels changed, None if there is no usable target layer.
        """
        target = self._target_array()
        if target is None:
            return None
        new = 0 if remove else self.label_id.value
        if target.dtype.kind in "iu" and new > np.iinfo(target.dtype).max:
            self._say(f"label id {new} does not fit in the target layer {self.target.value.name!r} "
                      f"({target.dtype}, ids up to {np.iinfo(target.dtype).max}); choose a smaller id or a "
                      "new target Labels layer.", error=True)
            return None
        idx = np.flatnonzero(region_mask)
        where = np.unravel_index(idx, target.shape)  # not reshape(-1): that copies a non-contiguous array
        old = target[where]
        changed = old != new
        idx, old = idx[changed], old[changed]
        if idx.size == 0:
            return 0
        target[np.unravel_index(idx, target.shape)] = new
        self._undo.append((self.target.value, idx, old))
        del self._undo[:-_UNDO_LIMIT]
        self.target.value.refresh()
        return int(idx.size)

    def click_region(self, data_coord, remove: bool = False) -> int:
        """Add (or remove) the merged region under ``data_coord`` (data pixels of the superpixel layer).

        Returns the number of target pixels changed (0 for a click outside the image or on background).
        """
        if self.merged is None:
            self._say("compute superpixels first.", error=True)
            return 0
        index = self._data_index(data_coord)
        if index is None:
            self._say("the click is outside the image.")
            return 0
        region = int(self.merged[index])
        if region == 0:
            self._say("no superpixel here (outside the mask).")
            return 0
        n = self._apply(self.merged == region, remove)
        if n is None:
            return 0
        self._say(f"{'removed' if remove else f'label {self.label_id.value}:'} region {region} ({n} pixels)")
        return n

    def stroke(self, data_coords, remove: bool = False) -> int:
        """Add (or remove) every superpixel the polyline through ``data_coords`` touches.

        Returns the number of target pixels changed.
        """
        if self.merged is None:
            self._say("compute superpixels first.", error=True)
            return 0
        pts = np.asarray(data_coords, dtype=float).reshape(-1, self.merged.ndim)
        segments = [_line_pixels(a, b) for a, b in zip(pts[:-1], pts[1:])] or [np.round(pts).astype(np.int64)]
        pix = np.concatenate(segments)
        inside = np.all((pix >= 0) & (pix < np.asarray(self.merged.shape)), axis=1)
        pix = pix[inside]
        if pix.size == 0:
            self._say("the stroke is outside the image.")
            return 0
        sp = self.graph.superpixels
        touched = np.unique(sp[tuple(pix.T)])
        touched = touched[touched > 0]
        if touched.size == 0:
            self._say("the stroke touches no superpixel.")
            return 0
        n = self._apply(np.isin(sp, touched), remove)
        if n is None:
            return 0
        self._say(f"{'removed' if remove else f'label {self.label_id.value}:'} {touched.size} superpixels "
                  f"({n} pixels)")
        return n

    def merge_labels(self, source: int, destination: int) -> int:
        """Relabel every ``source`` pixel of the target layer as ``destination``; returns pixels changed."""
        target = self._target_array()
        if target is None:
            return 0
        if source == destination:
            self._say("choose two different labels to merge.")
            return 0
        mask = target == source
        if not mask.any():
            self._say(f"label {source} is not in the target layer.")
            return 0
        saved = self.label_id.value
        self.label_id.value = destination
        try:
            n = self._apply(mask, remove=False)
        finally:
            self.label_id.value = saved
        if n is None:
            return 0
        self._say(f"merged label {source} into {destination} ({n} pixels)")
        return n

    def undo(self, *_) -> bool:
        """Undo the last click, stroke or merge made by this widget."""
        while self._undo:
            layer, idx, old = self._undo.pop()
            if self._in_viewer(layer):
                layer.data[np.unravel_index(idx, layer.data.shape)] = old
                layer.refresh()
                self._say(f"undone ({idx.size} pixels)")
                return True
        self._say("nothing to undo.")
        return False

    def _on_mouse(self, layer, event):
        """Mouse drag callback on the superpixel layer: click = region, drag = stroke, Shift = remove."""
        if not self.assist.value or self.merged is None:
            return
        remove = _REMOVE_MODIFIER in {str(getattr(m, "name", m)) for m in event.modifiers}
        points = [np.asarray(layer.world_to_data(event.position), dtype=float)]
        yield
        while event.type == "mouse_move":
            points.append(np.asarray(layer.world_to_data(event.position), dtype=float))
            yield
        displayed = list(event.dims_displayed) if getattr(event, "dims_displayed", None) is not None else None
        pts = np.asarray(points)
        moved = np.abs(pts - pts[0]).max() if len(pts) > 1 else 0.0
        if moved < _CLICK_TOLERANCE:
            self.click_region(pts[0], remove=remove)
        else:
            if displayed is not None:  # keep the stroke in the shown plane
                pts[:, [d for d in range(pts.shape[1]) if d not in displayed]] = pts[0, [
                    d for d in range(pts.shape[1]) if d not in displayed]]
            self.stroke(pts, remove=remove)
