"""What the GrabCut widget reads from its layers on the main thread before a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._layers import current_plane, image_data, labels_data
from .grabcut_job import stable_ids
from .shape_boxes import points_to_pixels, shapes_to_boxes

__all__ = ["GrabCutInputs", "read_inputs"]


@dataclass
class GrabCutInputs:
    image: object          # the layer's array, unread
    channel_axis: int | None
    spatial: tuple
    boxes: list            # (id - 1, box or None) per rectangle
    points: list           # (id - 1, pixel) per point inside the image
    trimap: np.ndarray | None
    notices: list
    nucleus: object = None  # a gray Image layer's array of the same spatial shape, unread (whole cells)


def _trimap(widget, img_layer, spatial, plane):
    trimap = None
    if widget.scribbles.value is not None:
        trimap = labels_data(widget.scribbles.value)
        if trimap.shape != spatial:
            raise ValueError(f"scribble layer {widget.scribbles.value.name!r} has shape {trimap.shape}, "
                             f"the image {spatial}: use a layer made with 'New scribble layer'.")
        trimap = np.array(trimap, copy=True)
    marks = [(widget.fg_points.value, 1), (widget.bg_points.value, 2)]
    if any(layer is not None for layer, _ in marks):
        if trimap is None:
            trimap = np.zeros(spatial, np.uint8)
        elif trimap.dtype == bool:
            trimap = trimap.astype(np.uint8)
        for layer, value in marks:
            if layer is None:
                continue
            for pix in points_to_pixels(layer, img_layer, plane):
                lead, (r, c) = tuple(pix[:-2]), pix[-2:]
                trimap[(*lead, slice(max(r - 1, 0), r + 2), slice(max(c - 1, 0), c + 2))] = value
    return trimap


def read_inputs(widget) -> GrabCutInputs:
    """Read the GrabCut widget's layers (main thread); raises ValueError saying what to do."""
    img_layer, shapes_layer, cells = widget.image.value, widget.shapes.value, widget.points.value
    if img_layer is None:
        raise ValueError("choose an Image layer.")
    n_shapes = 0 if shapes_layer is None else len(shapes_layer.data)
    n_cells = 0 if cells is None else len(cells.data)
    if n_shapes == 0 and n_cells == 0:
        raise ValueError("draw at least one rectangle in a Shapes layer (New rectangles layer), or put points on "
                         "cells in a Points layer (or use click mode).")
    image, channel_axis = image_data(img_layer)
    spatial = image.shape if channel_axis is None else np.delete(image.shape, channel_axis % image.ndim)
    spatial = tuple(int(s) for s in spatial)
    if len(spatial) < 2:
        raise ValueError(f"image {img_layer.name!r} must have at least 2 spatial dimensions.")
    plane = current_plane(widget._viewer, img_layer)
    box_ids, point_ids = stable_ids(shapes_layer if n_shapes else None, cells if n_cells else None)
    boxes, notices = shapes_to_boxes(shapes_layer, img_layer, plane) if n_shapes else ([], [])
    boxes = [(int(box_ids[i]) - 1, box) for i, box in boxes]
    points = []
    if n_cells:
        pixels, kept = points_to_pixels(cells, img_layer, plane, return_index=True)
        points = [(int(point_ids[k]) - 1, tuple(int(v) for v in pix)) for k, pix in zip(kept, pixels)]
        if len(kept) < n_cells:
            notices.append(f"{n_cells - len(kept)} point(s) of {cells.name!r} lie outside the image: skipped.")
    if not points and not any(b is not None for _, b in boxes):
        raise ValueError("no usable rectangle or point: " + " ".join(notices))
    nucleus = None
    nucleus_layer = getattr(widget, "nucleus_image", None) and widget.nucleus_image.value
    if nucleus_layer is not None:
        nucleus, nucleus_axis = image_data(nucleus_layer)
        if nucleus_axis is not None or tuple(nucleus.shape) != spatial:
            raise ValueError(f"nucleus image {nucleus_layer.name!r} must be a gray image of the shape {spatial} "
                             f"(the image's rows and columns), got {tuple(nucleus.shape)}.")
    return GrabCutInputs(image, channel_axis, spatial, boxes, points, _trimap(widget, img_layer, spatial, plane),
                         notices, nucleus)
