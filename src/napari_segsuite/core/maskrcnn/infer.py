"""Mask R-CNN inference: whole images or overlapping tiles with instance-aware stitching.

Tiling: tiles of ``tile_size`` overlap by ``overlap`` pixels. Each tile's *core* is the part of it closer
to its own centre than to a neighbour's (the cores partition the image). An instance found in a tile is
kept only if the centre of its box lies in that tile's core, so a cell on a seam is taken from the one tile
that sees it whole (when ``overlap`` exceeds the cell diameter) and from no other. All kept instances are
then pasted by descending score; one whose area is mostly (> ``duplicate_overlap``) covered already is a
duplicate and dropped, otherwise it gets its still-free pixels (overlaps go to the higher score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..channels import announce_conversion
from ..layout import looks_channels_last
from ..progress import Progress, run

__all__ = ["Instance", "tile_layout", "iter_predict_tiled", "stitch_instances", "model_tile_predictor",
           "iter_predict_maskrcnn", "predict_maskrcnn"]


@dataclass
class Instance:
    """One detected instance: a boolean mask crop placed at ``(y0, x0)``."""

    score: float
    cls: int
    y0: int
    x0: int
    mask: np.ndarray

    @property
    def centre(self) -> tuple[float, float]:
        h, w = self.mask.shape
        return self.y0 + h / 2.0, self.x0 + w / 2.0


def _axis_tiles(size: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, core_start, core_stop) per tile along one axis; the cores partition [0, size)."""
    if size <= tile:
        return [(0, size, 0, size)]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    starts = sorted(set(starts))
    out = []
    for i, s in enumerate(starts):
        lo = 0 if i == 0 else (s + starts[i - 1] + tile) // 2
        hi = size if i == len(starts) - 1 else (starts[i + 1] + s + tile) // 2
        out.append((s, s + tile, lo, hi))
    return out


def tile_layout(shape, tile_size: int | None, overlap: int) -> list[tuple[slice, slice, tuple[int, int, int, int]]]:
    """Tiles covering a 2D ``shape``: ``(rows, cols, (core_y0, core_y1, core_x0, core_x1))`` per tile.

    ``tile_size=None`` (or an image no larger than a tile) gives one tile: the whole image.

    Raises
    ------
    ValueError
        If ``overlap`` is negative or not smaller than half the tile.
    """
    h, w = shape
    if tile_size is None:
        return [(slice(0, h), slice(0, w), (0, h, 0, w))]
    tile_size = int(tile_size)
    if tile_size < 32:
        raise ValueError(f"tile_size must be at least 32 pixels, got {tile_size}.")
    if overlap < 0 or 2 * overlap >= tile_size:
        raise ValueError(f"overlap must be >= 0 and less than half the tile size ({tile_size}); got {overlap}.")
    out = []
    for y0, y1, cy0, cy1 in _axis_tiles(h, tile_size, overlap):
        for x0, x1, cx0, cx1 in _axis_tiles(w, tile_size, overlap):
            out.append((slice(y0, y1), slice(x0, x1), (cy0, cy1, cx0, cx1)))
    return out


def iter_predict_tiled(predict_tile, image: np.ndarray, tile_size: int | None = 512, overlap: int = 64):
    """Run ``predict_tile`` on overlapping tiles of a ``(C, H, W)`` image; keep each instance once.

    Parameters
    ----------
    predict_tile : callable
        ``predict_tile(tile) -> list of Instance`` in tile coordinates, for a ``(C, h, w)`` tile.
    image : (C, H, W) numpy.ndarray
        The prepared image.
    tile_size : int or None
        Tile edge; None processes the whole image at once.
    overlap : int
        Pixels shared by neighbouring tiles; should exceed the largest cell diameter.

    Yields
    ------
    Progress
        One event per tile.

    Returns
    -------
    list of Instance
        In image coordinates; each instance comes from the tile whose core holds its box centre.
    """
    layout = tile_layout(image.shape[1:], tile_size, overlap)
    kept = []
    for i, (rows, cols, (cy0, cy1, cx0, cx1)) in enumerate(layout):
        for inst in predict_tile(image[:, rows, cols]):
            inst = Instance(inst.score, inst.cls, inst.y0 + rows.start, inst.x0 + cols.start, inst.mask)
            cy, cx = inst.centre
            if cy0 <= cy < cy1 and cx0 <= cx < cx1:
                kept.append(inst)
        yield Progress(i + 1, len(layout), f"tile {i + 1}/{len(layout)}", {"instances": len(kept)})
    return kept


