"""Domain-randomised synthetic fluorescence nuclei: the training corpus of the shipped models (issue 16).

Every image draws its own acquisition and specimen from broad ranges, so that a model trained on many of
them meets no real image as entirely new: object diameter (a few pixels to 90), shape (round to elongated,
smooth to lobed), density (sparse to confluent, touching and overlapping), chromatin texture, rim and
nucleoli, dim and out-of-focus nuclei, small bright mitotic nuclei, unlabelled cytoplasmic
autofluorescence, debris, uneven background, optical blur, shot and read noise, and the bit depth and
intensity range of the stored file (8-bit, 16-bit, float; some saturated).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["randomized_nuclei", "RANDOMIZED_DIAMETER_RANGE"]

#: range of the median nucleus diameter drawn per image, pixels
RANDOMIZED_DIAMETER_RANGE = (5.0, 90.0)


def _loguniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _blob(rng, a, b, theta, wobble_amp, orders, dy, dx):
    """Normalised radial distance (<= 1 inside) of an irregular ellipse at offsets ``dy, dx``."""
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    phi = np.arctan2(v, u)
    wobble = 1.0
    for order in orders:
        wobble = wobble + rng.normal(0, wobble_amp * 2.0 / order) * np.cos(order * phi + rng.uniform(0, 2 * np.pi))
    return np.sqrt((u / a) ** 2 + (v / b) ** 2) / np.clip(wobble, 0.5, None)


def _place(shape, rng, diameter, n, touching, overlap, aspect_lo, wobble_amp, size_sd):
    """Labels and the per-pixel normalised radius of the winning nucleus."""
    h, w = shape
    best = np.full(shape, np.inf, np.float32)
    labels = np.zeros(shape, np.int32)
    centers, radii = [], []
    orders = tuple(rng.choice([2, 3, 4, 5, 7], size=3, replace=False))
    for _ in range(n * 30):
        if len(centers) >= n:
            break
        a = max(1.5, diameter / 2 * float(np.exp(rng.normal(0, size_sd))))
        b = a * rng.uniform(aspect_lo, 1.0)
        close = overlap if rng.random() < 0.5 else 0.0
        if centers and rng.random() < touching:
            k = int(rng.integers(len(centers)))
            ang = rng.uniform(0, 2 * np.pi)
            dist = (radii[k] + (a + b) / 2) * rng.uniform(0.7 - close, 0.95)
            cy, cx = centers[k][0] + dist * np.sin(ang), centers[k][1] + dist * np.cos(ang)
        else:
            cy, cx = rng.uniform(-a / 2, h + a / 2), rng.uniform(-a / 2, w + a / 2)
        limit = 0.6 - close
        if any(np.hypot(cy - c[0], cx - c[1]) < limit * (r + b) for c, r in zip(centers, radii)):
            continue
        y0, y1 = int(max(0, cy - a - 3)), int(min(h, cy + a + 4))
        x0, x1 = int(max(0, cx - a - 3)), int(min(w, cx + a + 4))
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        r = _blob(rng, a, b, rng.uniform(0, np.pi), wobble_amp, orders, yy - cy, xx - cx)
        sub = best[y0:y1, x0:x1]
        win = (r <= 1.0) & (r < sub)
        if not win.any():
            continue
        sub[win] = r[win]
        labels[y0:y1, x0:x1][win] = len(centers) + 1
        centers.append((cy, cx))
        radii.append(a)
    return labels, best


def _clean(labels, min_pixels):
    """Keep each instance's largest part, drop those under ``min_pixels``; renumber 1..N."""
    out = np.zeros_like(labels)
    n = 0
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        cc, ncc = ndi.label(labels[sl] == i)
        if not ncc:
            continue
        sizes = np.bincount(cc.ravel())[1:]
        if sizes.max() < min_pixels:
            continue
        n += 1
        out[sl][cc == np.argmax(sizes) + 1] = n
    return out


def _smooth_noise(rng, shape, sigma):
    f = ndi.gaussian_filter(rng.normal(0, 1, shape).astype(np.float32), sigma)
    return f / (f.std() + 1e-6)


