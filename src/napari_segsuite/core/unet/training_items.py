"""U-Net training data: instance labels to class targets, items normalised and split, validation metrics."""

from __future__ import annotations

import numpy as np

from ..labels import as_labels
from .data import DEFAULT_NORMALIZATION, PlaneSource, normalize_chw

__all__ = ["separate_touching", "class_targets", "prepare_training_items", "split_items", "validate_unet"]


def separate_touching(labels: np.ndarray) -> np.ndarray:
    """Instances with the pixels where two instances touch set to background (a 2-pixel gap).

    A two-class network can only tell touching cells apart if the training target does: as in the
    paper, cells are separated by background, and the border weight map stresses those thin gaps.
    """
    labels = np.asarray(labels)
    contact = np.zeros(labels.shape, bool)
    for axis in range(labels.ndim):
        a = labels.swapaxes(0, axis)
        c = contact.swapaxes(0, axis)
        differ = (a[1:] > 0) & (a[:-1] > 0) & (a[1:] != a[:-1])
        c[1:] |= differ
        c[:-1] |= differ
    out = labels.copy()
    out[contact] = 0
    return out


def class_targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-pixel classes from instances: 0 background, 1 cell; with three classes 2 = cell boundary."""
    if n_classes == 2:
        return (labels > 0).astype(np.int64)
    from skimage.segmentation import find_boundaries

    target = (labels > 0).astype(np.int64)
    target[find_boundaries(labels, mode="inner") & (labels > 0)] = 2
    return target


def _as_items(data):
    """``(name, image, labels, region)`` from any accepted training data (see
    :mod:`napari_segsuite.core.training.items`); a features table is ignored (the U-Net has no classes)."""
    from ..training.items import as_training_items

    return [(it.name, it.image, it.labels, it.region) for it in as_training_items(data)]


def prepare_training_items(data, *, channel_axis=None, normalization=None, in_channels=None):
    """Normalised ``(name, image (C,Y,X) float32, labels (Y,X) int32, region (Y,X) bool or None)`` planes
    ready for training (region: where the labels are complete; None = everywhere).

    ``normalization`` (a dict, updated in place) gains ``"min_range"`` from these images unless it has one.

    Stacks (3D labels with an image of the same shape, or with a channel axis) give one item per plane; a
    plane of a stack whose region is empty there is left out.

    Raises
    ------
    ValueError
        Image and labels shapes that do not match, invalid labels (float, negative, NaN), images with
        NaN, channel counts that differ between items or from ``in_channels``, labels without any cell
        (inside the regions) in the whole training set, a region of another shape or empty.
    """
    from ..training.items import check_region

    if normalization is None:
        normalization = dict(DEFAULT_NORMALIZATION)
    items = []
    for name, image, labels, region in _as_items(data):
        labels = as_labels(labels, name=f"{name} labels")
        region = check_region(region, labels.shape, name)
        image_shape = tuple(np.shape(image))
        if image_shape == labels.shape:
            ch_axis = None
        elif channel_axis is not None or (len(image_shape) == labels.ndim + 1 and image_shape[:-1] == labels.shape):
            ch_axis = -1 if channel_axis is None else channel_axis
            rest = tuple(s for a, s in enumerate(image_shape) if a != ch_axis % len(image_shape))
            if rest != labels.shape:
                raise ValueError(f"{name}: image shape {image_shape} does not match labels shape {labels.shape}.")
        else:
            raise ValueError(f"{name}: image shape {image_shape} does not match labels shape {labels.shape}; "
                             "the image must have the labels' shape, optionally with a channel axis.")
        if labels.ndim == 3 and ch_axis is None:
            source = PlaneSource(image, in_channels=1, what=name)
        else:
            source = PlaneSource(image, channel_axis=ch_axis, in_channels=None if ch_axis is not None else 1,
                                 what=name)
        if in_channels is not None and source.n_channels != in_channels:
            raise ValueError(f"{name}: the model is for {in_channels} channel(s) but this image has "
                             f"{source.n_channels}; a checkpoint made for another number of channels cannot "
                             "be trained on it.")
        in_channels = source.n_channels
        h, w = source.plane_shape
        for z in range(source.n_planes):
            block = source.read(z, slice(0, h), slice(0, w))
            lo, hi = source.plane_range(z, normalization)
            lab = labels[z] if labels.ndim == 3 else labels
            reg = None if region is None else (region[z] if labels.ndim == 3 else region)
            if reg is not None and not reg.any():
                continue
            items.append((f"{name}[{z}]" if source.is_stack else name, block, lab, reg, lo, hi))
    if not any((it[2] if it[3] is None else it[2][it[3]]).max(initial=0) > 0 for it in items):
        where = " inside the regions" if any(it[3] is not None for it in items) else " at all"
        raise ValueError(f"the training labels contain no cells{where}; label at least a few cells first.")
    if "min_range" not in normalization:
        normalization["min_range"] = [float(v) for v in 0.1 * np.min([hi - lo for *_, lo, hi in items], axis=0)]
    return [(name, normalize_chw(block, lo, hi), lab, reg) for name, block, lab, reg, lo, hi in items], in_channels


def _cut(labels, region, val_fraction, axis=None):
    """(axis, cut): the ``axis`` (default: the longer side), cut so the strip after the cut gets
    ``val_fraction`` of it (of the region's pixels when there is a region); cut None when a part would be
    under 16 pixels or hold no region."""
    if axis is None:
        axis = 0 if labels.shape[0] >= labels.shape[1] else 1
    n = labels.shape[axis]
    if region is None:
        cut = int(round(n * (1 - val_fraction)))
    else:
        counts = np.cumsum(region.sum(axis=1 - axis))
        cut = int(np.searchsorted(counts, (1 - val_fraction) * counts[-1])) + 1
        if counts[cut - 1] == 0 or counts[-1] - counts[min(cut, n) - 1] == 0:
            return axis, None
    if cut < 16 or n - cut < 16:
        return axis, None
    return axis, cut


def _strips(labels, region, val_fraction):
    """The candidate validation strips, as ``(train index, validation index)`` pairs of 2D slices: first the
    far end of the longer side (the default), then its near end, then both ends of the shorter side."""
    longer = 0 if labels.shape[0] >= labels.shape[1] else 1
    out = []
    for axis in (longer, 1 - longer):
        for at_end in (True, False):
            flip = (slice(None),) * axis + (slice(None, None, -1),)
            lab, reg = (labels, region) if at_end else (labels[flip], None if region is None else region[flip])
            _, cut = _cut(lab, reg, val_fraction, axis)
            if cut is None:
                continue
            if not at_end:
                cut = labels.shape[axis] - cut
            first, second = (slice(None),) * axis + (slice(None, cut),), (slice(None),) * axis + (slice(cut, None),)
            out.append((first, second) if at_end else (second, first))
    return out


def _cells_in(lab, total, index) -> int:
    """How many cells of ``lab`` (labels already masked to the region) have at least half of their pixels in
    ``lab[index]``; ``total`` is ``np.bincount(lab.ravel())``."""
    part = np.bincount(lab[index].ravel(), minlength=total.size)
    return int(np.count_nonzero((total[1:] > 0) & (2 * part[1:] >= total[1:])))


def _choose_strip(labels, region, val_fraction):
    """The validation strip of a single image: the default one (the far end of the longer side) unless it
    holds under half its share of the cells (a strip in an empty part of the field, such as a scratch, would
    score every epoch as perfect and stop training at once); then the candidate whose cell count is closest
    to its share. None when no strip can be cut or none holds a cell."""
    strips = _strips(labels, region, val_fraction)
    if not strips:
        return None
    lab = labels if region is None else np.where(region, labels, 0)
    total = np.bincount(lab.ravel())
    share = val_fraction * int(np.count_nonzero(total[1:]))
    counts = [_cells_in(lab, total, v) for _, v in strips]
    if counts[0] >= 0.5 * share and counts[0] > 0:
        return strips[0]
    best = min(range(len(strips)), key=lambda i: (counts[i] == 0, abs(counts[i] - share), i))
    return strips[best] if counts[best] > 0 else None


def split_items(items, val_fraction, rng):
    """(train, validation, what is validated on): whole items when there are two or more, else a strip
    at an edge of the single image (the training image itself when it is too small to split or no strip
    holds a cell). The strip is the far end of the longer side unless that holds under half its share of
    the cells; then the edge strip whose cell count is closest to ``val_fraction`` of the cells. With a
    region the strip holds about ``val_fraction`` of the region's pixels, and each part keeps its piece."""
    if val_fraction <= 0:
        return items, [], None
    if len(items) >= 2:
        order = rng.permutation(len(items))
        n_val = min(len(items) - 1, max(1, int(round(val_fraction * len(items)))))
        return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]], "held-out training items"
    name, image, labels, region = items[0]
    strip = _choose_strip(labels, region, val_fraction)
    if strip is None:  # too small to split, or no strip with a cell: validate on the training image
        return items, items, "training images (no held-out data)"
    sl_t, sl_v = strip
    part = (lambda sl: None) if region is None else (lambda sl: region[sl])
    train = [(name, image[(slice(None),) + sl_t], labels[sl_t], part(sl_t))]
    val = [(name + "-val", image[(slice(None),) + sl_v], labels[sl_v], part(sl_v))]
    return train, val, "held-out part of the training image"