def stitch_instances(instances, shape, duplicate_overlap: float = 0.5, min_area: int = 1):
    """Paste instances into a label image by descending score.

    Parameters
    ----------
    instances : list of Instance
        In image coordinates.
    shape : tuple of int
        ``(H, W)`` of the output.
    duplicate_overlap : float
        An instance whose pixels are covered by higher-scoring ones beyond this fraction is dropped.
    min_area : int
        Instances left with fewer free pixels are dropped.

    Returns
    -------
    labels : (H, W) int32 numpy.ndarray
        Instances numbered 1..N by descending score.
    table : dict of numpy arrays
        ``label``, ``score``, ``class`` per instance (row k describes label k + 1).
    """
    labels = np.zeros(shape, np.int32)
    order = sorted(instances, key=lambda inst: -inst.score)
    scores, classes = [], []
    for inst in order:
        h, w = inst.mask.shape
        ys, xs = slice(inst.y0, inst.y0 + h), slice(inst.x0, inst.x0 + w)
        mask = inst.mask.astype(bool)
        region = labels[ys, xs]
        mask = mask[: region.shape[0], : region.shape[1]]
        area = int(mask.sum())
        if area == 0:
            continue
        free = mask & (region == 0)
        n_free = int(free.sum())
        if n_free < max(min_area, 1) or (area - n_free) > duplicate_overlap * area:
            continue
        region[free] = len(scores) + 1
        scores.append(float(inst.score))
        classes.append(int(inst.cls))
    n = len(scores)
    table = {"label": np.arange(1, n + 1, dtype=np.int32), "score": np.asarray(scores, np.float32),
             "class": np.asarray(classes, np.int32)}
    return labels, table


def model_tile_predictor(model, device, score_threshold: float = 0.5, mask_threshold: float = 0.5):
    """A ``predict_tile`` function running a torchvision Mask R-CNN (eval mode) on one tile."""
    import torch
    import torch.nn.functional as F

    def predict_tile(tile: np.ndarray) -> list[Instance]:
        h, w = tile.shape[1:]
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(tile)).to(device)
            out = model([x])[0]
        keep = out["scores"] >= score_threshold
        boxes = out["boxes"][keep].cpu().numpy()
        scores = out["scores"][keep].cpu().numpy()
        classes = out["labels"][keep].cpu().numpy()
        masks = out["masks"][keep].float().cpu()
        result = []
        for box, score, cls, prob in zip(boxes, scores, classes, masks):
            x0, y0 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
            x1, y1 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
            if x1 <= x0 or y1 <= y0:
                continue
            # resample the 28x28 box mask onto the box's pixel grid (box in continuous coordinates)
            bw, bh = max(box[2] - box[0], 1e-3), max(box[3] - box[1], 1e-3)
            gx = ((np.arange(x0, x1) + 0.5 - box[0]) / bw) * 2 - 1
            gy = ((np.arange(y0, y1) + 0.5 - box[1]) / bh) * 2 - 1
            grid = torch.stack(torch.meshgrid(torch.from_numpy(gy).float(), torch.from_numpy(gx).float(),
                                              indexing="ij")[::-1], dim=-1)[None]
            sampled = F.grid_sample(prob[None], grid, mode="bilinear", align_corners=False, padding_mode="zeros")
            mask = sampled[0, 0].numpy() >= mask_threshold
            if mask.any():
                result.append(Instance(float(score), int(cls), y0, x0, mask))
        return result

    return predict_tile


