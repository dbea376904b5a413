"""What the trainers accept as training data, parsed once for every model: :class:`TrainingItem` and
:func:`as_training_items`.

A training item is an image, its instance labels and, optionally, a *region*: a mask of the labels' shape,
nonzero where the labels are complete (partial labelling: the user corrected some cells of a large field).
Trainers learn only from inside the region; None means the whole image is labelled.

The forms accepted, one rule for all trainers:

- a dataset folder (``str`` / ``Path``, anything :func:`~napari_segsuite.core.load_dataset` reads): each
  item's ``region`` (``regions/NAME.tif``) is used automatically;
- a list of :class:`~napari_segsuite.core.dataset.DatasetItem` (``.region`` used, ``.meta["features"]``
  gives Mask R-CNN classes);
- a list of :class:`TrainingItem` (every field by name: the unambiguous form);
- a list of tuples: ``(image, labels)``; ``(image, labels, region)`` when the third entry is an array
  (numpy, dask, zarr: it has ``shape`` and ``dtype`` and no ``keys``); ``(image, labels, features)`` when
  it is a table (a dict of columns or a pandas DataFrame: it has ``keys``) or None. Use
  :class:`TrainingItem` to give a region *and* features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TrainingItem", "as_training_items"]

_USAGE = ("give a dataset folder, DatasetItems, TrainingItems, or (image, labels), (image, labels, region array) "
          "or (image, labels, features table) tuples.")


@dataclass
class TrainingItem:
    """One training example for any trainer (U-Net, Mask R-CNN).

    Attributes
    ----------
    image : array_like
        ``YX``, ``YXC`` (channels last or ``channel_axis``) or, for the U-Net, a ``ZYX`` stack.
    labels : array_like
        Instance labels of the image's rows and columns (0 = background).
    region : array_like or None
        Boolean or integer mask of the labels' shape: nonzero where the labels are complete. The trainers
        learn only there (see their Notes). None: the whole image is labelled.
    features : table or None
        Per-instance table with a ``class`` column (Mask R-CNN classes); ignored by the U-Net.
    name : str or None
        Used in messages; default ``item<k>``.
    """

    image: object
    labels: object
    region: object = None
    features: object = None
    name: str | None = None


def _is_table(obj) -> bool:
    return obj is None or hasattr(obj, "keys")


def _is_array(obj) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and not hasattr(obj, "keys")


def _from_tuple(item, k: int) -> TrainingItem:
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError("training data: " + _USAGE)
    if len(item) == 2:
        return TrainingItem(item[0], item[1], name=f"item{k}")
    third = item[2]
    if _is_table(third):
        return TrainingItem(item[0], item[1], features=third, name=f"item{k}")
    if _is_array(third):
        return TrainingItem(item[0], item[1], region=third, name=f"item{k}")
    raise ValueError(f"training item {k}: the third entry is neither a region mask (an array) nor a features "
                     f"table (a dict or DataFrame), got {type(third).__name__}; " + _USAGE)


def check_region(region, shape: tuple, name: str) -> np.ndarray | None:
    """``region`` as a bool array of ``shape`` (the labels' shape), or None.

    Raises
    ------
    ValueError
        Another shape, a float/complex dtype, or a region without any nonzero pixel.
    """
    from ..dataset.items import as_region

    region = as_region(region, shape, name)  # the dataset's own check: one rule for what a region is
    return None if region is None else region != 0


def as_training_items(data) -> list[TrainingItem]:
    """Parse any accepted form of training data into :class:`TrainingItem` objects (see the module notes).

    Parameters
    ----------
    data : str, Path, tuple or sequence
        A dataset folder, a single ``(image, labels)`` pair, or a list of DatasetItems, TrainingItems or
        tuples.

    Returns
    -------
    list of TrainingItem
        With ``name`` set; regions and labels are not checked here (the trainers check them).

    Raises
    ------
    ValueError
        An item in none of the accepted forms, or no items.
    FileNotFoundError
        A dataset folder that does not exist.

    Examples
    --------
    >>> img, lab, reg = np.zeros((8, 8)), np.zeros((8, 8), int), np.ones((8, 8), bool)
    >>> [it.region is not None for it in as_training_items([(img, lab), (img, lab, reg)])]
    [False, True]
    >>> as_training_items([(img, lab, {"class": [1]})])[0].features
    {'class': [1]}
    """
    from ..dataset import DatasetItem, load_dataset

    if isinstance(data, (str, Path)):
        data = load_dataset(data)
    if isinstance(data, TrainingItem) or (isinstance(data, tuple) and len(data) in (2, 3) and _is_array(data[0])
                                          and _is_array(data[1])):
        data = [data]
    out = []
    for k, item in enumerate(data):
        if isinstance(item, DatasetItem):
            out.append(TrainingItem(item.image, item.mask, item.region, item.meta.get("features"), item.name))
        elif isinstance(item, TrainingItem):
            out.append(TrainingItem(item.image, item.labels, item.region, item.features, item.name or f"item{k}"))
        else:
            out.append(_from_tuple(item, k))
    if not out:
        raise ValueError("no training data: give at least one (image, labels) pair or a dataset folder.")
    return out
