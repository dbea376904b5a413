"""Realistic synthetic microscopy images with known instance masks (sample data, tests, benchmarks).

Fluorescence nuclei: ellipsoidal nuclei with irregular outlines, of varied size, orientation and
brightness, many touching (touching nuclei are split along the line where their outlines meet, as
in real images), chromatin texture, an uneven background, optical blur, Poisson (shot) noise and
Gaussian read noise, as 16-bit counts. The histology variant imitates an H&E stain in RGB.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["synthetic_nuclei", "synthetic_histology", "synthetic_nuclei_3d"]


def _place_nuclei(shape, n, rng, radius_range, touching_fraction):
    """Return instance labels of ``n`` irregular elliptical nuclei, a fraction of them touching."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    best = np.full(shape, np.inf, np.float32)  # normalised radial distance of the winning nucleus
    labels = np.zeros(shape, np.int32)
    centers, radii = [], []
    attempts = 0
    while len(centers) < n and attempts < n * 200:
        attempts += 1
        a = rng.uniform(*radius_range)
        b = a * rng.uniform(0.6, 1.0)
        if centers and rng.random() < touching_fraction:
            # Put it right beside an existing nucleus so that the two touch.
            k = rng.integers(len(centers))
            ang = rng.uniform(0, 2 * np.pi)
            dist = (radii[k] + a) * rng.uniform(0.75, 0.95)
            cy, cx = centers[k][0] + dist * np.sin(ang), centers[k][1] + dist * np.cos(ang)
        else:
            cy, cx = rng.uniform(a, h - a), rng.uniform(a, w - a)
        if not (0 <= cy < h and 0 <= cx < w):
            continue
        # Reject heavy overlaps: centres must stay apart.
        if any(np.hypot(cy - c[0], cx - c[1]) < 0.7 * (r + a) for c, r in zip(centers, radii)):
            continue
        theta = rng.uniform(0, np.pi)
        y0, y1 = int(max(0, cy - a - 3)), int(min(h, cy + a + 4))
        x0, x1 = int(max(0, cx - a - 3)), int(min(w, cx + a + 4))
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        phi = np.arctan2(v, u)
        # Irregular outline: low-order Fourier perturbation of the radius.
        wobble = 1.0
        for order in (2, 3, 5):
            wobble = wobble + rng.normal(0, 0.05) * np.cos(order * phi + rng.uniform(0, 2 * np.pi))
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2) / wobble
        inside = r <= 1.0
        sub_best = best[y0:y1, x0:x1]
        win = inside & (r < sub_best)
        if not win.any():
            continue
        label = len(centers) + 1
        sub_best[win] = r[win]
        labels[y0:y1, x0:x1][win] = label
        centers.append((cy, cx))
        radii.append(a)
    # Drop fragments: keep each instance's largest connected part only; renumber 1..N.
    out = np.zeros_like(labels)
    next_id = 1
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        cc, ncc = ndi.label(labels[sl] == i)
        if ncc == 0:
            continue
        sizes = np.bincount(cc.ravel())[1:]
        if sizes.max() < 20:
            continue
        out[sl][cc == (np.argmax(sizes) + 1)] = next_id
        next_id += 1
    return out


