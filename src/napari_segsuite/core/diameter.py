"""Object size: measuring it, estimating it from an image, and predicting at the size a model was trained at.

A model trained on objects about ``D`` pixels across (stored in its checkpoint as ``"diameter"``) sees
10-pixel and 60-pixel nuclei alike once the image is rescaled by ``D / diameter``; the labels are resized
back to the image's own grid (as Cellpose's size model does, here with a classical estimate refined by the
model's own first answer).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["median_diameter", "estimate_diameter", "rescale_plane", "resize_labels", "model_diameter",
           "iter_predict_at_diameter"]

#: the characteristic Laplacian-of-Gaussian scale sigma is ~ diameter / (2 sqrt(2)) for a disk; measured on nuclei
#: the peak scale below gives 1.0-1.2 x the median equivalent diameter (synthetic sample 1.20, three real
#: nucleus sets 0.97-1.08) and 1.1-2.9 x on the randomised corpus (elongated, textured): divided by 1.1
_LOG_TO_DIAMETER = 2 * np.sqrt(2) / 1.1


def median_diameter(labels) -> float | None:
    """Median equivalent diameter ``sqrt(4 * area / pi)`` of the instances, pixels (None without any).

    ``labels`` is one label image or a list of them (the median is over all their instances).

    Examples
    --------
    >>> lab = np.zeros((20, 20), int); lab[2:6, 2:6] = 1; lab[10:14, 10:14] = 2
    >>> round(median_diameter(lab), 2)
    4.51
    """
    planes = labels if isinstance(labels, (list, tuple)) else [labels]
    areas = [np.bincount(np.asarray(p).ravel().astype(np.int64))[1:] for p in planes if np.asarray(p).size]
    areas = np.concatenate(areas) if areas else np.array([])
    areas = areas[areas > 0]
    if not areas.size:
        return None
    return float(np.sqrt(4 * np.median(areas) / np.pi))


def _gray01(plane: np.ndarray) -> np.ndarray:
    g = plane.astype(np.float32)
    if g.ndim == 3:
        g = g.mean(axis=-1)
    lo, hi = np.percentile(g, [1, 99.8])
    return np.clip((g - lo) / max(float(hi - lo), 1e-12), 0, 1)


def estimate_diameter(plane, *, min_diameter: float = 3.0, max_diameter: float = 150.0) -> float | None:
    """Typical diameter of the bright objects of a 2D plane, pixels (None for a flat plane).

    Parameters
    ----------
    plane : ndarray
        ``(Y, X)`` or ``(Y, X, C)`` (channels averaged).
    min_diameter, max_diameter : float
        Range searched.

    Returns
    -------
    float or None
        The scale at which the strongest responses (99th percentile over the plane) of the scale-normalised
        Laplacian of Gaussian peak, converted to an equivalent diameter. Calibrated on nuclei; expect errors
        of x0.7-1.5 on unusual images (refine with a segmentation, see :func:`iter_predict_at_diameter`).

    Notes
    -----
    Scales are searched on a pyramid (the plane is block-averaged by about sigma / 3 before filtering), so
    the cost stays that of a few filters of the whole plane.

    Examples
    --------
    >>> yy, xx = np.mgrid[:200, :200]
    >>> disks = ((yy % 50 - 25) ** 2 + (xx % 50 - 25) ** 2 <= 10 ** 2).astype(float)
    >>> 15 < estimate_diameter(disks) < 26
    True
    """
    from skimage.transform import downscale_local_mean

    g = _gray01(np.asarray(plane))
    if not g.any():
        return None
    sigmas = np.exp(np.linspace(np.log(min_diameter / _LOG_TO_DIAMETER), np.log(max_diameter / _LOG_TO_DIAMETER),
                                28))
    strength = []
    for sigma in sigmas:
        step = max(1, int(sigma // 3))
        small = g if step == 1 else downscale_local_mean(g, (step, step))
        if min(small.shape) < 4:
            strength.append(-np.inf)
            continue
        response = -ndi.gaussian_laplace(small, sigma / step) * (sigma / step) ** 2
        strength.append(float(np.percentile(response, 99)))
    if not np.isfinite(np.max(strength)) or np.max(strength) <= 0:
        return None
    return float(sigmas[int(np.argmax(strength))] * _LOG_TO_DIAMETER)


def rescale_plane(plane: np.ndarray, factor: float) -> np.ndarray:
    """A ``(Y, X)`` or ``(Y, X, C)`` plane resized by ``factor`` (linear, anti-aliased when shrinking), float32."""
    from skimage.transform import resize

    plane = np.asarray(plane)
    shape = tuple(max(8, int(round(s * factor))) for s in plane.shape[:2]) + plane.shape[2:]
    return resize(plane.astype(np.float32), shape, order=1, preserve_range=True,
                  anti_aliasing=factor < 1).astype(np.float32)


def resize_labels(labels: np.ndarray, shape) -> np.ndarray:
    """Labels resized to ``shape`` by nearest neighbour, keeping their dtype."""
    labels = np.asarray(labels)
    if labels.shape == tuple(shape):
        return labels
    rows = np.minimum((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0], labels.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1], labels.shape[1] - 1).astype(int)
    return labels[np.ix_(rows, cols)]


def model_diameter(checkpoint: dict) -> float | None:
    """The object diameter a checkpoint's model was trained at (``training["diameter"]``), or None."""
    d = (checkpoint.get("training") or {}).get("diameter")
    return float(d) if d else None


