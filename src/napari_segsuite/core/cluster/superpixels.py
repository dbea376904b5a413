"""Clustering superpixels by their mean colour (a merge mode for SLIC superpixels)."""

from __future__ import annotations

import numpy as np

from .api import intensity_order
from .features import PixelFeatures
from .models import fit_model

__all__ = ["cluster_superpixel_means"]


def cluster_superpixel_means(image, superpixels, n_clusters: int = 3, method: str = "kmeans",
                             channel_axis: int | None = None, bandwidth: float | None = None,
                             seed: int = 0) -> np.ndarray:
    """Group superpixels into classes by clustering their mean intensities or colours.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        The image the superpixels were computed on.
    superpixels : (M, N[, P]) array_like of int
        Superpixel ids (0 = not a superpixel, kept 0).
    n_clusters : int
        Number of classes ('kmeans', 'gmm').
    method : {'kmeans', 'gmm', 'meanshift'}
        As :func:`napari_segsuite.core.cluster_pixels`. k-means and mean shift weigh each superpixel by its
        pixel count, so the result is close to clustering the pixels of a piecewise-constant image.
    channel_axis : int or None
        Axis of the colour channels.
    bandwidth : float or None
        Mean-shift radius in intensity units (None: estimated from the superpixel means).
    seed : int
        Seed of the initialisation.

    Returns
    -------
    ndarray of int32
        Class ids 1..K per pixel (darkest class 1; every pixel of a superpixel has its class), 0 where
        ``superpixels`` is 0. Classes are not instances: two separate regions can share an id.

    Raises
    ------
    ValueError
        As :func:`napari_segsuite.core.cluster_pixels`, or for superpixels of another shape, negative or
        non-integer ids, or none at all.
    """
    from .api import _check

    _check(method, n_clusters, bandwidth)
    sp = np.asarray(superpixels)
    if sp.dtype.kind not in "iu" or (sp.dtype.kind == "i" and sp.size and sp.min() < 0):
        raise ValueError(f"superpixels must be non-negative integer ids, got dtype {sp.dtype}.")
    feats = PixelFeatures(image, channel_axis=channel_axis, mask=sp > 0 if sp.shape else None)
    if sp.shape != feats.spatial_shape:
        raise ValueError(f"superpixels have shape {sp.shape}, the image's pixels {feats.spatial_shape}.")
    ids = sp.reshape(-1)[feats.index]
    _, inverse = np.unique(ids, return_inverse=True)
    values = feats.intensities(slice(None))
    counts = np.bincount(inverse).astype(np.float64)
    means = np.stack([np.bincount(inverse, weights=values[:, j]) for j in range(values.shape[1])], 1)
    means /= counts[:, None]
    weights = counts if method != "gmm" else None
    model, _ = fit_model(method, means, int(n_clusters), bandwidth, seed, weights=weights)
    assign = model.predict(means)
    n = model.n_clusters
    lookup = intensity_order(np.bincount(assign, weights=counts, minlength=n),
                             np.bincount(assign, weights=counts * means.mean(1), minlength=n))
    out = np.zeros(sp.size, dtype=np.int32)
    out[feats.index] = lookup[assign][inverse]
    return out.reshape(sp.shape)
