"""An array object (a zarr or dask array, as a napari layer holds it) as the input of the block predictor.

Unlike :class:`~.source.ZarrSource`, which reopens a path, an :class:`ArraySource` keeps the array itself
and reads each block with ``np.asarray(array[region])``: a dask array computes only the chunks of that
region, a zarr array reads only those chunks. It is meant for the in-process runner
(``scheduler="inprocess"``); a dask cluster gets it pickled (a zarr array on a local store, or a dask
array whose graph the workers can compute).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .source import SourceAxes, checked_axes

__all__ = ["ArraySource", "array_source", "array_identity"]


@dataclass(frozen=True)
class ArraySource(SourceAxes):
    """An array read block by block.

    Attributes
    ----------
    array : array_like
        The array (zarr, dask or numpy), not read until a block is.
    name : str
        A stable identity of its content (see :func:`array_identity`): a rerun on the same array resumes.
    axes, shape, dtype, scale, unit, translate
        As :class:`~.source.ZarrSource`.
    """

    array: object = field(repr=False, compare=False)
    name: str
    axes: str
    shape: tuple
    dtype: str
    scale: tuple | None = None
    unit: str | None = None
    translate: tuple | None = None

    @property
    def store(self) -> str:
        """What messages call the input."""
        return self.name

    def open(self):
        return self.array

    def record(self) -> dict:
        """The input's part of a job record (what a resumed job must find again)."""
        return {"array": self.name, "axes": self.axes, "shape": list(self.shape), "dtype": self.dtype}


def array_identity(array) -> str:
    """A name for an array's content that stays the same while the array does.

    A dask array's own ``name`` (a hash of its graph); a zarr array's store folder and path (its files are
    its content); a numpy array's content hash; anything else's ``id`` (only valid in this process).
    """
    if hasattr(array, "dask") and hasattr(array, "name"):
        return f"dask:{array.name}"
    store = getattr(array, "store", None)
    root = getattr(store, "root", None) or getattr(store, "path", None)
    if root is not None and getattr(array, "path", None) is not None:
        return f"zarr:{root}/{array.path}"
    if isinstance(array, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(array).view(np.uint8).ravel()).hexdigest()
        return f"numpy:{array.shape}:{array.dtype}:{digest}"
    return f"{type(array).__module__}.{type(array).__name__}:{id(array)}"


def array_source(array, axes: str | None = None, scale=None, unit=None, translate=None) -> ArraySource:
    """Describe an array object for the block predictor.

    Parameters
    ----------
    array : array_like
        A zarr, dask or numpy array with ``shape``, ``dtype`` and region indexing, e.g. a napari layer's data.
    axes : str, optional
        Axis names in storage order from ``"tczyx"`` (default ``yx``, ``zyx``, ``yxc`` by shape).
    scale : sequence of float, optional
        Pixel size per axis (as ``axes``; 1 for ``c``), carried to the output's metadata.
    unit : str, optional
        Unit of the space axes.
    translate : sequence of float, optional
        Origin per spatial axis (the axes other than ``c``), carried to the output's metadata.

    Raises
    ------
    ValueError
        If the array has no shape, its dtype is not numeric or its axes do not fit its shape.
    """
    if not hasattr(array, "shape") or not hasattr(array, "dtype"):
        raise ValueError(f"expected an array (zarr, dask or numpy), got {type(array).__name__}.")
    shape = tuple(int(s) for s in array.shape)
    axes = checked_axes(axes, shape, array.dtype)
    if scale is not None and len(scale) != len(axes):
        raise ValueError(f"scale {list(scale)} needs one value per axis of {axes!r}.")
    if translate is not None and len(translate) != len(axes.replace("c", "")):
        raise ValueError(f"translate {list(translate)} needs one value per spatial axis of {axes!r}.")
    return ArraySource(
        array,
        array_identity(array),
        axes,
        shape,
        str(np.dtype(array.dtype)),
        None if scale is None else tuple(float(s) for s in scale),
        unit,
        None if translate is None else tuple(float(t) for t in translate),
    )