def iter_predict_at_diameter(iter_predict, plane, model_diameter: float | None, diameter="auto", *,
                             tolerance: float = 0.15, band: tuple[float, float] = (0.9, 2.0)):
    """Run ``iter_predict`` on ``plane`` rescaled so its objects are ``model_diameter`` pixels across.

    A generator: yields what ``iter_predict`` yields (progress), returns ``(labels, extra, used)``.

    Parameters
    ----------
    iter_predict : callable
        ``iter_predict(plane)`` is a generator returning ``labels`` or ``(labels, extra)`` for a 2D plane.
    plane : ndarray
        ``(Y, X)`` or ``(Y, X, C)``.
    model_diameter : float
        The object diameter the model was trained at (:func:`model_diameter`).
    diameter : float or "auto"
        The objects' diameter in ``plane``, pixels. ``"auto"``: estimated (:func:`estimate_diameter`), then
        measured on the first prediction and, when that differs by more than ``tolerance``, predicted again
        at the measured size.
    band : (float, float)
        Scale factors ``model_diameter / diameter`` inside this range leave the image at its own scale. The
        shipped models were trained on sizes x0.75-1.33 around their diameter; on real nuclei, shrinking
        large ones to it helped (27 px HeLa nuclei, Mask R-CNN AP@0.5 0.45 -> 0.79) but enlarging small ones
        did not (12 px: 0.82 -> 0.75; U-Net 0.81 -> 0.70): enlarging is left to x2 and beyond. Shrinking
        starts at x0.9 (objects over 22 px for a 20-px model): with x0.8, the size estimate of those HeLa nuclei
        (22.8 px for 28) left them at their own scale and "auto" gave Mask R-CNN 0.53 instead of 0.66.

    Returns
    -------
    labels : ndarray
        On ``plane``'s grid (nearest neighbour).
    extra : object
        What ``iter_predict`` returned beside the labels (None if nothing), at the rescaled size.
    used : float
        The diameter used.

    Raises
    ------
    ValueError
        ``model_diameter`` is None (the model does not record its object size) or ``diameter`` is not a
        positive number or "auto".
    """
    if not model_diameter:
        raise ValueError("this model does not record the object size it was trained at, so it cannot rescale "
                         "images to it; predict without a diameter (at the image's own scale).")
    if isinstance(diameter, str):
        if diameter != "auto":
            raise ValueError(f"diameter must be a number of pixels or 'auto', got {diameter!r}.")
    elif not (isinstance(diameter, (int, float, np.number)) and np.isfinite(diameter) and diameter > 0):
        raise ValueError(f"the object diameter must be a positive number of pixels or 'auto', got {diameter!r}.")
    plane = np.asarray(plane)

    def once(d):
        factor = float(model_diameter) / d
        small = plane if band[0] <= factor <= band[1] else rescale_plane(plane, factor)
        out = yield from iter_predict(small)
        labels, extra = (out if isinstance(out, tuple) else (out, None))
        return resize_labels(labels, plane.shape[:2]), extra

    if diameter != "auto":
        labels, extra = yield from once(float(diameter))
        return labels, extra, float(diameter)
    d = estimate_diameter(plane) or float(model_diameter)
    labels, extra = yield from once(d)
    measured = median_diameter(labels)
    inside = band[0] <= float(model_diameter) / d <= band[1]
    if measured is not None and abs(measured / d - 1) > tolerance and not (
            inside and band[0] <= float(model_diameter) / measured <= band[1]):
        d = measured
        labels, extra = yield from once(d)
    return labels, extra, d
