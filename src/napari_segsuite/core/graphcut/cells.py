"""Whole cells from a nucleus channel: what GrabCut learns about one box from the nuclei around it.

In a confluent sheet a box drawn around one cell holds parts of its neighbours, which look the same in the
cell channels (transmitted light, a cytoplasm stain), so the colour models alone cannot tell the box's cell from
them. The nucleus channel can: every cell has one nucleus. :func:`cell_cues` turns it, and the cell channels,
into four cues for the cut of one crop:

* ``own``: the box's nucleus, sure foreground: of the bright nuclei that overlap the box's core, the one nearest
  the box's centre.
* ``others``: every other bright nucleus in the crop, sure background (other cells).
* ``territory``: the pixels nearer to the box's nucleus than to any other (a Voronoi split of the crop between
  the nuclei). Outside it, foreground costs :data:`TERRITORY_COST` more: soft, since cells are not Voronoi
  cells (a hard split loses the parts of long cells that reach past it).
* ``rho``: the tilt of the box's cell, from the structure tensor of the cell channels inside the box and the
  territory, for the shape prior (:func:`~napari_segsuite.core.graphcut.crop.ellipse_radius2`): a long cell lying
  diagonally in its box is a tilted ellipse touching the four sides, not the box's upright inscribed ellipse.

The colour models then see the cell channels only: the nucleus channel's strong edges would otherwise pull the
cut to the nuclei.

Measured on the real scratch-assay cells (frames t01-t09 of the ndev time-lapse whose t00 is in
``sample_data/real``; 447 cells away from the border, one box per cell 4 px larger
than its label, IoU against software-made labels; ``benchmarks/grabcut.py --real``): mean IoU 0.551 before,
0.639 with these cues (t00, not used for tuning: 0.577 before, 0.649); without the territory 0.614, without the
tilt 0.607, with a hard territory 0.589, with the nucleus channel also in the colour models 0.609. Tried on t01,
t03, ..., t09 with a texture channel and not kept: a watershed of the transmitted-light gradient instead of the
Voronoi split (-0.008), a territory cost graded with the distance (no gain), the smoothness term on the
transmitted light only (no gain), a tilt from the nucleus's own shape (+0.011, the structure tensor +0.035), and
the local standard deviation of the transmitted light as a texture channel (+0.010, but it widened a flat
synthetic cell's mask by 2 px; a high-pass texture that does not gave no gain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["CellCues", "cell_cues", "find_nuclei", "nucleus_territory", "structure_tilt", "TERRITORY_COST",
           "TILT_SIGMA", "MIN_NUCLEUS_PIXELS"]

#: Extra foreground cost (nats, as the colour models' negative log-likelihoods) outside the box's territory.
TERRITORY_COST = float(np.log(4.0))
#: Scale (pixels) of the gradients of the structure tensor that gives a cell's tilt.
TILT_SIGMA = 2.0
#: Bright parts of the nucleus channel smaller than this are not nuclei (debris, noise).
MIN_NUCLEUS_PIXELS = 15


@dataclass(frozen=True)
class CellCues:
    """The cues of one crop (see the module's notes); ``territory`` is None when the box has no nucleus."""

    own: np.ndarray
    others: np.ndarray
    territory: np.ndarray | None
    rho: float


def find_nuclei(channel, inbox, core, sigma: float = 1.0, min_pixels: int = MIN_NUCLEUS_PIXELS):
    """The nuclei of a crop of a nucleus channel, and which one is the box's.

    Parameters
    ----------
    channel : ndarray, (rows, cols)
        The crop of the nucleus channel.
    inbox, core : ndarray of bool, (rows, cols)
        The box, and its core (the part the box's own nucleus must overlap).
    sigma : float
        Gaussian smoothing before thresholding, in pixels.
    min_pixels : int
        Smallest nucleus.

    Returns
    -------
    labels : ndarray of int
        0 = no nucleus; bright parts (above an Otsu threshold of the smoothed box, connected) that are at least
        ``min_pixels`` large and whose median stands 3 robust standard deviations above the dim pixels.
    own : int
        Label of the box's nucleus (0 when none): of the nuclei overlapping ``core`` by 4 pixels or more, the one
        with a pixel nearest the box's centre.
    """
    from skimage.filters import threshold_otsu

    x = ndi.gaussian_filter(np.asarray(channel, np.float64), sigma) if sigma else np.asarray(channel, np.float64)
    nothing = np.zeros(x.shape, np.int32), 0
    vals = x[inbox]
    if vals.size < 4 or np.ptp(vals) <= 0 or not core.any():
        return nothing
    bright = x > threshold_otsu(vals)
    lab, n = ndi.label(bright)
    dim = ~bright
    if n == 0 or not dim.any():
        return nothing
    med = np.median(x[dim])
    spread = max(1.4826 * np.median(np.abs(x[dim] - med)), 1e-9)
    ids = np.arange(1, n + 1)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    medians = np.asarray(ndi.median(x, lab, ids))
    real = np.concatenate([[False], (medians - med >= 3 * spread) & (sizes >= min_pixels)])
    lab = np.where(real[lab], lab, 0).astype(np.int32)
    overlap = np.bincount(lab[core], minlength=n + 1)
    overlap[0] = 0
    if overlap.max() < 4:
        return lab, 0
    rows, cols = np.nonzero(inbox)
    cy, cx = (rows.min() + rows.max()) / 2.0, (cols.min() + cols.max()) / 2.0
    yy, xx = np.nonzero(lab)
    nearest = np.full(n + 1, np.inf)
    np.minimum.at(nearest, lab[yy, xx], np.hypot(yy - cy, xx - cx))
    nearest[overlap < 4] = np.inf
    return lab, int(np.argmin(nearest))


def nucleus_territory(labels, own: int) -> np.ndarray:
    """Pixels at least as near (Euclidean) to nucleus ``own`` as to any other nucleus of ``labels``."""
    others = (labels > 0) & (labels != own)
    if not others.any():
        return np.ones(labels.shape, bool)
    d_own = ndi.distance_transform_edt(labels != own)
    d_other = ndi.distance_transform_edt(~others)
    return d_own <= d_other


def structure_tilt(image, weight, sigma: float = TILT_SIGMA) -> float:
    """The correlation of rows and columns of an elongated object, from the structure tensor of its edges.

    An object long along a direction has its edges' gradients across it, so the gradients' row-column
    correlation, negated, estimates the correlation of the object's own pixel coordinates: the ``rho`` of the
    tilted ellipse inscribed in its box. Each channel is scaled by its 1-99 percentile range first.

    Parameters
    ----------
    image : ndarray, (rows, cols, channels)
    weight : ndarray of bool or float, (rows, cols)
        Where to sum the tensor (the box, or the box's territory).
    sigma : float
        Scale of the Gaussian derivatives, in pixels.

    Returns
    -------
    float
        In (-1, 1); 0 when there are no gradients (positive: the object runs from top left to bottom right).
    """
    x = np.asarray(image, np.float64)
    w = np.asarray(weight, np.float64)
    jyy = jxx = jxy = 0.0
    for k in range(x.shape[-1]):
        ch = x[..., k]
        lo, hi = np.percentile(ch, (1.0, 99.0))
        ch = ch / (hi - lo) if hi > lo else ch
        gy = ndi.gaussian_filter(ch, sigma, order=(1, 0))
        gx = ndi.gaussian_filter(ch, sigma, order=(0, 1))
        jyy += float((gy * gy * w).sum())
        jxx += float((gx * gx * w).sum())
        jxy += float((gy * gx * w).sum())
    if jyy <= 0 or jxx <= 0:
        return 0.0
    return float(-jxy / np.sqrt(jyy * jxx))


def cell_cues(cells, nucleus, inbox, core) -> CellCues:
    """Everything :func:`~napari_segsuite.core.graphcut.crop.cut_crop` takes from a nucleus channel (module notes).

    Parameters
    ----------
    cells : ndarray, (rows, cols, channels)
        The crop's cell channels (every channel but the nucleus channel).
    nucleus : ndarray, (rows, cols)
        The crop of the nucleus channel.
    inbox, core : ndarray of bool, (rows, cols)
        The box, and its core.

    Returns
    -------
    CellCues
        Without a nucleus in the core, ``own`` and ``others`` are empty, ``territory`` is None and the tilt is
        taken over the whole box.
    """
    labels, own = find_nuclei(nucleus, inbox, core)
    if own == 0:
        empty = np.zeros(inbox.shape, bool)
        return CellCues(empty, empty, None, structure_tilt(cells, inbox))
    own_mask = ndi.binary_fill_holes(labels == own) & inbox
    others = (labels > 0) & (labels != own)
    territory = nucleus_territory(labels, own)
    return CellCues(own_mask, others, territory, structure_tilt(cells, inbox & territory))