def synthetic_nuclei(shape=(512, 512), n_nuclei=None, seed=0, radius_range=(7.0, 15.0),
                     touching_fraction=0.45, snr=1.0, return_labels=True):
    """Synthetic 16-bit fluorescence image of nuclei with ground-truth instances.

    Parameters
    ----------
    shape : tuple of int
        (rows, cols).
    n_nuclei : int, optional
        Target number of nuclei; default gives about 60 per 512x256 pixels.
    seed : int
        Random seed (the same seed gives the same image).
    radius_range : tuple of float
        Range of the semi-major axis, in pixels.
    touching_fraction : float
        Probability that a new nucleus is placed touching an existing one.
    snr : float
        Scales the signal relative to noise and background (1.0 is a typical widefield image).

    Returns
    -------
    image : numpy.ndarray of uint16
    labels : numpy.ndarray of int32
        Instance labels 1..N, 0 = background (only if ``return_labels``).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    if n_nuclei is None:
        n_nuclei = max(1, int(round(60 * shape[0] * shape[1] / (512 * 256))))
    labels = _place_nuclei(shape, n_nuclei, rng, radius_range, touching_fraction)
    n = int(labels.max())
    # Per-nucleus brightness (log-normal, some dim nuclei) and a dimmer rim.
    brightness = np.concatenate([[0.0], rng.lognormal(np.log(900 * snr), 0.35, n)])
    signal = brightness[labels].astype(np.float32)
    dist = ndi.distance_transform_edt(labels > 0).astype(np.float32)
    signal *= 0.75 + 0.25 * np.clip(dist / 4.0, 0, 1)
    # Chromatin texture.
    tex = ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), 1.2)
    signal *= 1.0 + 0.25 * tex / (tex.std() + 1e-6) * (labels > 0)
    # Uneven background: a broad gradient plus smooth blotches (out-of-focus light, autofluorescence).
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    gy, gx = rng.uniform(-1, 1, 2)
    background = 120 + 60 * (gy * yy / shape[0] + gx * xx / shape[1])
    blotch = ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), min(shape) / 8)
    background += 60 * blotch / (blotch.std() + 1e-6)
    background = np.clip(background, 40, None)
    # Out-of-focus haze around nuclei, then optical blur.
    haze = ndi.gaussian_filter(signal, 6.0) * 0.15
    optical = ndi.gaussian_filter(signal, 1.3) + haze + background
    counts = rng.poisson(np.clip(optical, 0, None)).astype(np.float32)
    counts += rng.normal(0, 12, shape).astype(np.float32) + 100  # camera offset + read noise
    image = np.clip(counts, 0, 65535).astype(np.uint16)
    return (image, labels) if return_labels else image


def synthetic_nuclei_3d(shape=(24, 128, 128), n_nuclei=None, seed=0, return_labels=True):
    """A small 3D stack of ellipsoidal nuclei (uint16) with instance labels."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    if n_nuclei is None:
        n_nuclei = max(1, int(ny * nx / 900))
    zz, yy, xx = np.mgrid[0:nz, 0:ny, 0:nx].astype(np.float32)
    labels = np.zeros(shape, np.int32)
    placed = []
    for _ in range(n_nuclei * 50):
        if len(placed) >= n_nuclei:
            break
        r = rng.uniform(6, 11)
        c = np.array([rng.uniform(r / 2, nz - r / 2), rng.uniform(r, ny - r), rng.uniform(r, nx - r)])
        if any(np.linalg.norm((c - p) * [2, 1, 1]) < 0.85 * (r + q) for p, q in placed):
            continue
        rz = r * rng.uniform(0.4, 0.6)
        inside = ((zz - c[0]) / rz) ** 2 + ((yy - c[1]) / r) ** 2 + ((xx - c[2]) / (r * rng.uniform(0.7, 1))) ** 2 <= 1
        inside &= labels == 0
        if inside.sum() < 30:
            continue
        placed.append((c, r))
        labels[inside] = len(placed)
    brightness = np.concatenate([[0.0], rng.lognormal(np.log(800), 0.3, len(placed))])
    signal = ndi.gaussian_filter(brightness[labels].astype(np.float32), (1.5, 1.0, 1.0))
    counts = rng.poisson(signal + 150).astype(np.float32) + rng.normal(0, 10, shape) + 100
    image = np.clip(counts, 0, 65535).astype(np.uint16)
    return (image, labels) if return_labels else image


def synthetic_histology(shape=(256, 256), n_nuclei=None, seed=0, return_labels=True):
    """Synthetic H&E-like RGB image (uint8): purple nuclei on pink, fibrous tissue.

    Returns
    -------
    image : numpy.ndarray of uint8, shape (rows, cols, 3)
    labels : numpy.ndarray of int32
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    if n_nuclei is None:
        n_nuclei = max(1, int(round(45 * shape[0] * shape[1] / (256 * 256))))
    labels = _place_nuclei(shape, n_nuclei, rng, (6.0, 12.0), 0.35)
    n = int(labels.max())
    # Optical densities of haematoxylin (nuclei) and eosin (everything), Beer-Lambert mixing.
    h_vec = np.array([0.65, 0.70, 0.29], np.float32)
    e_vec = np.array([0.07, 0.99, 0.11], np.float32)
    fibres = ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), (1.0, 6.0))
    fibres = np.abs(fibres) / (np.abs(fibres).std() + 1e-6)
    e_conc = 0.25 + 0.15 * fibres + 0.1 * ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), 20) * 8
    stain = np.concatenate([[0.0], rng.uniform(0.6, 1.1, n)])
    h_conc = stain[labels].astype(np.float32)
    tex = ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), 1.0)
    h_conc *= 1 + 0.3 * tex / (tex.std() + 1e-6)
    h_conc = ndi.gaussian_filter(h_conc, 0.8)
    od = h_conc[..., None] * h_vec + np.clip(e_conc, 0.05, None)[..., None] * e_vec
    rgb = 255 * np.exp(-od) + rng.normal(0, 4, shape + (3,))
    image = np.clip(rgb, 0, 255).astype(np.uint8)
    return (image, labels) if return_labels else image