def _resolve_model(model_or_checkpoint, device):
    from ..device import select_device
    from .checkpoint import model_from_checkpoint

    dev = select_device(device) if isinstance(device, str) or device is None else device
    if hasattr(model_or_checkpoint, "roi_heads"):
        model = model_or_checkpoint.to(dev).eval()
        norm = getattr(model, "segsuite_normalization", {}) or {}
    else:
        model = model_from_checkpoint(model_or_checkpoint, dev)
        norm = model.segsuite_normalization
        if dev.type == "cpu":  # a model of our own: channels-last convolutions run about 1.4x faster on a CPU
            import torch

            model = model.to(memory_format=torch.channels_last)
    return model, dev, norm


def iter_predict_maskrcnn(model_or_checkpoint, image, *, channel_axis: int | None = None, tile_size: int | None = 512,
                          overlap: int = 64, score_threshold: float = 0.5, mask_threshold: float = 0.5,
                          min_size: int = 1, device="auto", return_table: bool = False,
                          return_probabilities: bool = False, convert: str | None = None, diameter=None):
    """Generator form of :func:`predict_maskrcnn`: yields :class:`Progress`.

    Returns ``labels``, or ``(labels, table)`` with ``return_table=True`` (the form ``core.predict``'s
    dispatch by checkpoint kind expects: labels only). ``min_size`` is the smallest instance kept (pixels).
    ``convert`` lets a colour image into a gray model (:func:`napari_segsuite.core.channels.fit_channels`).
    """
    from .targets import prepare_image

    if return_probabilities:
        raise ValueError("Mask R-CNN gives instances with scores, not a probability map; "
                         "the scores are in the returned table (return_table=True).")

    if not 0.0 <= score_threshold <= 1.0 or not 0.0 < mask_threshold < 1.0:
        raise ValueError("score_threshold must be in [0, 1] and mask_threshold in (0, 1).")
    if not float(min_size).is_integer() or min_size < 0:
        raise ValueError(f"min_size must be a whole number of pixels >= 0, got {min_size!r}.")
    model, dev, norm = _resolve_model(model_or_checkpoint, device)
    channels = int(model.segsuite_config["in_channels"])
    arr = np.asarray(image)
    rgb_last = (channel_axis is None and arr.ndim in (3, 4)
                and (arr.shape[-1] in (3, 4) or looks_channels_last(arr.shape)))
    spatial = arr.ndim - (1 if channel_axis is not None or rgb_last else 0)
    if spatial not in (2, 3):
        raise ValueError(f"image of shape {arr.shape}: expected a 2D image (YX, YX+channels) or a stack of them.")
    if spatial == 3:  # a stack: plane by plane, ids unique over the stack
        if channel_axis is not None:
            arr = np.moveaxis(arr, channel_axis, -1)
            channel_axis = -1
        elif rgb_last:
            channel_axis = -1
        out = np.zeros(arr.shape[:3], np.int32)
        tables = []
        for z in range(arr.shape[0]):
            plane_labels, plane_table = yield from iter_predict_maskrcnn(
                model, arr[z], channel_axis=channel_axis, tile_size=tile_size, overlap=overlap,
                score_threshold=score_threshold, mask_threshold=mask_threshold, min_size=min_size, device=dev,
                return_table=True, convert=convert, diameter=diameter)
            offset = sum(len(t["label"]) for t in tables)
            out[z] = np.where(plane_labels > 0, plane_labels + offset, 0)
            tables.append({**plane_table, "label": plane_table["label"] + offset,
                           "plane": np.full(len(plane_table["label"]), z, np.int32)})
            yield Progress(z + 1, arr.shape[0], f"plane {z + 1}/{arr.shape[0]}")
        table = {k: np.concatenate([t[k] for t in tables]) for k in ("label", "score", "class", "plane")}
        return (out, table) if return_table else out
    if rgb_last and arr.shape[-1] not in (3, 4):
        channel_axis = -1  # (Y, X, 1 or 2): channels, checked against the model's
    axis = -1 if channel_axis is None else channel_axis
    n_channels = 1 if channel_axis is None and arr.ndim == 2 else arr.shape[axis]
    announce_conversion(convert, n_channels, channels)
    prepared = prepare_image(arr, channels, channel_axis, norm, convert=convert)
    predictor = model_tile_predictor(model, dev, score_threshold, mask_threshold)

    def iter_one(chw):
        tile = None if tile_size is None or max(chw.shape[1:]) <= tile_size else tile_size
        instances = yield from iter_predict_tiled(predictor, chw, tile, overlap)
        return stitch_instances(instances, chw.shape[1:], min_area=max(1, int(min_size)))

    if diameter is None:
        labels, table = yield from iter_one(prepared)
    else:
        from ..diameter import iter_predict_at_diameter

        def iter_hwc(hwc):
            return (yield from iter_one(np.ascontiguousarray(np.moveaxis(hwc, -1, 0))))

        labels, table, _ = yield from iter_predict_at_diameter(
            iter_hwc, np.moveaxis(prepared, 0, -1), getattr(model, "segsuite_diameter", None), diameter)
    return (labels, table) if return_table else labels


