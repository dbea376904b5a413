"""Image layout (gray, channels, stacks) and per-image percentile normalisation for the U-Net.

Works on numpy, zarr and dask arrays alike: regions are read by slicing, so a large zarr array is never
loaded whole.
"""

from __future__ import annotations

import numpy as np

from ..channels import fit_channels
from ..layout import looks_channels_last

__all__ = ["PlaneSource", "DEFAULT_NORMALIZATION", "percentile_range", "normalize_chw"]

#: percentiles of each channel mapped to 0 and 1 (stored in every checkpoint)
DEFAULT_NORMALIZATION = {"method": "percentile", "low": 1.0, "high": 99.8}
_MAX_STAT_PIXELS = 4_000_000


def _check_values(block: np.ndarray, what: str) -> None:
    if block.dtype.kind == "c":
        raise ValueError(f"{what}: complex images are not supported.")
    if block.dtype.kind not in "biuf":
        raise ValueError(f"{what}: expected a numeric image, got dtype {block.dtype}.")
    if block.dtype.kind == "f" and not np.all(np.isfinite(block)):
        raise ValueError(f"{what}: the image contains NaN or infinite values; replace them first.")


def percentile_range(block: np.ndarray, normalization: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (low, high) percentiles of a ``(C, Y, X)`` block.

    ``normalization["min_range"]`` (per channel, set at training to a tenth of the smallest
    percentile range of the training images) bounds ``high - low`` from below, so an image without
    cells keeps its low contrast instead of having its noise stretched to look like cells.
    """
    if normalization.get("method", "percentile") != "percentile":
        raise ValueError(f"unknown normalisation method {normalization.get('method')!r}.")
    if normalization.get("range") is not None:  # fixed (low, high) per channel: a block of a larger image
        lo, hi = normalization["range"]
        return np.asarray(lo, np.float32).reshape(-1), np.asarray(hi, np.float32).reshape(-1)
    flat = block.reshape(block.shape[0], -1).astype(np.float32)
    lo = np.percentile(flat, float(normalization["low"]), axis=1)
    hi = np.percentile(flat, float(normalization["high"]), axis=1)
    min_range = normalization.get("min_range")
    if min_range is not None:  # never stretch a flat, cell-free image's noise up to full contrast
        hi = np.maximum(hi, lo + np.asarray(min_range, dtype=np.float64))
    return lo.astype(np.float32), hi.astype(np.float32)


def normalize_chw(block: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map each channel's ``lo`` to 0 and ``hi`` to 1 (a flat channel becomes 0)."""
    block = block.astype(np.float32)
    scale = np.where(hi - lo > 1e-12, hi - lo, 1.0).astype(np.float32)
    return (block - lo[:, None, None]) / scale[:, None, None]


def _reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= n, period - idx, idx)


