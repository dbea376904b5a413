"""Array layouts: telling a ``YXC`` image (channels last) from a ``ZYX`` stack when no channel axis is given,
and folding a gray image with several stack axes (``TZYX``...) into one stack of planes and back."""

from __future__ import annotations

import numpy as np

__all__ = ["looks_channels_last", "fold_stack_axes", "unfold_stack_axes"]


def looks_channels_last(shape) -> bool:
    """Whether ``shape`` reads as channels last (``YXC``, ``ZYXC``) rather than a stack of planes.

    Parameters
    ----------
    shape : tuple of int
        An array shape with at least three axes.

    Returns
    -------
    bool
        True when the last axis holds 1 to 4 entries and each of the two axes before it is more than
        four times longer: ``(512, 512, 2)`` is a two-channel image, not 512 planes 2 pixels wide,
        while ``(3, 512, 512)`` stays a stack of three planes.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 3:
        return False
    channels = shape[-1]
    return 1 <= channels <= 4 and min(shape[-3:-1]) > 4 * channels


def fold_stack_axes(image, channel_axis=None):
    """A gray image with more than one stack axis as one ``(N, Y, X)`` stack of its planes.

    Backends take one stack axis (a 4D gray image would read as ``ZYX`` + channels); a ``TZYX`` (or longer)
    gray stack runs as one stack of its ``T * Z`` planes and :func:`unfold_stack_axes` puts the result back.

    Parameters
    ----------
    image : array_like
        numpy, dask or zarr; dask stays lazy, an array without ``reshape`` (zarr) is read.
    channel_axis : int or None
        Images with channels are returned unchanged.

    Returns
    -------
    image : array_like
        ``(N, Y, X)`` for a gray image with ``ndim > 3``, else ``image`` itself.
    lead_shape : tuple of int or None
        The folded stack axes (``(T, Z)``), None when nothing was folded.
    """
    if channel_axis is not None or len(image.shape) <= 3:
        return image, None
    lead = tuple(int(s) for s in image.shape[:-2])
    if not hasattr(image, "reshape"):
        image = np.asarray(image)
    return image.reshape(-1, *image.shape[-2:]), lead


def unfold_stack_axes(result, lead_shape):
    """Undo :func:`fold_stack_axes` on a result: every array of ``N`` planes gets the stack axes back.

    ``result`` is an array or a tuple (e.g. labels and probabilities); other tuple items pass unchanged.
    """
    if lead_shape is None:
        return result
    n = int(np.prod(lead_shape))

    def back(a):
        if isinstance(a, np.ndarray) and a.ndim == 3 and a.shape[0] == n:
            return a.reshape(*lead_shape, *a.shape[-2:])
        return a

    return tuple(back(r) for r in result) if isinstance(result, tuple) else back(result)
