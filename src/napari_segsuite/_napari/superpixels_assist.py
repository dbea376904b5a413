"""The assisted-labeling half of the Superpixels widget: clicks and strokes on regions, label merging, undo.

The edits themselves are :class:`napari_segsuite.core.superpixels.annotate.RegionAnnotator`'s; this mixin
turns mouse events and buttons into its calls and refreshes the target layer.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, PushButton, SpinBox

from ._layers import editable_labels_data, image_data, spatial_kwargs, unwrap

_REMOVE_MODIFIER = "Shift"
_CLICK_TOLERANCE = 2  # a press and release closer than this many data pixels is a click


class AssistedLabeling:
    """Mixin of :class:`~napari_segsuite._napari.superpixels_widget.SuperpixelsWidget` (a JobWidget).

    Expects ``self.merged`` (the merged regions shown), ``self.graph`` (its superpixels),
    ``self.superpixel_layer`` and ``self.image``.
    """

    def _build_assist(self) -> list:
        from napari_segsuite.core.superpixels.annotate import RegionAnnotator

        self.annotator = RegionAnnotator(undo_limit=1)  # the history that counts is the target layer's (napari)
        self._undoable: list = []  # target layers of this widget's edits, newest last
        self.target = ComboBox(label="target labels", choices=self._target_layers, nullable=True, value=None)
        self.target.null_string = "new layer at Compute"  # what None means here (not "-----")
        self.new_target_button = PushButton(text="New target Labels layer")
        self.label_id = SpinBox(label="label id", value=1, min=1, max=2**31 - 1)
        self.next_id_button = PushButton(text="Next free id")
        self.assist = CheckBox(text="paint mode (off: a drag pans)", value=False,
                               tooltip=f"on: a click or drag on the regions adds them, {_REMOVE_MODIFIER}+click "
                                       "removes; off: the mouse pans and zooms as usual")
        self.merge_from = SpinBox(label="merge label", value=1, min=1, max=2**31 - 1)
        self.merge_into = SpinBox(label="into label", value=2, min=1, max=2**31 - 1)
        self.merge_button = PushButton(text="Merge labels")
        self.undo_button = PushButton(text="Undo")
        return [self.target, self.new_target_button, self.label_id, self.next_id_button, self.assist,
                self.merge_from, self.merge_into, self.merge_button, self.undo_button]

    def _connect_assist(self) -> None:
        self.new_target_button.changed.connect(self.new_target)
        self.next_id_button.changed.connect(self.next_free_id)
        self.merge_button.changed.connect(lambda *_: self.merge_labels(self.merge_from.value, self.merge_into.value))
        self.undo_button.changed.connect(self.undo)
        self.assist.changed.connect(self._assist_changed)

    def _target_layers(self, _widget=None):
        from napari.layers import Labels

        shown = unwrap(self.superpixel_layer)  # the viewer proxy hands out a new proxy per access
        return [layer for layer in self._viewer.layers if isinstance(layer, Labels) and unwrap(layer) is not shown]

    def _assist_changed(self, on: bool):
        # only in paint mode is a drag on the superpixel layer a stroke; otherwise it pans, as everywhere
        if self.superpixel_layer is not None and self.in_viewer(self.superpixel_layer):
            self.superpixel_layer.mouse_pan = not on
            if on:  # napari sends mouse events to the active layer only
                self._viewer.layers.selection.active = self.superpixel_layer
        self.say("paint mode: click or drag on regions (off to pan)" if on else "paint mode off: a drag pans")

    def new_target(self, *_):
        """Add an empty target Labels layer matching the superpixels (or the chosen image)."""
        if self.merged is not None:
            shape, ref = self.merged.shape, self.superpixel_layer
            kw = {"scale": ref.scale, "translate": ref.translate}
        else:
            try:
                data, axis = image_data(self.image.value)
            except ValueError as exc:
                self.report(exc)
                return None
            shape = data.shape[:-1] if axis is not None else data.shape
            kw = spatial_kwargs(self.image.value, len(shape))
        layer = self._viewer.add_labels(np.zeros(shape, dtype=np.int32), name="annotations", **kw)
        self._refresh()
        self.target.value = layer
        if self.superpixel_layer is not None and self.in_viewer(self.superpixel_layer):
            self._viewer.layers.selection.active = self.superpixel_layer
        return layer

    def next_free_id(self, *_):
        """Set the label id to one more than the largest id in the target layer."""
        target = self._target_array(quiet=True)
        if target is None:
            return
        free = max(int(target.max()), 0) + 1  # napari allows negative ids; ours start at 1
        if free > self.label_id.max:
            self.report(f"the target layer already uses id {free - 1}, the largest this widget offers.")
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
                self.report(exc)
            return None
        return data

    def _edit(self, action, *args, need_regions: bool = True):
        """Run one annotator edit on the target layer; returns the :class:`Edit`, or None if nothing was done."""
        if need_regions and self.merged is None:
            self.report("compute superpixels first.")
            return None
        target = self._target_array()
        if target is None:
            return None
        layer = self.target.value
        try:  # through the layer's data_setitem: napari's own undo (Ctrl+Z) reverts widget edits too
            edit = action(target, *args, key=unwrap(layer), write=layer.data_setitem)
        except ValueError as exc:  # the id does not fit the target's dtype
            self.report(f"{exc} (target {layer.name!r})")
            return None
        if edit.reason:
            self.say(edit.reason)
            return None
        self._undoable.append(unwrap(layer))
        del self._undoable[:-100]  # napari keeps 100 steps
        return edit

    def _done(self, edit, remove: bool, what: str) -> int:
        if edit is None:
            return 0
        self.say(f"{'removed' if remove else f'label {self.label_id.value}:'} {what} ({edit.changed} pixels)")
        return edit.changed

    def click_region(self, data_coord, remove: bool = False) -> int:
        """Add (or remove) the merged region under ``data_coord`` (data pixels of the superpixel layer).

        Returns the number of target pixels changed (0 for a click outside the image or on background).
        """
        value = 0 if remove else int(self.label_id.value)
        edit = self._edit(self.annotator.click, self.merged, data_coord, value)
        return self._done(edit, remove, f"region {int(edit.regions[0])}" if edit else "")

    def stroke(self, data_coords, remove: bool = False) -> int:
        """Add (or remove) every region shown (the merged regions) that the polyline through ``data_coords`` touches.

        Returns the number of target pixels changed.
        """
        value = 0 if remove else int(self.label_id.value)
        edit = self._edit(self.annotator.stroke, self.merged, data_coords, value)
        return self._done(edit, remove, f"{edit.regions.size} region(s)" if edit else "")

    def merge_labels(self, source: int, destination: int) -> int:
        """Relabel every ``source`` pixel of the target layer as ``destination``; returns pixels changed."""
        edit = self._edit(self.annotator.merge, int(source), int(destination), need_regions=False)
        if edit is None:
            return 0
        self.say(f"merged label {source} into {destination} ({edit.changed} pixels)")
        return edit.changed

    def undo(self, *_) -> bool:
        """Undo the last click, stroke or merge made by this widget, through its layer's napari undo history."""
        while self._undoable:
            layer = self._undoable.pop()
            if self.in_viewer(layer):
                layer.undo()
                self.say("undone")
                return True
        self.say("nothing to undo.")
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
            return
        if displayed is not None:  # keep the stroke in the shown plane
            hidden = [d for d in range(pts.shape[1]) if d not in displayed]
            pts[:, hidden] = pts[0, hidden]
        self.stroke(pts, remove=remove)
