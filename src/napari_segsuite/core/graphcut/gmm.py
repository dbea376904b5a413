"""Small Gaussian mixture models for GrabCut colour/intensity models (numpy only).

GrabCut (Rother, Kolmogorov & Blake 2004) keeps one mixture of ``K`` full-covariance Gaussians per class
(foreground, background) and re-fits it by *hard* assignment: every pixel belongs to its most likely
component, and each component is re-estimated from its pixels. On one-channel, low-contrast images such
a model collapses easily (a component shrinks onto a handful of nearly identical pixels, its density
explodes, and the other class loses every pixel). :class:`GaussianMixture` guards against it with a
variance floor, a minimum component size and a deterministic initialisation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GaussianMixture"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class GaussianMixture:
    """A mixture of full-covariance Gaussians fitted by hard assignment (GrabCut's colour model).

    Parameters
    ----------
    n_components : int
        Maximum number of components ``K`` (fewer are used when there are too few samples).
    variance_floor : float
        Added to the diagonal of every covariance, in the units of the features squared. Keeps a
        component from collapsing onto identical pixels.
    min_weight : float
        Components holding a smaller fraction of the samples are dropped at the next fit.

    Attributes
    ----------
    weights : ndarray, shape (k,)
    means : ndarray, shape (k, c)
    covariances : ndarray, shape (k, c, c)

    Notes
    -----
    Initialisation is deterministic: the samples are sorted along their first principal axis and split
    into ``K`` groups of equal size, so the same image and box always give the same result (unlike
    OpenCV's k-means++ start, which needs ``cv2.setRNGSeed``).
    """

    def __init__(self, n_components: int = 5, variance_floor: float = 1e-3, min_weight: float = 0.02):
        if int(n_components) < 1:
            raise ValueError(f"n_components must be at least 1, got {n_components}.")
        self.n_components = int(n_components)
        self.variance_floor = float(variance_floor)
        self.min_weight = float(min_weight)
        self.weights = self.means = self.covariances = None
        self._inv = self._log_norm = None

    # -- fitting ------------------------------------------------------------------------------------
    def fit(self, samples: np.ndarray, n_steps: int = 1) -> GaussianMixture:
        """Initialise from ``samples`` (n, c) and refine by ``n_steps`` hard-assignment steps."""
        x = self._check(samples)
        k = max(1, min(self.n_components, x.shape[0] // (4 * x.shape[1] + 4)))
        if x.shape[1] == 1:
            order = np.argsort(x[:, 0], kind="stable")
        else:
            centred = x - x.mean(0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            order = np.argsort(centred @ vt[0], kind="stable")
        assign = np.empty(x.shape[0], np.intp)
        assign[order] = (np.arange(x.shape[0]) * k) // x.shape[0]
        self._estimate(x, assign, k)
        for _ in range(n_steps):
            self.refit(x)
        return self

    def refit(self, samples: np.ndarray) -> GaussianMixture:
        """One GrabCut step: assign each sample to its most likely component, re-estimate them."""
        x = self._check(samples)
        if self.means is None:
            return self.fit(x, n_steps=0)
        assign = np.argmax(self._component_log_densities(x), axis=1)
        self._estimate(x, assign, len(self.weights))
        return self

    def _estimate(self, x, assign, k):
        n, c = x.shape
        counts = np.bincount(assign, minlength=k).astype(np.float64)
        min_count = max(self.min_weight * n, c + 1.0)
        keep = np.flatnonzero(counts >= min_count)
        if keep.size == 0:  # too few samples for several components: one Gaussian
            keep = np.array([0])
            assign = np.zeros_like(assign)
        elif keep.size < k:  # samples of dropped components go to the nearest kept mean
            sums = np.stack([np.bincount(assign, weights=x[:, j], minlength=k) for j in range(c)], 1)
            kept_means = sums[keep] / counts[keep, None]
            d2 = ((x[:, None, :] - kept_means[None]) ** 2).sum(-1)
            assign = np.argmin(d2, axis=1)
        else:
            assign = np.searchsorted(keep, assign)
        m = keep.size
        counts = np.bincount(assign, minlength=m).astype(np.float64)
        sums = np.stack([np.bincount(assign, weights=x[:, j], minlength=m) for j in range(c)], 1)
        means = sums / np.maximum(counts, 1)[:, None]
        d = x - means[assign]
        covs = np.empty((m, c, c))
        for i in range(c):
            for j in range(i, c):
                v = np.bincount(assign, weights=d[:, i] * d[:, j], minlength=m) / np.maximum(counts, 1)
                covs[:, i, j] = covs[:, j, i] = v
        covs += self.variance_floor * np.eye(c)
        self.weights = counts / counts.sum()
        self.means, self.covariances = means, covs
        if c == 1:  # gray images: the same numbers as the general case, without LAPACK's per-call cost
            self._inv = 1.0 / covs
            logdet = np.log(covs[:, 0, 0])
        else:
            self._inv = np.linalg.inv(covs)
            _, logdet = np.linalg.slogdet(covs)
        self._log_norm = np.log(np.maximum(self.weights, 1e-300)) - 0.5 * (logdet + c * _LOG_2PI)

    # -- evaluation ---------------------------------------------------------------------------------
    def _component_log_densities(self, x):
        if x.shape[1] == 1:
            maha = (x - self.means[:, 0]) ** 2 * self._inv[:, 0, 0]  # (n, 1) against (k,): (n, k)
        else:
            d = x[:, None, :] - self.means[None]  # (n, k, c)
            maha = np.einsum("nkc,kcd,nkd->nk", d, self._inv, d)
        return self._log_norm[None] - 0.5 * maha

    def log_likelihood(self, samples: np.ndarray) -> np.ndarray:
        """Log density of each sample under the mixture, shape (n,)."""
        if self.means is None:
            raise ValueError("the mixture has not been fitted yet.")
        lp = self._component_log_densities(self._check(samples))
        top = lp.max(1)
        return top + np.log(np.exp(lp - top[:, None]).sum(1))

    @staticmethod
    def _check(samples):
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"samples must be a non-empty (n, channels) array, got shape {x.shape}.")
        return x