class PlaneSource:
    """A 2D image or a stack of 2D planes, with or without channels, read region by region.

    Parameters
    ----------
    image : array_like
        numpy, zarr or dask array: ``YX``, ``YXC`` (``channel_axis`` given or inferred), ``ZYX`` stack or
        ``ZYXC`` stack.
    in_channels : int or None
        Channels the model expects; used to tell ``YXC`` from ``ZYX`` when ``channel_axis`` is None
        (a last axis of that length is channels when ``in_channels > 1``). None: infer (a last axis of
        length 3 or 4 on a 3D image is colour).
    channel_axis : int or None
        The channel axis, if any.
    what : str
        Name used in error messages.

    Raises
    ------
    ValueError
        Empty images, unsupported dimensions, or channels that do not match ``in_channels``.
    """

    def __init__(self, image, in_channels: int | None = None, channel_axis: int | None = None, what: str = "image",
                 convert: str | None = None):
        if not hasattr(image, "shape") or not hasattr(image, "dtype"):
            image = np.asarray(image)
        self.array = image
        self.what = what
        shape = tuple(int(s) for s in image.shape)
        ndim = len(shape)
        if ndim < 2 or ndim > 4:
            raise ValueError(f"{what}: expected a 2D image, a 2D image with channels or a stack of them, "
                             f"got shape {shape}.")
        if min(shape) == 0:
            raise ValueError(f"{what}: the image is empty (shape {shape}).")
        if np.dtype(image.dtype).kind not in "biuf":
            raise ValueError(f"{what}: expected a numeric image, got dtype {image.dtype}.")
        if channel_axis is not None:
            if not -ndim <= channel_axis < ndim:
                raise ValueError(f"{what}: channel_axis {channel_axis} is out of range for shape {shape}.")
            channel_axis = channel_axis % ndim
            if ndim == 2:
                raise ValueError(f"{what}: a 2D image has no channel axis.")
        elif ndim == 4:
            channel_axis = 3
        elif ndim == 3:
            if in_channels is None and shape[-1] in (3, 4) and shape[0] > 4:
                channel_axis = 2
            elif in_channels is not None and in_channels > 1 and shape[-1] == in_channels:
                channel_axis = 2
            elif in_channels is not None and in_channels > 1:
                raise ValueError(
                    f"{what}: the model expects {in_channels} channels but the image has shape {shape}; "
                    "give channel_axis if the channels are not the last axis.")
            elif looks_channels_last(shape):  # (Y, X, C) for a gray model: refused below, never read as a stack
                channel_axis = 2
        rest = [a for a in range(ndim) if a != channel_axis]
        if len(rest) == 3:
            self.z_axis, self.y_axis, self.x_axis = rest
        else:
            self.z_axis, (self.y_axis, self.x_axis) = None, rest
        self.channel_axis = channel_axis
        self.n_channels = 1 if channel_axis is None else shape[channel_axis]
        self.in_channels = in_channels
        self.convert = convert
        colour_to_gray = in_channels == 1 and self.n_channels in (3, 4)  # fit_channels decides per block
        if in_channels is not None and self.n_channels != in_channels and not colour_to_gray:
            kind = "a gray image" if self.n_channels == 1 else f"{self.n_channels} channels"
            raise ValueError(f"{what}: the model was trained on {in_channels} channel(s) but the image has {kind} "
                             f"(shape {shape}); use a model trained on such images.")
        self.n_planes = 1 if self.z_axis is None else shape[self.z_axis]
        self.plane_shape = (shape[self.y_axis], shape[self.x_axis])
        self.is_stack = self.z_axis is not None

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of the labels for this image (planes x Y x X for a stack)."""
        return ((self.n_planes,) if self.is_stack else ()) + self.plane_shape

    def read(self, z: int, rows: slice, cols: slice) -> np.ndarray:
        """Read a ``(C, Y, X)`` float32 block of plane ``z`` (slices inside the image)."""
        idx = [slice(None)] * len(self.array.shape)
        if self.z_axis is not None:
            idx[self.z_axis] = z
        idx[self.y_axis], idx[self.x_axis] = rows, cols
        block = np.asarray(self.array[tuple(idx)])
        # remaining axes are in original order minus z: bring them to (C, Y, X)
        remaining = [a for a in range(len(self.array.shape)) if a != self.z_axis]
        order = [remaining.index(a) for a in ((self.channel_axis,) if self.channel_axis is not None else ())]
        order += [remaining.index(self.y_axis), remaining.index(self.x_axis)]
        block = np.transpose(block, order) if self.channel_axis is not None else block[None]
        if block.dtype.kind == "f":
            _check_values(block, self.what)
        if self.in_channels is not None and block.shape[0] != self.in_channels:
            block = fit_channels(block, self.in_channels, self.convert, self.what)
        return block.astype(np.float32, copy=False)

    def read_mirrored(self, z: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Read rows ``y0:y1`` and columns ``x0:x1`` of plane ``z``; outside the image the plane is mirrored."""
        h, w = self.plane_shape
        ry = _reflect_index(np.arange(y0, y1), h)
        rx = _reflect_index(np.arange(x0, x1), w)
        ylo, yhi, xlo, xhi = int(ry.min()), int(ry.max()) + 1, int(rx.min()), int(rx.max()) + 1
        block = self.read(z, slice(ylo, yhi), slice(xlo, xhi))
        if ylo == y0 and yhi == y1 and xlo == x0 and xhi == x1:
            return block
        return block[:, ry - ylo][:, :, rx - xlo]

    def plane_range(self, z: int, normalization: dict) -> tuple[np.ndarray, np.ndarray]:
        """Percentile range of plane ``z`` (from a strided subsample when the plane is large)."""
        h, w = self.plane_shape
        step = max(1, int(np.ceil(np.sqrt(h * w / _MAX_STAT_PIXELS))))
        block = self.read(z, slice(0, h, step), slice(0, w, step))
        _check_values(block, self.what)
        return percentile_range(block, normalization)
