"""Instance labels -> Mask R-CNN targets (boxes, class labels, masks), and image preparation."""

from __future__ import annotations

import numpy as np

from ..channels import fit_channels
from ..labels import as_labels

__all__ = ["masks_to_targets", "class_ids_from_features", "prepare_image", "percentile_normalization",
           "partial_view"]


def class_ids_from_features(features, label_ids) -> dict[int, int]:
    """Map label ids to class ids (>= 1) from a Labels layer's ``features`` table.

    Parameters
    ----------
    features : pandas.DataFrame, dict of columns, or None
        A table with a ``class`` column. Rows are matched to label ids through an ``index`` column when
        there is one (napari's convention), else row ``i`` describes label ``i``.
    label_ids : iterable of int
        The instance ids present in the labels.

    Returns
    -------
    dict
        label id -> class id. Every id gets class 1 when there is no ``class`` column.

    Raises
    ------
    ValueError
        If a class is not a whole number >= 1, or a label id has no row.
    """
    label_ids = [int(i) for i in label_ids]
    if features is None:
        return {i: 1 for i in label_ids}
    columns = {k: np.asarray(features[k]) for k in (features.keys() if hasattr(features, "keys") else [])}
    if "class" not in columns:
        return {i: 1 for i in label_ids}
    classes = columns["class"]
    if "index" in columns:
        rows = {int(v): r for r, v in enumerate(columns["index"])}
    else:
        rows = {r: r for r in range(len(classes))}
    out = {}
    for i in label_ids:
        if i not in rows:
            raise ValueError(f"the features table has no row for label {i}; give a 'class' for every instance.")
        value = classes[rows[i]]
        try:
            cls = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"class {value!r} of label {i} is not a number; classes are whole numbers >= 1.")
        if not np.isfinite(cls) or cls != round(cls) or cls < 1:
            raise ValueError(f"class {value!r} of label {i} is not a whole number >= 1 (0 is the background).")
        out[i] = int(cls)
    return out


def masks_to_targets(labels, classes=None, min_area: int = 1) -> dict:
    """Convert instance labels into the target dict torchvision's Mask R-CNN trains on.

    Parameters
    ----------
    labels : (H, W) array of int
        Instance labels, 0 = background.
    classes : dict, optional
        label id -> class id (>= 1). Default: class 1 for every instance.
    min_area : int
        Instances with fewer pixels are left out (slivers at crop edges).

    Returns
    -------
    dict of numpy arrays
        ``boxes`` float32 (N, 4) as ``x0, y0, x1, y1`` (pixel edges, end exclusive), ``labels`` int64 (N,),
        ``masks`` uint8 (N, H, W), ``ids`` int64 (N,) the label ids. N may be 0.

    Raises
    ------
    ValueError
        If the labels are not 2D instance labels (see :func:`as_labels`).

    Examples
    --------
    >>> lab = np.zeros((8, 8), int); lab[1:3, 2:6] = 4
    >>> t = masks_to_targets(lab)
    >>> t["boxes"].tolist(), t["labels"].tolist()
    ([[2.0, 1.0, 6.0, 3.0]], [1])
    """
    from scipy import ndimage as ndi

    labels = as_labels(labels, ndim=(2,))
    h, w = labels.shape
    slices = ndi.find_objects(labels)
    boxes, cls, masks, ids = [], [], [], []
    for index, slc in enumerate(slices):
        if slc is None:
            continue
        lid = index + 1
        local = labels[slc] == lid
        if local.sum() < min_area:
            continue
        mask = np.zeros((h, w), np.uint8)
        mask[slc][local] = 1
        ys, xs = slc
        boxes.append([xs.start, ys.start, xs.stop, ys.stop])
        cls.append(1 if classes is None else int(classes.get(lid, 1)))
        masks.append(mask)
        ids.append(lid)
    return {
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "labels": np.asarray(cls, np.int64),
        "masks": np.stack(masks) if masks else np.zeros((0, h, w), np.uint8),
        "ids": np.asarray(ids, np.int64),
    }


