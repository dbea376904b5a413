"""Rectangles of a napari Shapes layer -> GrabCut boxes in an Image layer's data pixels."""

from __future__ import annotations

import numpy as np

__all__ = ["shapes_to_boxes"]


def _is_axis_aligned_rectangle(verts: np.ndarray, shape_type: str) -> bool:
    if shape_type != "rectangle" or len(verts) != 4:
        return False
    rows, cols = verts[:, -2], verts[:, -1]
    tol = 1e-3 * max(1.0, float(np.ptp(rows)), float(np.ptp(cols)))
    # Each vertex shares its row with one neighbour and its column with the other.
    return all(min(abs(rows[i] - rows[(i + 1) % 4]), abs(cols[i] - cols[(i + 1) % 4])) <= tol
               for i in range(4))


def shapes_to_boxes(shapes_layer, image_layer, plane: tuple[int, ...] = ()):
    """Convert every shape to a box ``(plane..., row0, col0, row1, col1)`` of the image's data pixels.

    Vertices go through world coordinates (``data_to_world`` then ``world_to_data``), so the layers may
    have different scale and translate. A pixel belongs to the box when its centre lies inside the
    rectangle. A shape drawn on a plane of a stack applies to that plane; a 2D Shapes layer over a stack
    applies to ``plane`` (the plane on view).

    Parameters
    ----------
    shapes_layer : napari.layers.Shapes
    image_layer : napari.layers.Image
    plane : tuple of int
        Plane indices for shapes that have no coordinate on the image's leading axes.

    Returns
    -------
    boxes : list of (int, tuple or None)
        ``(shape index, box)`` for every shape; ``box`` is None when the shape cannot be used.
    notices : list of str
        What was changed or refused (rotated rectangles or other shapes -> bounding box, clipped boxes,
        boxes with no area or outside the image).
    """
    from napari_segsuite.core.graphcut.boxes import clip_box

    n_img = image_layer.ndim  # spatial dims (an RGB layer's channel axis is not a dim)
    data = image_layer.data[0] if getattr(image_layer, "multiscale", False) else image_layer.data
    spatial_shape = tuple(data.shape[:n_img])
    lead = n_img - 2
    boxes, notices = [], []
    for i, (verts, kind) in enumerate(zip(shapes_layer.data, shapes_layer.shape_type)):
        verts = np.asarray(verts, dtype=float)
        world = np.array([shapes_layer.data_to_world(v) for v in verts])
        if world.shape[1] < n_img:  # a 2D Shapes layer over a stack: the plane on view
            lead_world = np.array([image_layer.data_to_world((*plane, 0, 0))[: n_img - world.shape[1]]])
            world = np.hstack([np.repeat(lead_world, len(world), 0), world])
        pix = np.array([image_layer.world_to_data(w) for w in world])
        if not _is_axis_aligned_rectangle(pix, kind):
            article = "an" if kind[0] in "aeiou" else "a"
            what = "a rotated rectangle" if kind == "rectangle" else f"{article} {kind}"
            notices.append(f"shape {i + 1} is {what}: its bounding box is used.")
        planes = tuple(int(round(float(v))) for v in pix[:, :lead].mean(0)) if lead > 0 else ()
        rows, cols = pix[:, -2], pix[:, -1]
        raw = (int(np.ceil(rows.min() - 1e-6)), int(np.ceil(cols.min() - 1e-6)),
               int(np.floor(rows.max() + 1e-6)) + 1, int(np.floor(cols.max() + 1e-6)) + 1)
        try:
            box = clip_box((*planes, *raw), spatial_shape)
        except ValueError as exc:
            notices.append(f"shape {i + 1} skipped: {exc}")
            boxes.append((i, None))
            continue
        if box[lead:] != raw:
            notices.append(f"shape {i + 1} reaches outside the image: clipped to {box[lead:]}.")
        boxes.append((i, box))
    return boxes, notices


def points_to_pixels(points_layer, image_layer, plane: tuple[int, ...] = (), return_index: bool = False):
    """Points of a Points layer -> integer pixel indices ``(n, image ndim)`` of the image, inside it.

    Goes through world coordinates like :func:`shapes_to_boxes`; a 2D Points layer over a stack uses
    ``plane``. Points outside the image are dropped; with ``return_index`` the indices of the points kept
    are returned too.
    """
    n_img = image_layer.ndim
    data = image_layer.data[0] if getattr(image_layer, "multiscale", False) else image_layer.data
    shape = np.array(data.shape[:n_img])
    out, kept = [], []
    for k, p in enumerate(np.asarray(points_layer.data, dtype=float)):
        world = np.asarray(points_layer.data_to_world(p), dtype=float)
        if world.size < n_img:
            lead = np.asarray(image_layer.data_to_world((*plane, 0, 0)))[: n_img - world.size]
            world = np.concatenate([lead, world])
        pix = np.round(np.asarray(image_layer.world_to_data(world), dtype=float)).astype(int)
        if (pix >= 0).all() and (pix < shape).all():
            out.append(pix)
            kept.append(k)
    pixels = np.array(out, dtype=int).reshape(-1, n_img)
    return (pixels, kept) if return_index else pixels
