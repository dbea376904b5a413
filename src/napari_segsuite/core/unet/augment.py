"""Training-time augmentation of (image, labels, weights) patches: crops, flips, 90-degree rotations,
elastic deformation (as in Ronneberger et al. 2015), intensity scale and shift, Gaussian noise.

Images here are already normalised float32 arrays shaped ``(C, Y, X)``; labels ``(Y, X)`` int32
instance ids; weights ``(Y, X)`` float32; an optional region ``(Y, X)`` (partial labels: nonzero where the
labels are complete) is cropped, flipped, rotated and deformed exactly like the labels, and patches are
sampled where it is (:func:`~napari_segsuite.core.training.regions.sample_window`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["Augmenter", "random_crop", "elastic_deform"]


def _reflect_pad_to(arr: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Pad the last two axes up to at least ``size`` (mirror for images, zeros for labels)."""
    py, px = max(0, size[0] - arr.shape[-2]), max(0, size[1] - arr.shape[-1])
    if not (py or px):
        return arr
    pad = [(0, 0)] * (arr.ndim - 2) + [(py // 2, py - py // 2), (px // 2, px - px // 2)]
    return np.pad(arr, pad, mode=mode)


def random_crop(rng: np.random.Generator, size: int, image, labels, weights, region=None):
    """A random ``size x size`` window of all the arrays (mirror-padded first when smaller).

    Without ``region`` the window is uniformly random and three arrays are returned; with it (same shape
    as ``labels``) the window is centred on a random region pixel and the region's window is returned too.
    """
    from ..training.regions import sample_window

    image = _reflect_pad_to(image, (size, size), "symmetric")
    labels = _reflect_pad_to(labels, (size, size), "symmetric")
    weights = _reflect_pad_to(weights, (size, size), "symmetric")
    if region is not None:
        region = _reflect_pad_to(region, (size, size), "symmetric")
    y, x = sample_window(rng, labels.shape, size, region)
    win = (slice(y, y + size), slice(x, x + size))
    if region is None:
        return image[(slice(None),) + win], labels[win], weights[win]
    return image[(slice(None),) + win], labels[win], weights[win], region[win]


def elastic_deform(rng: np.random.Generator, image, labels, weights, alpha: float = 10.0, grid: int = 3,
                   region=None):
    """Smooth random deformation: displacements drawn on a coarse ``grid x grid`` lattice with a
    standard deviation of ``alpha`` pixels, interpolated bicubically over the patch (as in the paper).

    The image and the weights are resampled linearly, the labels (and ``region``, returned fourth when
    given) by nearest neighbour at the same coordinates.
    """
    h, w = labels.shape
    coarse = rng.normal(0.0, alpha, size=(2, grid, grid))
    disp = np.stack([ndi.zoom(c, (h / grid, w / grid), order=3, mode="nearest")[:h, :w] for c in coarse])
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    coords = np.stack([yy + disp[0], xx + disp[1]])
    image = np.stack([ndi.map_coordinates(ch, coords, order=1, mode="mirror") for ch in image])
    labels = ndi.map_coordinates(labels, coords, order=0, mode="mirror")
    weights = ndi.map_coordinates(weights, coords, order=1, mode="mirror")
    if region is not None:
        region = ndi.map_coordinates(region, coords, order=0, mode="mirror")
        return image.astype(np.float32), labels, weights.astype(np.float32), region
    return image.astype(np.float32), labels, weights.astype(np.float32)


class Augmenter:
    """Random patch sampler with augmentation.

    Parameters
    ----------
    patch_size : int
        Side of the square patches.
    flips, rot90 : bool
        Random horizontal/vertical flips; random multiples of 90 degrees.
    elastic : float
        Probability of an elastic deformation (0 disables it).
    elastic_alpha : float
        Standard deviation of the coarse displacements, pixels.
    intensity : float
        Images are multiplied by ``1 + U(-intensity, intensity)`` and shifted by
        ``U(-intensity, intensity)`` (they are normalised to about [0, 1]).
    noise : float
        Maximum standard deviation of added Gaussian noise.
    """

    def __init__(self, patch_size: int = 128, flips: bool = True, rot90: bool = True, elastic: float = 0.5,
                 elastic_alpha: float = 6.0, intensity: float = 0.2, noise: float = 0.03):
        self.patch_size = int(patch_size)
        self.flips, self.rot90 = flips, rot90
        self.elastic, self.elastic_alpha = float(elastic), float(elastic_alpha)
        self.intensity, self.noise = float(intensity), float(noise)

    def __call__(self, rng: np.random.Generator, image, labels, weights, region=None):
        """Return one augmented ``(image (C,P,P), labels (P,P), weights (P,P))`` patch, plus the region's
        patch (uint8, transformed like the labels) as a fourth array when ``region`` is given."""
        crop = random_crop(rng, self.patch_size, image, labels, weights, region)
        img, lab, wts = crop[:3]
        reg = crop[3] if region is not None else np.zeros((0, 0), np.uint8)
        if self.flips:
            if rng.random() < 0.5:
                img, lab, wts, reg = img[:, ::-1], lab[::-1], wts[::-1], reg[::-1]
            if rng.random() < 0.5:
                img, lab, wts, reg = img[:, :, ::-1], lab[:, ::-1], wts[:, ::-1], reg[:, ::-1]
        if self.rot90:
            k = int(rng.integers(0, 4))
            img, lab, wts, reg = np.rot90(img, k, (1, 2)), np.rot90(lab, k), np.rot90(wts, k), np.rot90(reg, k)
        if self.elastic > 0 and rng.random() < self.elastic:
            c = np.ascontiguousarray
            out = elastic_deform(rng, c(img), c(lab), c(wts), alpha=self.elastic_alpha,
                                 region=c(reg) if region is not None else None)
            img, lab, wts = out[:3]
            reg = out[3] if region is not None else reg
        img = np.array(img, dtype=np.float32)
        if self.intensity > 0:
            img *= 1.0 + rng.uniform(-self.intensity, self.intensity)
            img += rng.uniform(-self.intensity, self.intensity)
        if self.noise > 0:
            img += rng.normal(0.0, rng.uniform(0, self.noise), img.shape).astype(np.float32)
        out = img, np.ascontiguousarray(lab), np.ascontiguousarray(wts, dtype=np.float32)
        if region is None:
            return out
        return (*out, np.ascontiguousarray(reg, dtype=np.uint8))
