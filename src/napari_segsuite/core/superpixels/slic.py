"""SLIC superpixels (2D and 3D, gray, RGB and N-channel), with the input checks shared by the merge.

``slic_superpixels`` wraps :func:`skimage.segmentation.slic`. Big 2D images (> 8 Mpx) run SLIC in tiles
(:mod:`~napari_segsuite.core.superpixels.tiles`), so the whole pipeline holds a few image-sized arrays, not
scikit-image's ~35 copies of a uint16 image.
"""

from __future__ import annotations

import numpy as np

from ..labels import check_same_shape
from ..layout import looks_channels_last
from ..progress import run
from .adjacency import bands, take_in_bands

__all__ = ["slic_superpixels", "N_SEGMENTS", "COMPACTNESS"]

#: Default number of superpixels and SLIC compactness (read by the CLI and the widget).
N_SEGMENTS = 1000
COMPACTNESS = 10.0


def _channels_last(image, channel_axis, name: str = "image") -> np.ndarray:
    """Validate ``image`` and return it (a view, any real dtype) with shape ``spatial + (C,)``.

    Raises a ValueError for: wrong dimensionality, an RGB-looking array without ``channel_axis``,
    a non-numeric dtype, infinite values, and images too small to hold a superpixel.
    """
    arr = np.asarray(image)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: expected a numeric image, got dtype {arr.dtype}.")
    if channel_axis is None:
        if arr.ndim == 3 and looks_channels_last(arr.shape):
            kind = "an RGB/RGBA" if arr.shape[-1] in (3, 4) else f"a {arr.shape[-1]}-channel"
            raise ValueError(
                f"{name}: shape {arr.shape} looks like {kind} image; pass channel_axis=-1 "
                "(a 3D stack is expected as ZYX)."
            )
        if arr.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2D (YX) or 3D (ZYX) image, got shape {arr.shape}; "
                             "pass channel_axis for multichannel images.")
        arr = arr[..., None]
    else:
        if arr.ndim not in (3, 4):
            raise ValueError(f"{name}: with channel_axis={channel_axis} expected YXC or ZYXC data, "
                             f"got shape {arr.shape}.")
        try:
            arr = np.moveaxis(arr, channel_axis, -1)
        except np.exceptions.AxisError:
            raise ValueError(f"{name}: channel_axis={channel_axis} is out of range for shape {arr.shape}.") from None
    if arr.size == 0:
        raise ValueError(f"{name}: the image is empty (shape {arr.shape}).")
    return arr


def _check_finite(values: np.ndarray, mask, name: str = "image") -> np.ndarray:
    """Refuse NaN/inf inside the mask; fill them with 0 outside it (they are never looked at).

    ``mask`` may be a callable returning the mask, so that it is only made when needed.
    """
    # one fast pass; NaN/inf (or an overflow) falls through to the exact check
    if values.dtype.kind != "f" or np.isfinite(values.sum(dtype=np.float64)):
        return values
    bad = ~np.isfinite(values).all(axis=-1)
    if not bad.any():
        return values
    if callable(mask):
        mask = mask()
    if mask is None or np.any(bad & mask):
        inside = int(bad.sum() if mask is None else (bad & mask).sum())
        raise ValueError(
            f"{name}: {inside} pixel(s) are NaN or infinite; replace them (e.g. numpy.nan_to_num) or "
            "exclude them with a mask."
        )
    values = values.copy()
    values[bad] = 0.0
    return values


def _check_mask(mask, spatial_shape):
    if mask is None:
        return None
    m = np.asarray(mask)
    check_same_shape(m.shape, spatial_shape, "mask", "image")
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.isin(np.unique(m), (0, 1)).all():
            raise ValueError("mask: expected a boolean (or 0/1) array.")
        m = m.astype(bool)
    if not m.any():
        raise ValueError("mask: the mask is empty (no pixel is True); there is nothing to cut into superpixels.")
    return m


