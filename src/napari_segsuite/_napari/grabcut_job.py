"""The GrabCut widget's worker job: the model prior, the rectangles (cached by the session), the points.

Glue only: each step is a core call (:func:`~napari_segsuite.core.graphcut.prior.model_prior`,
:meth:`~napari_segsuite.core.graphcut.session.GrabCutSession.iter_run`,
:func:`~napari_segsuite.core.graphcut.points.iter_grabcut_points`), run in the worker thread.
"""

from __future__ import annotations

import numpy as np

__all__ = ["grabcut_job", "ID_COLUMN", "stable_ids"]

#: feature column of the Shapes / Points layers holding each rectangle's or point's instance id
ID_COLUMN = "segsuite_id"


def stable_ids(*layers) -> list[np.ndarray]:
    """The instance id of every shape / point of ``layers`` (None entries give empty arrays).

    Ids live in the layers' ``features`` (column ``segsuite_id``), which napari keeps row by row when a
    shape or point is deleted, moved or edited: deleting a rectangle keeps the other rectangles' ids. New
    rows (id 0, the column's default) and copies of an existing row get the next ids after the largest
    in use, in order.
    """
    cols = []
    for layer in layers:
        n = 0 if layer is None else len(layer.data)
        feats = None if layer is None else layer.features
        if feats is not None and ID_COLUMN in feats and len(feats) == n:
            cols.append(np.nan_to_num(np.asarray(feats[ID_COLUMN], dtype=float)).astype(np.int64))
        else:
            cols.append(np.zeros(n, np.int64))
    top = max([int(ids.max()) for ids in cols if ids.size] + [0])
    seen: set = set()
    for layer, ids in zip(layers, cols):
        before = ids.copy()
        for k, v in enumerate(ids):
            if v <= 0 or int(v) in seen:
                top += 1
                ids[k] = top
            seen.add(int(ids[k]))
        if layer is not None and (ID_COLUMN not in layer.features or not np.array_equal(before, ids)):
            feats = layer.features.copy()
            feats[ID_COLUMN] = ids
            layer.features = feats
            defaults = layer.feature_defaults
            layer.feature_defaults = {**{c: defaults[c].iloc[0] for c in defaults.columns}, ID_COLUMN: 0}
    return cols


def grabcut_job(session, image, channel_axis, boxes, points, trimap, model, nucleus=None, **params):
    """Generator run in the worker: returns ``(SessionRun, point results, prior or None)``.

    ``boxes``: ``(id - 1, box or None)`` per rectangle; ``points``: ``(id - 1, pixel)`` per point (the
    image's spatial axes); ``model``: a checkpoint path giving a foreground prior, or None. Point results are
    ``(id - 1, key, BoxMask or None)``: None when nothing stands out under the point. ``nucleus``: a gray image
    of the nuclei (whole cells), added as the last channel and passed as ``nucleus_channel``.
    """
    from scipy import ndimage as ndi

    from napari_segsuite.core.graphcut.boxes import BoxMask
    from napari_segsuite.core.graphcut.checks import DEFAULT_PARAMS
    from napari_segsuite.core.graphcut.points import iter_grabcut_points
    from napari_segsuite.core.graphcut.prior import model_prior, points_regions
    from napari_segsuite.core.graphcut.session import SessionRun
    from napari_segsuite.core.progress import Progress

    image = np.asarray(image)  # read here, off the GUI thread
    if nucleus is not None:  # whole cells: the nucleus image becomes the image's last channel
        channels = image if channel_axis is not None else image[..., None]
        if channel_axis is not None:
            channels = np.moveaxis(channels, channel_axis, -1)
        image = np.concatenate([channels, np.asarray(nucleus)[..., None].astype(channels.dtype)], axis=-1)
        channel_axis = -1
        params["nucleus_channel"] = image.shape[-1] - 1
    prior = None
    if model is not None:
        yield Progress(0, 1, "model prior...")
        regions = [b[-4:] for _, b in boxes if b is not None] + points_regions([p[-2:] for _, p in points])
        prior = model_prior(model, image, regions, channel_axis=channel_axis, margin=DEFAULT_PARAMS["margin"])
    run = SessionRun({}, {})
    if any(b is not None for _, b in boxes):
        run = yield from session.iter_run(image, boxes, channel_axis, trimap, prior=prior, **params)
    found = []
    if points:
        labels = yield from iter_grabcut_points(image, [p for _, p in points], channel_axis=channel_axis,
                                                trimap=trimap, prior=prior, **params)
        slices = ndi.find_objects(labels, max_label=len(points))
        for k, ((i, pix), sl) in enumerate(zip(points, slices)):
            res = None if sl is None else BoxMask(tuple(s.start for s in sl), sl, labels[sl] == k + 1)
            found.append((i, ("point", tuple(int(v) for v in pix)), res))
    return run, found, prior
