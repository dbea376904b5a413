"""Pixel clustering: ``cluster_pixels`` and its progress generator ``iter_cluster_pixels``."""

from __future__ import annotations

import numpy as np

from ..progress import Progress, run
from .features import PixelFeatures
from .models import METHODS, fit_model

__all__ = ["cluster_pixels", "intensity_order", "iter_cluster_pixels"]

#: pixels a model is fitted on at most (a random sample of a bigger image)
MAX_FIT_SAMPLES = 200_000
#: pixels assigned per step (one progress event each)
CHUNK = 1 << 20


def _check(method, n_clusters, bandwidth):
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}.")
    if method != "meanshift" and (int(n_clusters) != n_clusters or n_clusters < 1):
        raise ValueError(f"n_clusters must be a whole number >= 1, got {n_clusters}.")
    if bandwidth is not None and not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"the bandwidth must be a number > 0 (or None to estimate it), got {bandwidth}.")


def intensity_order(counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Lookup ``cluster index -> id``: ids 1.. by increasing mean intensity, clusters with no pixel -> 0.

    ``counts`` are the clusters' pixel counts, ``sums`` their pixels' summed intensities (mean over channels).
    """
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    order = np.argsort(means, kind="stable")
    lookup = np.zeros(len(counts), dtype=np.int32)
    used = order[counts[order] > 0]
    lookup[used] = np.arange(1, used.size + 1)
    return lookup


def iter_cluster_pixels(image, method: str = "kmeans", n_clusters: int = 3, channel_axis: int | None = None,
                        spatial_weight: float = 0.0, bandwidth: float | None = None, seed: int = 0, mask=None,
                        max_samples: int = MAX_FIT_SAMPLES):
    """Generator version of :func:`cluster_pixels`: yields :class:`~napari_segsuite.core.progress.Progress`.

    Returns
    -------
    ndarray of int32
        As :func:`cluster_pixels`.
    """
    _check(method, n_clusters, bandwidth)
    feats = PixelFeatures(image, channel_axis=channel_axis, spatial_weight=spatial_weight, mask=mask)
    chunks = feats.chunks(CHUNK)
    total = len(chunks) + 2
    yield Progress(0, total, f"{method}: fitting on {min(feats.n, max_samples):,} of {feats.n:,} pixels")
    rng = np.random.default_rng(seed)
    sample = feats.features(feats.sample_indices(max_samples, rng))
    model, used_bandwidth = fit_model(method, sample, int(n_clusters), bandwidth, seed)
    info = {"n_clusters": model.n_clusters}
    if used_bandwidth is not None:
        info["bandwidth"] = used_bandwidth
    yield Progress(1, total, f"{method}: {model.n_clusters} cluster(s); assigning pixels", info)
    assign = np.empty(feats.n, dtype=np.int32)
    for i, part in enumerate(chunks):
        assign[part] = model.predict(feats.features(part))
        yield Progress(2 + i, total, f"assigned {part.stop:,} of {feats.n:,} pixels")
    # one pass of sums for the intensity order (chunked, so no full float copy of a big image)
    n = model.n_clusters
    counts = np.zeros(n)
    sums = np.zeros(n)
    for part in chunks:
        a = assign[part]
        counts += np.bincount(a, minlength=n)
        sums += np.bincount(a, weights=feats.intensities(part).mean(axis=1), minlength=n)
    lookup = intensity_order(counts, sums)
    n_used = int((counts > 0).sum())
    labels = np.zeros(int(np.prod(feats.spatial_shape)), dtype=np.int32)
    if feats.index is None:
        labels[:] = lookup[assign]
    else:
        labels[feats.index] = lookup[assign]
    yield Progress(total, total, f"{n_used} cluster(s)", {**info, "n_clusters": n_used})
    return labels.reshape(feats.spatial_shape)


def cluster_pixels(image, method: str = "kmeans", n_clusters: int = 3, channel_axis: int | None = None,
                   spatial_weight: float = 0.0, bandwidth: float | None = None, seed: int = 0, mask=None):
    """Segment an image by clustering its pixels' intensities or colours (optionally with position).

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        2D or 3D image, gray or multichannel. A 3D stack is clustered as one volume, so a cluster id means
        the same class on every plane.
    method : {'kmeans', 'gmm', 'meanshift'}
        k-means (scikit-learn, one initialisation), a Gaussian mixture with full covariances
        (scikit-learn), or flat-kernel mean shift (finds the number of clusters itself).
    n_clusters : int
        Number of clusters for 'kmeans' and 'gmm' (ignored by 'meanshift').
    channel_axis : int or None
        Axis of the colour channels; None for a gray image.
    spatial_weight : float
        0 clusters on intensity alone. Above 0 the pixel position is a feature too, scaled so that crossing
        the image's longest side weighs as much as ``spatial_weight`` standard deviations of intensity:
        clusters become compact regions.
    bandwidth : float or None
        Mean-shift kernel radius in the image's intensity units (with position features, in the same units);
        None estimates it (mean distance to the 30 % nearest neighbours over a 1000-pixel sample).
    seed : int
        Seed of the fitting sample and of the initialisation: the same seed gives the same labels.
    mask : (M, N[, P]) array_like of bool, optional
        Pixels to cluster; the others get label 0.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int32
        Cluster ids 1..K in order of mean intensity (mean over channels): 1 is the darkest cluster.
        Clusters that receive no pixel are dropped, so K can be smaller than ``n_clusters``.

    Raises
    ------
    ValueError
        For an unknown method, a bad ``n_clusters``, ``bandwidth``, ``spatial_weight`` or ``channel_axis``,
        an image with NaN or infinite values, or a mask of another shape or selecting no pixel.

    Notes
    -----
    Images larger than 200,000 pixels are fitted on a random sample of that many pixels, then every pixel
    is assigned to its cluster, a million pixels at a time.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.repeat([10.0, 100.0, 200.0], 4)[None, :].repeat(3, axis=0)
    >>> cluster_pixels(image, n_clusters=3)[0]
    array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], dtype=int32)
    """
    return run(iter_cluster_pixels(image, method=method, n_clusters=n_clusters, channel_axis=channel_axis,
                                   spatial_weight=spatial_weight, bandwidth=bandwidth, seed=seed, mask=mask))