def predict_maskrcnn(model_or_checkpoint, image, *, channel_axis: int | None = None, tile_size: int | None = 512,
                     overlap: int = 64, score_threshold: float = 0.5, mask_threshold: float = 0.5,
                     min_size: int = 1, device="auto", progress=None, convert: str | None = None, diameter=None):
    """Segment cell instances with a trained Mask R-CNN.

    Parameters
    ----------
    model_or_checkpoint : torch.nn.Module, dict, str or Path
        A model from :func:`build_maskrcnn`/training, a checkpoint dict, or a ``.pt`` path.
    image : array_like
        ``(H, W)`` gray, ``(H, W, 3)`` RGB, multichannel with ``channel_axis``, or a ``(Z, H, W)`` stack
        (processed plane by plane). Any dtype (8/16-bit, float).
    channel_axis : int, optional
        Axis holding channels.
    tile_size : int or None
        Tiles of this edge with ``overlap``; None (or an image that fits in one tile) runs it whole.
    overlap : int
        Overlap of neighbouring tiles in pixels; make it larger than the largest cell.
    score_threshold : float
        Detections scoring below are dropped.
    mask_threshold : float
        Mask probability above which a pixel belongs to the instance.
    min_size : int
        Instances with fewer pixels (after overlaps are resolved) are dropped.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    progress : callable, optional
        Called with each :class:`Progress` event.
    convert : {None, "hematoxylin", "gray"}, optional
        How a colour image becomes gray for a model trained on gray images: ``"hematoxylin"`` (H&E: the
        hematoxylin stain, nuclei bright), ``"gray"`` (channel mean). None refuses a colour image (unless its
        channels are equal), since averaging stained tissue to gray inverts what a fluorescence model expects.
    diameter : float or "auto", optional
        The objects' diameter in the image, pixels: the image is rescaled so they are as large as those the
        model was trained on (``training["diameter"]`` in its checkpoint), predicted, and the labels resized
        back. ``"auto"`` estimates it (:func:`~napari_segsuite.core.diameter.iter_predict_at_diameter`).
        None (default): the image's own scale. A stack is rescaled plane by plane.

    Returns
    -------
    labels : numpy.ndarray
        int32 instance labels (1..N by descending score; 0 background). All zeros when nothing is found.
    table : dict of numpy arrays
        ``label``, ``score`` and ``class`` per instance (``plane`` too for stacks): napari ``features``.

    Raises
    ------
    ValueError
        Bad thresholds or tiling, an image the model cannot take (channels, NaN), a checkpoint of another kind.
    FileNotFoundError
        A checkpoint path that does not exist.

    Examples
    --------
    >>> from napari_segsuite.core import load_sample, sample_path
    >>> image, gt = load_sample("nuclei_test")
    >>> labels, table = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), image, device="cpu")  # doctest: +SKIP
    """
    return run(iter_predict_maskrcnn(model_or_checkpoint, image, channel_axis=channel_axis, tile_size=tile_size,
                                     overlap=overlap, score_threshold=score_threshold,
                                     mask_threshold=mask_threshold, min_size=min_size, device=device,
                                     return_table=True, convert=convert, diameter=diameter), progress)
