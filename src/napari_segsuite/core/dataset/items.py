"""Dataset items: the loaded form (:class:`DatasetItem`), names, and the checks an item passes before export.

:func:`prepare_items` turns what the user gives ``export_dataset`` into :class:`PreparedItem` objects: a
checked name, the image, the labels as integer instance labels, the image axes, the meta dict and the
region mask (uint8 0/1 or None). Every check runs before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..labels import as_labels

__all__ = ["DatasetItem", "PreparedItem", "safe_item_name", "check_item_name", "image_axes", "as_region",
           "prepare_items"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class DatasetItem:
    """One training example, as :func:`load_dataset` returns it.

    Attributes
    ----------
    name : str
        Item name (file stem).
    image : numpy.ndarray
        The image in its original dtype; ``YX``, ``YXC`` (channels last) or ``ZYX``.
    mask : numpy.ndarray
        Instance labels (0 = background) in the smallest unsigned dtype holding the largest id.
    weights : numpy.ndarray or None
        float32 border weight map, or None when the dataset has none.
    meta : dict
        The item's other ``dataset.json`` fields (axes, shape, source layers, pixel size, ...).
    region : numpy.ndarray or None
        uint8 mask of the labels' shape: 1 where the labels are complete, 0 where they are not (partial
        labelling: only there may a trainer learn). None = the whole image is labelled.
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    weights: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    region: np.ndarray | None = None


@dataclass
class PreparedItem:
    """An item checked for export: integer ``mask``, the image's ``axes``, ``region`` uint8 0/1 or None."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    axes: str
    meta: dict
    region: np.ndarray | None = None


def safe_item_name(text: str) -> str:
    """``text`` made into a usable item name: runs of other characters become ``_`` (``"my image"`` ->
    ``"my_image"``), leading/trailing ``._-`` are dropped; ``"item"`` if nothing is left."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text).strip()).strip("._-")
    return safe[:200] or "item"


def check_item_name(name: str) -> str:
    """Return ``name`` if it is a safe file stem, else raise a ValueError saying what is allowed."""
    name = str(name)
    if not _NAME_RE.match(name) or name.endswith((".tif", ".tiff")) or len(name) > 200:
        raise ValueError(
            f"item name {name!r} is not usable as a file name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (no extension)."
        )
    return name


def image_axes(image: np.ndarray, mask: np.ndarray, name: str) -> str:
    """``"YX"``, ``"ZYX"``, ``"YXC"`` or ``"ZYXC"``: how ``image`` relates to its labels ``mask``."""
    if image.shape == mask.shape:
        return "YX" if image.ndim == 2 else "ZYX"
    if image.ndim == mask.ndim + 1 and image.shape[:-1] == mask.shape:
        return "YXC" if mask.ndim == 2 else "ZYXC"
    raise ValueError(
        f"{name}: image shape {image.shape} does not match labels shape {mask.shape}: the image must have "
        "the labels' shape, optionally with a trailing channel axis (RGB)."
    )


def as_region(region, shape: tuple, name: str) -> np.ndarray | None:
    """A region mask as uint8 0/1 of ``shape`` (the labels' shape); None stays None (whole image labelled).

    Boolean and integer arrays are accepted (nonzero = the labels there are complete). Raises ValueError
    for another shape, another dtype, or a region without any nonzero pixel.
    """
    if region is None:
        return None
    region = np.asarray(region)
    if region.dtype.kind not in "biu":
        raise ValueError(f"{name}: the region mask must be boolean or integer (nonzero = labels complete "
                         f"there), got dtype {region.dtype}.")
    if region.shape != tuple(shape):
        raise ValueError(f"{name}: region mask shape {region.shape} does not match labels shape "
                         f"{tuple(shape)} (a region shape must equal the labels'); draw the region on the "
                         "labels' grid.")
    out = (region != 0).astype(np.uint8)
    if not out.any():
        raise ValueError(f"{name}: the region mask is empty (no nonzero pixel), so nothing in this item "
                         "counts as labelled; mark where the labels are complete, or give no region "
                         "(None) when the whole image is labelled.")
    return out


def _split_entry(entry) -> tuple:
    """``(name, image, labels, region, meta)`` from a 3-, 4- or 5-tuple entry (see ``export_dataset``)."""
    usage = ("each item must be (name, image, labels), (name, image, labels, region), "
             "(name, image, labels, meta dict) or (name, image, labels, region, meta dict).")
    try:
        name, image, labels, *rest = entry
    except (TypeError, ValueError) as exc:
        raise ValueError("each item must be a (name, image, labels) tuple; " + usage) from exc
    if len(rest) > 2 or (len(rest) == 2 and not isinstance(rest[1], dict)):
        raise ValueError(usage)
    if len(rest) == 2:
        region, meta = rest
    elif rest and isinstance(rest[0], dict):
        region, meta = None, rest[0]
    else:
        region, meta = (rest[0] if rest else None), {}
    if isinstance(region, dict):
        raise ValueError(usage)
    return name, image, labels, region, dict(meta)


def prepare_items(items) -> list[PreparedItem]:
    """Check every export entry (names, dtypes, shapes, labels, region); return :class:`PreparedItem` list."""
    prepared, seen = [], set()
    for entry in items:
        name, image, labels, region, meta = _split_entry(entry)
        name = check_item_name(name)
        if name in seen:
            raise ValueError(f"item name {name!r} is given twice.")
        seen.add(name)
        image = np.asarray(image)
        if image.dtype.kind not in "iuf":
            raise ValueError(f"{name}: images must be integer or float, got dtype {image.dtype}.")
        if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
            raise ValueError(f"{name}: the image contains NaN or infinite values.")
        mask = as_labels(labels, name=f"{name} labels")
        axes = image_axes(image, mask, name)
        prepared.append(PreparedItem(name, image, mask, axes, meta, as_region(region, mask.shape, name)))
    if not prepared:
        raise ValueError("nothing to export: no items were given.")
    return prepared