def percentile_normalization(image: np.ndarray, low: float = 1.0, high: float = 99.8) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel low/high percentiles of a ``(C, H, W)`` image (subsampled on large images)."""
    c = image.shape[0]
    step = max(1, int(np.sqrt(image.shape[1] * image.shape[2] / 1_000_000)))
    sample = image[:, ::step, ::step].reshape(c, -1).astype(np.float32)
    lo = np.percentile(sample, low, axis=1)
    hi = np.percentile(sample, high, axis=1)
    return lo.astype(np.float32), hi.astype(np.float32)


def prepare_image(image, in_channels: int, channel_axis: int | None = None, normalization: dict | None = None,
                  convert: str | None = None
                  ) -> np.ndarray:
    """Turn a 2D image (gray, RGB or multichannel) into a normalized float32 ``(C, H, W)`` array.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` gray, ``(H, W, 3|4)`` RGB(A), or multichannel with ``channel_axis``. Any integer or
        float dtype (8/16-bit included).
    in_channels : int
        Channels the model expects.
    channel_axis : int, optional
        Axis of the channels. ``None``: a 2D image is gray; a 3D image whose last axis has 3 or 4 entries
        is RGB(A) (alpha dropped).
    normalization : dict, optional
        ``{"method": "percentile", "low": 1.0, "high": 99.8}`` (the default): each channel is scaled so
        its low/high percentiles map to 0/1.
    convert : {None, "hematoxylin", "gray"}, optional
        How a colour image may become gray for a one-channel model (:func:`napari_segsuite.core.channels.fit_channels`);
        None refuses a colour image whose channels differ.

    Returns
    -------
    numpy.ndarray
        float32 ``(C, H, W)``.

    Raises
    ------
    ValueError
        NaN/infinite values, a stack instead of a 2D image, or a channel count the model was not trained on.
    """
    arr = np.asarray(image)
    if arr.dtype == bool or arr.dtype.kind not in "uif":
        raise ValueError(f"expected a numeric image, got dtype {arr.dtype}.")
    if channel_axis is not None:
        if arr.ndim != 3:
            raise ValueError(f"channel_axis given but the image is {arr.ndim}D {arr.shape}; expected YX plus channels.")
        arr = np.moveaxis(arr, channel_axis, 0)
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = np.moveaxis(arr[..., :3], -1, 0)
    else:
        raise ValueError(
            f"image of shape {arr.shape} is not a 2D image: give a YX gray image, a YX RGB image, or say which "
            "axis holds the channels (channel_axis). Stacks run plane by plane through the stack functions."
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("the image contains NaN or infinite values.")
    if in_channels == 3 and arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)  # gray into an RGB model: lossless
    arr = fit_channels(arr, in_channels, convert)  # colour into a gray model: refused unless asked (core.channels)
    norm = {"method": "percentile", "low": 1.0, "high": 99.8, **(normalization or {})}
    if norm["method"] != "percentile":
        raise ValueError(f"unknown normalization {norm['method']!r}.")
    if norm.get("range") is not None:  # fixed per-channel range (a block of a larger image, see distributed)
        lo, hi = (np.asarray(v, np.float32).reshape(-1) for v in norm["range"])
    else:
        lo, hi = percentile_normalization(arr, norm["low"], norm["high"])
    span = hi - lo
    span = np.where(span > 0, span, 1.0).astype(np.float32)  # a constant channel becomes all zeros
    out = (arr.astype(np.float32) - lo[:, None, None]) / span[:, None, None]
    return np.ascontiguousarray(out, dtype=np.float32)


def partial_view(image: np.ndarray, labels: np.ndarray, region, min_inside: float | None = None):
    """What a Mask R-CNN may be trained on when only ``region`` is labelled completely.

    torchvision's Mask R-CNN has no "ignore" area: every pixel of a training crop that is not inside a
    target box is background to the RPN and the ROI heads. So unlabelled cells must not be *seen*:

    - an instance with at least ``min_inside`` (half) of its pixels inside the region is a target, whole
      (its labelled pixels outside the region stay visible, so it is not cut in two);
    - an instance mostly outside the region is not a target, and its pixels are hidden;
    - everything outside the region (unlabelled cells included) is hidden, except the kept instances.

    Hidden pixels are painted with the background colour: the per-channel median of the region's pixels
    outside every instance (the region's median when it has none). The network then learns nothing about
    the hidden area except "flat background is background", as at a zero-padded crop edge.

    Parameters
    ----------
    image : (C, H, W) float32 array
        The normalised image.
    labels : (H, W) int array
        Instance labels.
    region : (H, W) array or None
        Nonzero where the labels are complete; None returns the inputs unchanged.
    min_inside : float, optional
        Default :data:`~napari_segsuite.core.training.regions.MIN_INSIDE` (0.5).

    Returns
    -------
    (image, labels)
        The image with hidden pixels painted, and the labels with only the kept instances.

    Examples
    --------
    >>> lab = np.zeros((4, 8), np.int32); lab[0, 2:6] = 1; lab[3, 4:8] = 2
    >>> region = np.zeros((4, 8), bool); region[:, :5] = True          # 1: 3/4 inside; 2: 1/4 inside
    >>> img, kept = partial_view(np.full((1, 4, 8), 5.0, np.float32) + lab, lab, region)
    >>> np.unique(kept).tolist(), float(img[0, 0, 5]), float(img[0, 3, 4])   # 1 whole; 2 dropped, hidden
    ([0, 1], 6.0, 5.0)
    """
    from ..training.regions import MIN_INSIDE, instances_inside

    if region is None:
        return image, labels
    region = np.asarray(region) != 0
    keep = np.isin(labels, instances_inside(labels, region, MIN_INSIDE if min_inside is None else min_inside))
    kept = np.where(keep, labels, 0)
    visible = (region & (labels == 0)) | keep
    background = region & (labels == 0)
    source = background if background.any() else region
    fill = np.median(image[:, source], axis=1).astype(image.dtype)
    out = np.where(visible[None], image, fill[:, None, None])
    return np.ascontiguousarray(out), kept.astype(labels.dtype, copy=False)