def randomized_nuclei(seed: int, shape=(256, 256), diameter: float | None = None):
    """A fluorescence image of nuclei with everything about it drawn at random, and its instance labels.

    Parameters
    ----------
    seed : int
        Random seed; the same seed (with the same ``shape`` and ``diameter``) gives the same image.
    shape : tuple of int
        (rows, cols) of the image.
    diameter : float, optional
        Median nucleus diameter in pixels; drawn log-uniformly from :data:`RANDOMIZED_DIAMETER_RANGE`
        when None.

    Returns
    -------
    image : ndarray
        ``uint8``, ``uint16`` or ``float32`` (values in about [0, 1]), drawn at random.
    labels : ndarray of int32
        Instance labels 1..N (0 = background). Debris and cytoplasmic autofluorescence are not labelled;
        dim, out-of-focus and mitotic nuclei are.
    info : dict
        What was drawn: ``diameter``, ``n`` (labelled nuclei), ``dtype``, ``coverage``, ``blur``, ...

    Notes
    -----
    Fluorescence adds up: where two nuclei overlap the intensities add, and the label goes to the nucleus
    whose centre is nearer (relative to its size). Sizes, blur and texture scales are drawn relative to
    the diameter, so that an image rescaled to another diameter looks like one drawn there.

    Examples
    --------
    >>> image, labels, info = randomized_nuclei(3, (128, 128), diameter=16)
    >>> image.shape == labels.shape, info["diameter"], int(labels.max()) == info["n"]
    (True, 16.0, True)
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    d = float(diameter) if diameter is not None else _loguniform(rng, *RANDOMIZED_DIAMETER_RANGE)
    area = shape[0] * shape[1]
    coverage = _loguniform(rng, 0.03, 0.55)
    n = max(1, int(round(coverage * area / (np.pi * d * d / 4))))
    labels, radial = _place(shape, rng, d, n, touching=rng.uniform(0, 0.8), overlap=rng.uniform(0, 0.25),
                               aspect_lo=rng.uniform(0.35, 0.9), wobble_amp=rng.uniform(0, 0.12),
                               size_sd=rng.uniform(0.05, 0.35))
    labels = _clean(labels, max(3, int(0.05 * np.pi * d * d / 4)))
    n = int(labels.max())
    inside = labels > 0
    # Per-nucleus brightness (some dim), out-of-focus and mitotic nuclei.
    bright = np.concatenate([[0.0], rng.lognormal(0.0, rng.uniform(0.1, 0.7), n)]).astype(np.float32)
    mitotic = rng.random(n + 1) < rng.uniform(0, 0.08)
    mitotic[0] = False
    bright[mitotic] *= rng.uniform(2.0, 5.0)
    defocus = rng.random(n + 1) < rng.uniform(0, 0.3)
    defocus[0] = False
    bright[defocus] *= rng.uniform(0.3, 0.8)
    signal = bright[labels]
    # Profile: flat, dim rim or bright rim; chromatin texture at a random scale; dark nucleoli.
    rim = rng.uniform(-0.4, 0.3)
    signal *= 1.0 + rim * np.clip(np.where(inside, radial, 0), 0, 1) ** 2
    tex_amp = rng.uniform(0, 0.6) * np.where(mitotic[labels], 0.3, 1.0)
    signal *= np.clip(1.0 + tex_amp * _smooth_noise(rng, shape, max(0.5, rng.uniform(0.03, 0.15) * d)), 0.1, None)
    if rng.random() < 0.3 and d >= 12:
        spots = (rng.random(shape) < 3.0 / (d * d)) & inside
        holes = ndi.gaussian_filter(spots.astype(np.float32), 0.08 * d) * (0.08 * d) ** 2 * 2 * np.pi
        signal *= 1.0 - 0.6 * np.clip(holes, 0, 1)
    sharp = signal * ~defocus[labels]
    blurred = signal * defocus[labels]
    optical = ndi.gaussian_filter(blurred, max(1.0, rng.uniform(0.08, 0.25) * d)) if defocus.any() else 0.0
    psf = rng.uniform(0.3, 2.5)
    optical = optical + ndi.gaussian_filter(sharp, psf)
    # Unlabelled cytoplasmic autofluorescence around some nuclei, and a haze of out-of-focus light.
    level = float(np.mean(bright[1:])) if n else 1.0
    if n and rng.random() < 0.6:
        cyto = np.isin(labels, np.flatnonzero(rng.random(n + 1) < rng.uniform(0.2, 1.0)))
        grow = ndi.distance_transform_edt(~cyto) < rng.uniform(0.3, 1.2) * d
        texture = np.clip(1 + 0.6 * _smooth_noise(rng, shape, max(0.7, 0.1 * d)), 0, None)
        optical = optical + ndi.gaussian_filter(grow * texture, max(1.0, 0.1 * d)) * level * rng.uniform(0.03, 0.2)
    optical = optical + ndi.gaussian_filter(signal, max(1.0, 0.3 * d)) * rng.uniform(0, 0.2)
    # Debris: small bright specks and faint irregular smudges, unlabelled.
    if rng.random() < 0.6:
        specks = (rng.random(shape) < rng.uniform(1e-5, 3e-4)).astype(np.float32)
        size = rng.uniform(0.5, max(0.6, min(3.0, 0.12 * d)))
        optical = optical + ndi.gaussian_filter(specks, size) * size * size * 6 * level * rng.uniform(0.3, 2)
    if rng.random() < 0.4:
        smudge = np.clip(_smooth_noise(rng, shape, max(1.5, rng.uniform(0.2, 0.6) * d)) - 2.0, 0, None)
        optical = optical + smudge * level * rng.uniform(0.05, 0.3)
    # Background: offset, gradient, broad blotches (relative to the nuclei's level).
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    gy, gx = rng.uniform(-1, 1, 2)
    background = level * (rng.uniform(0, 0.3) + rng.uniform(0, 0.15) * (gy * yy / shape[0] + gx * xx / shape[1])
                          + rng.uniform(0, 0.1) * _smooth_noise(rng, shape, min(shape) / 6))
    optical = np.clip(optical + background, 0, None)
    # Acquisition: photons per unit of the nuclei's level (shot noise), read noise, then the stored range.
    photons = _loguniform(rng, 3, 3000)
    counts = rng.poisson(optical * photons).astype(np.float32) / photons
    counts += rng.normal(0, rng.uniform(0, 0.08) * level, shape).astype(np.float32)
    dtype = rng.choice(["uint8", "uint16", "float32"], p=[0.35, 0.5, 0.15])
    top = np.percentile(counts, 99.9) + 1e-6
    if dtype == "uint8":
        scale, offset = rng.uniform(0.3, 1.2) * 255 / top, rng.uniform(0, 20)
    elif dtype == "uint16":
        scale, offset = _loguniform(rng, 200, 60000) / top, rng.uniform(0, 500)
    else:
        scale, offset = 1.0 / top, 0.0
    stored = counts * scale + offset
    if dtype == "float32":
        image = stored.astype(np.float32)
    else:
        image = np.clip(np.round(stored), 0, np.iinfo(dtype).max).astype(dtype)
    info = {"diameter": d, "n": n, "dtype": str(dtype), "coverage": coverage, "blur": psf, "photons": photons}
    return image, labels, info