def _check_slic_parameters(n_segments, compactness) -> None:
    if not np.isscalar(n_segments) or int(n_segments) != n_segments or n_segments <= 0:
        raise ValueError(f"n_segments must be a positive integer, got {n_segments!r}.")
    if not np.isscalar(compactness) or not np.isfinite(compactness) or compactness <= 0:
        raise ValueError(f"compactness must be a positive number, got {compactness!r}.")


def _check_threshold(threshold) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"threshold must be a finite number >= 0, got {value}.")
    return value


def slic_superpixels(image, n_segments: int = N_SEGMENTS, compactness: float = COMPACTNESS, channel_axis=None,
                     mask=None, spacing=None, max_num_iter: int = 10, tile_size=None) -> np.ndarray:
    """Cut an image into SLIC superpixels (k-means in colour + space).

    Parameters
    ----------
    image : array_like
        ``YX`` or ``ZYX`` gray image, or ``YXC``/``ZYXC`` with ``channel_axis`` given (RGB or any
        number of channels).
    n_segments : int, optional
        Approximate number of superpixels (> 0).
    compactness : float, optional
        Balance of colour against space (> 0); higher gives more regular, square superpixels.
        The same value suits every image type (see Notes).
    channel_axis : int or None, optional
        Axis of the channels, ``None`` for a gray image.
    mask : array_like of bool, optional
        Superpixels are computed only where True; other pixels get label 0.
    spacing : sequence of float, optional
        Pixel spacing along each spatial axis (for anisotropic 3D stacks).
    max_num_iter : int, optional
        k-means iterations.
    tile_size : int or None, optional
        Side in pixels of the tiles SLIC runs on one at a time (rounded to multiples of the
        superpixel grid step). ``None`` (default) tiles 2D images of more than 8 Mpx (tiles of
        about 1448 x 1448) and runs smaller images and all 3D stacks whole; ``0`` never tiles.

    Returns
    -------
    numpy.ndarray
        int32 labels of the spatial shape, numbered 1..N (0 only outside ``mask``).

    Raises
    ------
    ValueError
        If ``n_segments <= 0`` or ``compactness <= 0``, the mask is empty or of another shape, the
        image has NaN pixels inside the mask, is RGB without ``channel_axis``, or has a bad shape,
        or ``tile_size`` is negative.

    Notes
    -----
    The image is rescaled to its own range (one scale for all channels, so colour distances keep the
    image's proportions, as in :func:`merge_superpixels`). 3-channel images with ``channel_axis``
    are then clustered in CIELAB (L in 0..100), as scikit-image does; every other image is treated as
    if its range were 0..100, so one compactness (10 by default) behaves alike on RGB, uint8, uint16
    and float data (scikit-image's own compactness for such images is ours / 100).

    Tiled runs hold the int32 output plus one tile's work arrays instead of scikit-image's ~70 bytes
    per pixel. Tile sides are multiples of the grid step ``(pixels / n_segments) ** (1 / ndim)``, so
    seams fall where a whole-image run's initial grid cells meet; each tile gets superpixels in
    proportion to its area and sees the whole image's colour scale (see
    :mod:`napari_segsuite.core.superpixels.tiles`). Superpixels never cross a seam; merging joins them again.

    References
    ----------
    .. [1] R. Achanta et al., "SLIC superpixels compared to state-of-the-art superpixel methods",
       IEEE TPAMI 34(11), 2012. :DOI:`10.1109/TPAMI.2012.120`

    Examples
    --------
    >>> from napari_segsuite.core import synthetic_nuclei
    >>> image, _ = synthetic_nuclei((128, 128), n_nuclei=10, seed=0)
    >>> sp = slic_superpixels(image, n_segments=64)
    >>> int(sp.min()), sp.dtype.name
    (1, 'int32')
    """
    values, m, spacing = _slic_inputs(image, n_segments, compactness, channel_axis, mask, spacing, tile_size)
    return run(_iter_slic(values, m, spacing, n_segments, compactness, channel_axis, max_num_iter, tile_size))


