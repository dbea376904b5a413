"""Pixel adjacency in bands of rows: the neighbour pairs and per-region sums a region graph is built from.

Everything works one band of rows at a time (:func:`bands`), so no whole-image pair or float64 array exists;
labels are rewritten band by band too (:func:`take_in_bands`).
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["neighbour_offsets", "bands", "take_in_bands", "graph_statistics"]


def neighbour_offsets(ndim: int, connectivity: int = 2) -> list[tuple[int, ...]]:
    """Half of the neighbour offsets (one of each +/- pair) with at most ``connectivity`` nonzero steps.

    Examples
    --------
    >>> neighbour_offsets(2, 1)
    [(0, 1), (1, 0)]
    >>> neighbour_offsets(2, 2)
    [(0, 1), (1, -1), (1, 0), (1, 1)]
    """
    if not 1 <= connectivity <= ndim:
        raise ValueError(f"connectivity must be between 1 and {ndim}, got {connectivity}.")
    offsets = []
    for off in itertools.product((-1, 0, 1), repeat=ndim):
        nonzero = [o for o in off if o]
        if nonzero and nonzero[0] > 0 and len(nonzero) <= connectivity:
            offsets.append(off)
    return offsets


def _shifted(arr: np.ndarray, offset, first: bool) -> np.ndarray:
    """The view of ``arr`` holding pixel p (``first``) or its neighbour p + offset, for all valid p."""
    index = []
    for o, n in zip(offset, arr.shape[: len(offset)]):
        if o == 0:
            index.append(slice(None))
        elif (o > 0) == first:
            index.append(slice(0, n - 1))
        else:
            index.append(slice(1, n))
    return arr[tuple(index)]


#: pixels per band when the image is processed in bands along its first axis (a few MiB of work each)
BAND_PIXELS = 1 << 21


def bands(shape, band_pixels: int | None = None):
    """``(start, stop)`` row ranges along the first axis of ``shape``, about ``band_pixels`` pixels each
    (:data:`BAND_PIXELS` if None).

    Examples
    --------
    >>> bands((5, 4), band_pixels=8)
    [(0, 2), (2, 4), (4, 5)]
    """
    band_pixels = BAND_PIXELS if band_pixels is None else band_pixels
    inner = int(np.prod(shape[1:], dtype=np.int64))
    rows = max(1, band_pixels // max(inner, 1))
    return [(start, min(start + rows, shape[0])) for start in range(0, shape[0], rows)]


def _band_pairs(labels: np.ndarray, values: np.ndarray, start: int, stop: int, offsets):
    """Label pairs (lo, hi) and value distances of the neighbouring pixel pairs whose first pixel lies
    in rows ``start:stop`` of the first axis (the pair's second pixel may be in row ``stop``)."""
    ext_stop = min(stop + 1, labels.shape[0])
    ext_labels = labels[start:ext_stop]
    ext_values = values[start:ext_stop].astype(np.float64, copy=False)
    rows = stop - start
    lo_parts, hi_parts, dist_parts = [], [], []
    for off in offsets:
        # offsets never step backwards along axis 0: with off[0] == 0 both pixels are in the band,
        # with off[0] == 1 the first pixel is in the band and the second one row further on.
        lab = ext_labels if off[0] else ext_labels[:rows]
        val = ext_values if off[0] else ext_values[:rows]
        a, b = _shifted(lab, off, True), _shifted(lab, off, False)
        differ = a != b
        la, lb = a[differ], b[differ]
        keep = (la > 0) & (lb > 0)  # 0 is outside the mask: not a region
        va = _shifted(val, off, True)[differ][keep]
        vb = _shifted(val, off, False)[differ][keep]
        la, lb = la[keep], lb[keep]
        lo_parts.append(np.minimum(la, lb))
        hi_parts.append(np.maximum(la, lb))
        dist_parts.append(np.sqrt(((va - vb) ** 2).sum(axis=-1)))
    if not lo_parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float64)
    return np.concatenate(lo_parts), np.concatenate(hi_parts), np.concatenate(dist_parts)


def graph_statistics(superpixels: np.ndarray, values: np.ndarray, n: int, connectivity: int,
                      band_pixels: int | None = None):
    """Region counts and sums, edge codes ``lo * (n + 1) + hi`` and boundary sums/counts, band by band.

    Only one band of pixel pairs (and of float64 values) exists at a time; the per-band edge lists are
    reduced with :func:`numpy.unique` (or a dense table when ``(n + 1)**2`` is small) and added up.
    """
    ndim = superpixels.ndim
    offsets = [off for off in neighbour_offsets(ndim, connectivity)
               if not any(o and size < 2 for o, size in zip(off, superpixels.shape))]
    n_channels = values.shape[-1]
    counts = np.zeros(n + 1, np.float64)
    sums = np.zeros((n + 1, n_channels), np.float64)
    dense = (n + 1) ** 2 <= 2**24  # a dense table of all pairs is cheaper than sorting the codes
    pair_count = pair_sum = None
    codes_parts, sum_parts, count_parts = [], [], []
    for start, stop in bands(superpixels.shape, band_pixels):
        flat = superpixels[start:stop].ravel()
        band_values = values[start:stop].reshape(-1, n_channels)
        counts += np.bincount(flat, minlength=n + 1)
        for c in range(n_channels):
            sums[:, c] += np.bincount(flat, weights=band_values[:, c], minlength=n + 1)
        lo, hi, dist = _band_pairs(superpixels, values, start, stop, offsets)
        codes = lo.astype(np.int64) * (n + 1) + hi
        if dense:
            band_count = np.bincount(codes, minlength=(n + 1) ** 2)
            band_sum = np.bincount(codes, weights=dist, minlength=(n + 1) ** 2)
            if pair_count is None:
                # (bincount of no codes gives int64 sums: cast)
                pair_count = band_count.astype(np.int64, copy=False)
                pair_sum = band_sum.astype(np.float64, copy=False)
            else:
                pair_count += band_count
                pair_sum += band_sum
        elif codes.size:
            uniq, inverse = np.unique(codes, return_inverse=True)
            codes_parts.append(uniq)
            sum_parts.append(np.bincount(inverse, weights=dist, minlength=uniq.size))
            count_parts.append(np.bincount(inverse, minlength=uniq.size))
    if dense:
        uniq = np.flatnonzero(pair_count)
        return counts, sums, uniq, pair_sum[uniq], pair_count[uniq].astype(np.float64)
    if not codes_parts:
        return counts, sums, np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.float64)
    uniq, inverse = np.unique(np.concatenate(codes_parts), return_inverse=True)
    boundary_sum = np.bincount(inverse, weights=np.concatenate(sum_parts), minlength=uniq.size)
    boundary_count = np.bincount(inverse, weights=np.concatenate(count_parts), minlength=uniq.size)
    return counts, sums, uniq, boundary_sum, boundary_count


def take_in_bands(lut: np.ndarray, labels: np.ndarray, band_pixels: int | None = None) -> np.ndarray:
    """``lut[labels]`` written band by band (no image-sized intp index array), in ``lut``'s dtype."""
    out = np.empty(labels.shape, dtype=lut.dtype)
    for start, stop in bands(labels.shape, band_pixels):
        np.take(lut, labels[start:stop], out=out[start:stop], mode="clip")  # clip: unbuffered
    return out
