"""Click mode of the GrabCut widget: a click on a cell puts a point there and segments it at once.

A click (press and release without moving) adds a point to the widget's cells Points layer (made on the
first click) and runs GrabCut: the rectangles come from the cache, so only the new cell costs time. A drag
is left to napari, so the camera still pans.
"""

from __future__ import annotations

import numpy as np

from ._layers import spatial_kwargs

__all__ = ["ClickMode"]

_CLICK_TOLERANCE = 2.0  # image pixels the mouse may move between press and release of a click


class ClickMode:
    """Mixin of :class:`~napari_segsuite._napari.grabcut_widget.GrabCutWidget`."""

    def _click_mode_changed(self, on: bool) -> None:
        callbacks = self._viewer.mouse_drag_callbacks
        if on and self._on_click not in callbacks:
            callbacks.append(self._on_click)
        elif not on and self._on_click in callbacks:
            callbacks.remove(self._on_click)
        shapes = self.shapes.value
        if shapes is not None and self.in_viewer(shapes):  # a click would start a rectangle there
            shapes.mode = "pan_zoom" if on else "add_rectangle"
        self.say("click a cell to segment it (drag to pan)" if on else self.idle_status)

    def cells_layer(self):
        """The Points layer of cells (one instance per point); made, aligned with the image, if none is chosen."""
        layer = self.points.value
        if layer is not None and self.in_viewer(layer):
            return layer
        img = self.image.value
        layer = self._viewer.add_points(np.zeros((0, img.ndim)), name="GrabCut cells", ndim=img.ndim, size=4,
                                        face_color="cyan", **spatial_kwargs(img, ndim=img.ndim))
        self.points.value = layer
        if self.shapes.value is not None and self.in_viewer(self.shapes.value):
            self._viewer.layers.selection.active = self.shapes.value
        return layer

    def click_cell(self, world) -> object:
        """Add a point at ``world`` (viewer coordinates) and run GrabCut; returns the worker or None."""
        img = self.image.value
        if img is None or not self.in_viewer(img):
            self.report("choose an Image layer first.")
            return None
        if self.jobs.running:
            self.say("busy: click again once the running cell is done.")
            return None
        world = np.asarray(world, dtype=float)
        pix = np.asarray(img.world_to_data(world[-img.ndim:]), dtype=float)
        data = img.data[0] if getattr(img, "multiscale", False) else img.data
        if np.any(np.round(pix) < 0) or np.any(np.round(pix) >= np.asarray(data.shape[:img.ndim])):
            self.say("the click is outside the image.")
            return None
        cells = self.cells_layer()
        cells.add(np.asarray(cells.world_to_data(img.data_to_world(pix)), dtype=float))
        return self.run()

    def _on_click(self, viewer, event):
        """Viewer mouse callback: a click (no drag) segments the cell under it; a drag pans as usual."""
        if event.button != 1 or event.modifiers:
            return
        start = np.asarray(event.position, dtype=float)
        moved = 0.0
        yield
        while event.type == "mouse_move":
            moved = max(moved, float(np.abs(np.asarray(event.position, dtype=float) - start).max()))
            yield
        img = self.image.value
        if moved < _CLICK_TOLERANCE * (float(np.min(img.scale)) if img is not None else 1.0):
            self.click_cell(start)