def _slic_inputs(image, n_segments, compactness, channel_axis, mask, spacing, tile_size=None):
    """Check every SLIC input and return ``(values, mask, spacing)``; run before any work starts."""
    _check_slic_parameters(n_segments, compactness)
    number = isinstance(tile_size, (int, float, np.number)) and not isinstance(tile_size, bool)
    if tile_size is not None and (not number or not np.isfinite(tile_size) or tile_size < 0):
        raise ValueError(f"tile_size must be a number of pixels >= 0 (0: never tile) or None, "
                         f"got {tile_size!r}.")
    values = _channels_last(image, channel_axis)
    spatial = values.shape[:-1]
    m = _check_mask(mask, spatial)
    values = _check_finite(values, m)
    if spacing is not None:
        spacing = np.asarray(spacing, dtype=float)
        if spacing.shape != (len(spatial),) or not np.all(np.isfinite(spacing) & (spacing > 0)):
            raise ValueError(f"spacing must be {len(spatial)} positive numbers, got {spacing.tolist()}.")
    degenerate = [s for s in spatial if s < 2]
    if degenerate and len(degenerate) == len(spatial):
        raise ValueError(f"image: shape {spatial} is too small for superpixels.")
    return values, m, spacing


def _use_tiles(spatial, tile_size) -> bool:
    if tile_size is None:
        from .tiles import AUTO_TILE_PIXELS

        return len(spatial) == 2 and int(np.prod(spatial, dtype=np.int64)) > AUTO_TILE_PIXELS
    return tile_size > 0


def _iter_slic(values, m, spacing, n_segments, compactness, channel_axis, max_num_iter, tile_size=None):
    """Generator of SLIC on inputs checked by :func:`_slic_inputs`: yields ``(tiles done, tiles)``,
    returns the int32 labels."""
    from skimage.segmentation import slic

    n_channels = values.shape[-1]
    rgb = n_channels == 3 and channel_axis is not None
    # scikit-image rescales the image to 0..1 (one scale for all channels); RGB then goes to CIELAB
    # (L in 0..100). Scaling the compactness puts every other image on the same 0..100 footing.
    slic_compactness = float(compactness) if rgb else float(compactness) / 100.0
    if _use_tiles(values.shape[:-1], tile_size):
        from .tiles import iter_slic_tiles

        return (yield from iter_slic_tiles(values, m, spacing, int(n_segments), slic_compactness, rgb,
                                           max_num_iter, tile_size or None))
    yield 0, 1
    labels = slic(values.astype(np.float64, copy=False), n_segments=int(n_segments),
                  compactness=slic_compactness, channel_axis=-1,
                  convert2lab=rgb, mask=m, spacing=spacing, start_label=1, max_num_iter=max_num_iter,
                  enforce_connectivity=True)
    labels = np.asarray(labels, dtype=np.int32)
    if m is not None:
        labels[~m] = 0
    labels = _sequential(labels)
    yield 1, 1
    return labels


def _sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber positive labels 1..N in order, keep 0; int32. Already int32 and numbered 1..N: returned
    as is (no copy). Works band by band (no image-sized temporaries besides the output)."""
    top = int(labels.max())
    if top > labels.size:  # sparse ids (say 2**40): a table indexed by id would not fit in memory
        from ..labels import relabel_sequential

        return relabel_sequential(labels)[0]
    present = np.zeros(top + 1, dtype=bool)
    for start, stop in bands(labels.shape):
        present[labels[start:stop].ravel()] = True
    present[0] = False
    if labels.dtype == np.int32 and present[1:].all():
        return labels
    lut = np.zeros(top + 1, dtype=np.int32)
    lut[present] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
    return take_in_bands(lut, labels)
