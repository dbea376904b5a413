"""SLIC on big images, one tile at a time, with the colours and compactness of a whole-image run.

scikit-image's :func:`~skimage.segmentation.slic` holds about 70 bytes per pixel while it runs (float64
copies of the image, a ``mgrid`` of coordinates, the nearest-centre and distance maps), 35 times a
uint16 image. Here the image is cut into tiles of about :data:`TILE_PIXELS` pixels whose sides are
multiples of the SLIC grid step ``S = (pixels / n_segments) ** (1 / ndim)``, so the seams lie where the
boundaries between the initial grid cells of a whole-image run lie. Each tile gets ``pixels / S**ndim``
superpixels, is clustered and made connected on its own, and its labels are offset into one
preallocated int32 output; only the output and one tile's work arrays exist at a time.

Every tile sees the same colour scale as the whole image: values are rescaled with the whole image's
(masked) range, RGB goes to CIELAB per tile (a per-pixel conversion), and because scikit-image rescales
each input to its own range again, the compactness given to it is divided by the tile's range, which
undoes that rescaling exactly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TILE_PIXELS", "AUTO_TILE_PIXELS", "tile_bounds", "grid_step", "iter_slic_tiles"]

#: pixels per tile by default (about 1448 x 1448 in 2D: ~150 MB of scikit-image work arrays)
TILE_PIXELS = 1 << 21
#: 2D images with more pixels than this are cut into tiles when ``tile_size`` is None
AUTO_TILE_PIXELS = 1 << 23


def grid_step(n_pixels: int, n_segments: int, ndim: int) -> float:
    """Side of the initial SLIC grid cell: ``(n_pixels / n_segments) ** (1 / ndim)`` pixels."""
    return (n_pixels / max(int(n_segments), 1)) ** (1.0 / ndim)


def tile_bounds(length: int, tile_size: float, step: float) -> list[int]:
    """Tile edges ``[0, ..., length]`` along one axis: about ``tile_size`` apart, on multiples of ``step``.

    The axis is cut into ``ceil(length / tile_size)`` nearly equal parts whose inner edges are rounded
    to the nearest multiple of ``step``; edges that collapse onto each other are dropped, so no tile
    is empty and inner tiles are at least one step wide.

    Examples
    --------
    >>> tile_bounds(100, 40, 10)
    [0, 30, 70, 100]
    """
    size = max(float(tile_size), step)
    n_tiles = max(1, math.ceil(length / size))
    edges = [0]
    for i in range(1, n_tiles):
        edge = int(round(round(i * length / n_tiles / step) * step))
        if edges[-1] < edge < length:
            edges.append(edge)
    edges.append(length)
    return edges


def _value_range(values: np.ndarray, mask) -> tuple[float, float]:
    """Min and max over all channels of the pixels inside ``mask`` (all pixels if None), in bands."""
    from .rag import bands

    lo, hi = np.inf, -np.inf
    for start, stop in bands(values.shape[:-1]):
        band = values[start:stop]
        if mask is not None:
            band = band[mask[start:stop]]
        if band.size:
            lo, hi = min(lo, float(band.min())), max(hi, float(band.max()))
    return lo, hi


def iter_slic_tiles(values: np.ndarray, mask, spacing, n_segments: int, compactness: float, rgb: bool,
                    max_num_iter: int, tile_size=None):
    """Generator of SLIC over tiles: yields ``(tiles done, tiles in all)``, returns int32 labels 1..N.

    Parameters
    ----------
    values : numpy.ndarray
        Image with channels last (``spatial + (C,)``), any real dtype, finite inside ``mask``.
    mask : numpy.ndarray of bool or None
        Pixels to cut into superpixels (the rest get 0).
    spacing : numpy.ndarray or None
        Pixel spacing per spatial axis, passed on to scikit-image.
    n_segments : int
        Approximate number of superpixels over the whole image.
    compactness : float
        scikit-image's compactness for the whole image (on the 0..1 scale, or CIELAB units if ``rgb``).
    rgb : bool
        Cluster 3-channel values in CIELAB.
    max_num_iter : int
        k-means iterations.
    tile_size : float or None
        Tile side in pixels (rounded to multiples of the grid step, at least one step); None gives
        tiles of about :data:`TILE_PIXELS` pixels.
    """
    from skimage import measure
    from skimage.color import rgb2lab
    from skimage.segmentation import slic

    spatial = values.shape[:-1]
    ndim = len(spatial)
    n_pixels = int(mask.sum()) if mask is not None else math.prod(spatial)
    step = grid_step(n_pixels, n_segments, ndim)
    if tile_size is None:
        tile_size = TILE_PIXELS ** (1.0 / ndim)
    edges = [tile_bounds(length, tile_size, step) for length in spatial]
    tiles = [tuple(slice(e[i], e[i + 1]) for e, i in zip(edges, index))
             for index in np.ndindex(*(len(e) - 1 for e in edges))]
    lo, hi = _value_range(values, mask)
    scale = 1.0 / (hi - lo) if hi > lo else 1.0
    labels = np.zeros(spatial, np.int32)
    next_label = 0
    for done, tile in enumerate(tiles):
        yield done, len(tiles)
        tile_mask = None if mask is None else mask[tile]
        tile_pixels = math.prod(s.stop - s.start for s in tile) if tile_mask is None else int(tile_mask.sum())
        if tile_pixels == 0:
            continue
        if tile_mask is not None and tile_mask.all():
            tile_mask = None  # a full tile starts from the regular grid, as the whole image does
        pixels = (values[tile].astype(np.float64) - lo) * scale  # the whole image's 0..1 scale
        if rgb:
            pixels = rgb2lab(pixels)
        inside = pixels if tile_mask is None else pixels[tile_mask]
        spread = float(inside.max() - inside.min())
        # scikit-image rescales its input to its own min..max: a compactness divided by that range
        # gives the same colour-to-space balance as the whole image's scale
        tile_compactness = compactness / spread if spread > 0 else compactness
        n_tile = max(1, int(round(tile_pixels / step**ndim)))
        tile_labels = slic(pixels, n_segments=n_tile, compactness=tile_compactness, channel_axis=-1,
                           convert2lab=False, mask=tile_mask, spacing=spacing, start_label=1,
                           max_num_iter=max_num_iter, enforce_connectivity=True)
        del pixels, inside
        tile_labels = np.asarray(tile_labels, dtype=np.int32)
        if tile_mask is not None:
            tile_labels[~tile_mask] = 0
            # scikit-image merges a mask island too small to be a superpixel into a label it does not
            # touch (the mask cut at a tile edge makes such islands): give every piece its own label
            tile_labels = measure.label(tile_labels, background=0, connectivity=1).astype(np.int32)
        present = np.zeros(int(tile_labels.max()) + 1, bool)
        present[tile_labels.ravel()] = True
        present[0] = False
        lut = np.zeros(present.size, np.int32)
        lut[present] = np.arange(next_label + 1, next_label + 1 + int(present.sum()), dtype=np.int32)
        labels[tile] = lut[tile_labels]
        next_label += int(present.sum())
    yield len(tiles), len(tiles)
    return labels
