"""Checking and converting label images (0 = background, instances numbered from 1)."""

from __future__ import annotations

import numpy as np

__all__ = ["as_labels", "smallest_uint_dtype", "relabel_sequential", "check_same_shape"]


def as_labels(labels, *, name: str = "labels", ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Validate a label image and return it as int32 (uint32 past 2**31 - 1).

    Parameters
    ----------
    labels : array_like
        Instance labels, 0 = background.
    name : str
        What to call the input in error messages (for example the layer name).
    ndim : tuple of int
        Accepted numbers of dimensions.

    Returns
    -------
    numpy.ndarray
        int32 labels (uint32 when an id does not fit in int32). The input is never modified.

    Raises
    ------
    ValueError
        If the labels have the wrong number of dimensions, are boolean (a mask, not instances:
        touching cells would merge), negative, non-integral floats, NaN or infinite.

    Notes
    -----
    Floats holding whole numbers (as read from some TIFF files) are converted. Boolean masks are
    refused rather than guessed at: label them first, e.g. with ``skimage.measure.label``.
    """
    arr = np.asarray(labels)
    if arr.ndim not in ndim:
        dims = " or ".join(f"{d}D" for d in ndim)
        raise ValueError(f"{name}: expected {dims} labels, got {arr.ndim}D with shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name}: the labels are empty (shape {arr.shape}).")
    if arr.dtype == bool:
        raise ValueError(
            f"{name}: got a boolean mask, not instance labels; touching cells would merge. "
            "Label the instances first (for example skimage.measure.label(mask))."
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: the labels contain NaN or infinite values.")
        if np.any(arr != np.round(arr)):
            raise ValueError(
                f"{name}: got float labels with fractional values; labels must be whole numbers "
                "(is this an image or a probability map rather than labels?)."
            )
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be integers, got dtype {arr.dtype}.")
    if arr.dtype.kind in "if":
        lo = arr.min()
        if lo < 0:
            raise ValueError(f"{name}: labels must be >= 0 (0 = background); found the value {lo:g}.")
    # Compare as Python ints: numpy would cast the limits to a float32/float16 input's type and round
    # them (2**31 - 1 becomes 2**31 in float32), letting 2**31 wrap to a negative id and 2**32 to 0.
    hi = int(arr.max())
    if hi > np.iinfo(np.uint32).max:
        raise ValueError(f"{name}: label id {hi} does not fit in 32 bits.")
    dtype = np.int32 if hi <= np.iinfo(np.int32).max else np.uint32
    return arr.astype(dtype, copy=arr.dtype != dtype)


def smallest_uint_dtype(max_value: int) -> np.dtype:
    """The smallest unsigned integer dtype that holds ``max_value`` (the on-disk label type)."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"label id {max_value} does not fit in 64 bits")


def relabel_sequential(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber instances 1..N in order of their old ids.

    Returns
    -------
    relabelled : numpy.ndarray
        int32 labels numbered 1..N.
    old_ids : numpy.ndarray
        ``old_ids[k - 1]`` is the original id of new instance ``k``.
    """
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    if ids.size and ids[0] == 0:
        return inverse.astype(np.int32), ids[1:]
    return (inverse + 1).astype(np.int32), ids


def check_same_shape(a_shape, b_shape, a_name: str, b_name: str) -> None:
    """Raise a ValueError naming both inputs when their spatial shapes differ."""
    if tuple(a_shape) != tuple(b_shape):
        raise ValueError(
            f"{a_name} has shape {tuple(a_shape)} but {b_name} has shape {tuple(b_shape)}; "
            "they must cover the same pixels."
        )
