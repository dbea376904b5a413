"""Partial labels: what every trainer does with a region (nonzero = the labels there are complete).

- :func:`sample_window`: training patches/crops are taken where the region is, centred on a random region
  pixel (so a half-plane region gives windows at least half inside it), never from unlabelled area alone.
- :func:`inside_fraction` / :func:`instances_inside`: how much of each instance lies inside the region; an
  instance cut by the region's edge counts as labelled when at least half of it is inside.
- :func:`region_bbox` / :func:`score_in_region`: validation is scored on the region's bounding box, ignoring
  true and predicted instances that lie mostly outside the region.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_window", "inside_fraction", "instances_inside", "region_bbox", "score_in_region",
           "MIN_INSIDE"]

#: an instance cut by the region's edge is kept (and scored) when at least this share of it is inside
MIN_INSIDE = 0.5


def sample_window(rng: np.random.Generator, shape: tuple[int, int], size: int, region=None) -> tuple[int, int]:
    """Top-left corner ``(y, x)`` of a random ``size x size`` window inside an image of ``shape``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    shape : (int, int)
        Rows and columns of the image, each at least ``size``.
    size : int
        Window side.
    region : (H, W) array, optional
        Where the labels are complete. None: a uniformly random window (two ``rng.integers`` draws).
        Given: the window is centred on a uniformly drawn region pixel and moved just enough to fit in the
        image, so it always contains that pixel (and, for a region larger than the window, mostly region).

    Returns
    -------
    (int, int)
        ``y, x`` with ``0 <= y <= H - size`` and ``0 <= x <= W - size``.

    Examples
    --------
    >>> region = np.zeros((100, 100), bool); region[40:60, 70:90] = True
    >>> y, x = sample_window(np.random.default_rng(0), (100, 100), 20, region)
    >>> bool(region[y:y + 20, x:x + 20].any())
    True
    """
    h, w = int(shape[0]), int(shape[1])
    if region is None:
        return int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    flat = np.flatnonzero(np.asarray(region).reshape(-1))
    if flat.size == 0:
        raise ValueError("the region is empty: there is nowhere to sample training patches from.")
    py, px = divmod(int(flat[int(rng.integers(flat.size))]), w)
    y = min(max(py - size // 2, 0), h - size)
    x = min(max(px - size // 2, 0), w - size)
    return y, x


def inside_fraction(labels: np.ndarray, region) -> dict[int, float]:
    """``{label id: share of its pixels inside region}`` for every instance of ``labels``.

    Examples
    --------
    >>> lab = np.zeros((4, 4), int); lab[0, :4] = 1; lab[3, 0] = 2
    >>> region = np.zeros((4, 4), bool); region[:, :3] = True
    >>> inside_fraction(lab, region)
    {1: 0.75, 2: 1.0}
    """
    labels = np.asarray(labels)
    flat = labels.reshape(-1)
    n = int(flat.max(initial=0)) + 1
    total = np.bincount(flat, minlength=n)
    inside = np.bincount(flat, weights=np.asarray(region).reshape(-1) != 0, minlength=n)
    return {int(i): float(inside[i] / total[i]) for i in np.flatnonzero(total) if i > 0}


def instances_inside(labels: np.ndarray, region, min_inside: float = MIN_INSIDE) -> np.ndarray:
    """The ids of the instances with at least ``min_inside`` of their pixels inside ``region`` (sorted)."""
    return np.array(sorted(i for i, f in inside_fraction(labels, region).items() if f >= min_inside), np.int64)


def region_bbox(region) -> tuple[slice, ...]:
    """The smallest box (a tuple of slices) holding every nonzero pixel of ``region``.

    Examples
    --------
    >>> region = np.zeros((5, 6), bool); region[1:3, 2:5] = True
    >>> region_bbox(region)
    (slice(1, 3, None), slice(2, 5, None))
    """
    region = np.asarray(region) != 0
    if not region.any():
        raise ValueError("the region is empty.")
    out = []
    for axis in range(region.ndim):
        hit = np.flatnonzero(region.any(axis=tuple(a for a in range(region.ndim) if a != axis)))
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


def _keep(labels: np.ndarray, region, min_inside: float) -> np.ndarray:
    keep = instances_inside(labels, region, min_inside)
    return np.where(np.isin(labels, keep), labels, 0)


def score_in_region(gt: np.ndarray, pred: np.ndarray, region=None, min_inside: float = MIN_INSIDE) -> dict:
    """Mean IoU and AP@0.5 of ``pred`` against ``gt``, counted only inside ``region``.

    Both label images are restricted to the instances with at least ``min_inside`` of their area inside
    ``region`` (a cell the user did not label, lying outside, is neither a miss nor a false detection);
    IoU is then computed on the region's pixels.

    Parameters
    ----------
    gt, pred : (H, W) int arrays
        True and predicted instances (the same shape).
    region : (H, W) array, optional
        Where ``gt`` is complete; None scores the whole image.
    min_inside : float
        Share of an instance's area that must lie inside the region for it to count.

    Returns
    -------
    dict
        ``{"ap50": float, "iou": float}``.

    Examples
    --------
    >>> gt = np.zeros((10, 20), int); gt[2:5, 2:5] = 1
    >>> pred = gt.copy(); pred[2:5, 12:15] = 2          # a cell in the unlabelled right half
    >>> region = np.zeros((10, 20), bool); region[:, :10] = True
    >>> score_in_region(gt, pred, region)["ap50"], score_in_region(gt, pred)["ap50"]
    (1.0, 0.5)
    """
    from ..metrics import average_precision, iou

    gt, pred = np.asarray(gt), np.asarray(pred)
    if region is None:
        return {"ap50": float(average_precision(gt, pred, thresholds=(0.5,))["ap"][0]), "iou": float(iou(gt, pred))}
    region = np.asarray(region) != 0
    gt, pred = _keep(gt, region, min_inside), _keep(pred, region, min_inside)
    ap = float(average_precision(gt, pred, thresholds=(0.5,))["ap"][0])
    return {"ap50": ap, "iou": float(iou(np.where(region, gt, 0), np.where(region, pred, 0)))}
