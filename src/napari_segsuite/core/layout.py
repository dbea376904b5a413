"""Telling a ``YXC`` image (channels last) from a ``ZYX`` stack when no channel axis is given."""

from __future__ import annotations

__all__ = ["looks_channels_last"]


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
