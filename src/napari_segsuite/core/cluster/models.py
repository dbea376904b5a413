"""The three clustering models behind one small interface: fit on a sample, then predict in chunks.

k-means and the Gaussian mixture are scikit-learn's (``KMeans(n_init=1)``, ``GaussianMixture`` with full
covariances); mean shift is :mod:`.meanshift` (scikit-learn's takes about a minute on a 512x512 RGB image).
scikit-learn is imported here, when a model is fitted, not when the package is imported.
"""

from __future__ import annotations

import warnings

import numpy as np

from .meanshift import estimate_bandwidth, mean_shift_modes

__all__ = ["METHODS", "fit_model"]

METHODS = ("kmeans", "gmm", "meanshift")


class _Nearest:
    """Assigns each feature vector to the nearest of ``centers`` (k-means and mean shift)."""

    def __init__(self, centers: np.ndarray):
        self.centers = np.asarray(centers, dtype=np.float64)
        self._sq = (self.centers ** 2).sum(1)

    @property
    def n_clusters(self) -> int:
        return len(self.centers)

    def predict(self, x: np.ndarray) -> np.ndarray:
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every centre
        return np.argmin(self._sq[None, :] - 2.0 * x @ self.centers.T, axis=1)


class _Mixture:
    def __init__(self, gmm):
        self._gmm = gmm

    @property
    def n_clusters(self) -> int:
        return self._gmm.n_components

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._gmm.predict(x)


def fit_model(method: str, sample: np.ndarray, n_clusters: int, bandwidth: float | None, seed: int,
              weights: np.ndarray | None = None):
    """Fit ``method`` on ``sample`` (N, D); return ``(model, bandwidth_used)``.

    ``model.predict(x)`` gives cluster indices 0..model.n_clusters-1 for feature rows ``x``. ``weights``
    (one per sample row) are used by k-means and mean shift; the mixture ignores them.
    """
    sample = np.asarray(sample, dtype=np.float64)
    if method == "meanshift":
        if bandwidth is None:
            bandwidth = estimate_bandwidth(sample, seed=seed)
            if bandwidth <= 0:  # every sample equal: one cluster
                return _Nearest(sample[:1]), 0.0
        return _Nearest(mean_shift_modes(sample, bandwidth, weights)), float(bandwidth)
    distinct = len(np.unique(sample, axis=0)) if len(sample) <= 4 * n_clusters else n_clusters
    k = min(n_clusters, distinct)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "found fewer distinct clusters than n_clusters": handled by caller
            km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(sample, sample_weight=weights)
        return _Nearest(km.cluster_centers_), None
    if method == "gmm":
        from sklearn.mixture import GaussianMixture

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate points in its k-means start; not convergence: see below
            gmm = GaussianMixture(n_components=k, covariance_type="full", reg_covar=1e-6 * _variance(sample),
                                  random_state=seed).fit(sample)
        return _Mixture(gmm), None
    raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}.")


def _variance(sample: np.ndarray) -> float:
    var = float(sample.var(axis=0).mean())
    return var if var > 0 else 1.0