def validate_unet(net, val_items, dev, min_size) -> dict:
    """Validation metrics of ``net`` on ``(name, image (C,Y,X), labels, region)`` items: mean IoU and AP@0.5.

    An item with a region is predicted on the region's bounding box and scored inside the region only
    (:func:`~napari_segsuite.core.training.regions.score_in_region`: instances mostly outside are ignored).
    """
    import torch

    from ..training.regions import region_bbox, score_in_region
    from .postprocess import probabilities_to_instances

    mult = 2 ** net.config["depth"]
    net.eval()
    ious, aps = [], []
    with torch.inference_mode():
        for _, image, labels, region in val_items:
            if region is not None:
                box = region_bbox(region)
                image, labels, region = image[(slice(None),) + box], labels[box], region[box]
            h, w = labels.shape
            ph, pw = -(-h // mult) * mult - h, -(-w // mult) * mult - w
            x = np.pad(image, ((0, 0), (0, ph), (0, pw)), mode="symmetric")
            prob = torch.softmax(net(torch.from_numpy(x[None]).to(dev)).float(), 1)[0, :, :h, :w].cpu().numpy()
            pred = probabilities_to_instances(prob, min_size=min_size)
            score = score_in_region(labels, pred, region)
            ious.append(score["iou"])
            aps.append(score["ap50"])
    net.train()
    iou_, ap = float(np.mean(ious)), float(np.mean(aps))
    return {"val_ap50": ap, "val_iou": iou_, "score": ap + 1e-3 * iou_}
