"""GrabCut from point prompts: one click per object, the box found from the object's local scale.

For each ``(row, col)`` point a box is estimated, then cut as any GrabCut box:

* with a ``prior``: the connected part of ``prior > 0.5`` under the point (or within ``snap`` pixels) gives
  the object's radius (its distance transform's largest value near the point) and extent (its bounding box,
  kept within a few radii of the point, so a chain of touching objects does not make one huge box);
* otherwise, and where the prior sees nothing there: the scale of the blob under the point, the scale at
  which the scale-normalised Laplacian of Gaussian of the image (bright or dark blobs alike) is largest.

Where the Laplacian has no peak (a nucleus in a tight cluster), the box comes from the part of the image brighter
than an Otsu threshold of the point's surroundings. If the cut takes another object in the box while the point
looks like one (the prior says so, or the point is in that bright part), the box is cut again with the clicked
3x3 pixels as foreground, still contrast-tested. Where two masks overlap, a pixel goes to the nearer point.

The mask must cover the point (within ``snap`` pixels), else the point stands on nothing (between objects,
on plain background) and its instance stays empty, as does a box whose cut fails GrabCut's contrast test.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .boxes import BoxMask, _box_mask
from .checks import _check_params, _check_trimap, _spatial_image, check_prior, resolve_channels
from ..progress import Progress, run

__all__ = ["grabcut_points", "iter_grabcut_points", "point_box"]

#: Pixels added around the estimated object on every side (the boxes of the benchmark are objects + 4 px).
BOX_PAD = 4


def _check_points(points, shape):
    lead = len(shape) - 2
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 1 and pts.size == lead + 2:
        raise ValueError(f"points must be a list of points, got one point {tuple(points)}: write [point].")
    if pts.ndim != 2 or pts.shape[1] != lead + 2 or len(pts) == 0:
        want = "(row, col)" if lead == 0 else f"{lead} plane index(es) then (row, col)"
        raise ValueError(f"points must be an (n, {lead + 2}) array or a list of {want} points; got shape "
                         f"{pts.shape}.")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinity.")
    pts = np.round(pts).astype(int)
    outside = ~((pts >= 0) & (pts < np.asarray(shape))).all(1)
    if outside.any():
        raise ValueError(f"point {tuple(pts[outside][0])} lies outside the image (spatial shape {tuple(shape)}).")
    return pts


def _blob_radius(gray, r, c, max_radius):
    """Radius of the blob centred near (r, c) from the scale-normalised Laplacian of Gaussian at the point.

    The first strong peak over increasing scales (not the largest): in a crowd, a cluster of objects makes a larger,
    stronger blob than the one object under the point. Bright and dark blobs alike (its absolute value).
    """
    sigmas = np.geomspace(1.0, max(max_radius / np.sqrt(2), 1.5), 16)
    resp = []
    for s in sigmas:
        reach = int(np.ceil(4 * s)) + 1
        y0, x0 = max(r - reach, 0), max(c - reach, 0)
        win = gray[y0:r + reach + 1, x0:c + reach + 1]
        resp.append(s * s * abs(ndi.gaussian_laplace(win, s, mode="reflect")[r - y0, c - x0]))
    resp = np.asarray(resp)
    peaks = np.flatnonzero((resp[1:-1] >= resp[:-2]) & (resp[1:-1] > resp[2:])) + 1
    peaks = peaks[resp[peaks] >= 0.6 * resp.max()]  # texture inside an object makes weak small-scale peaks
    if not peaks.size:  # no blob scale up to max_radius: the point is on no object (e.g. between objects)
        return None
    return float(np.sqrt(2) * sigmas[int(peaks[0])])


def _bright_part(gray, r, c, max_radius):
    """0/1 map of the pixels above an Otsu threshold of the window (2 ``max_radius`` wide) around (r, c)."""
    from skimage.filters import threshold_otsu

    reach = int(2 * max_radius)
    y0, x0 = max(r - reach, 0), max(c - reach, 0)
    win = gray[y0:r + reach + 1, x0:c + reach + 1]
    out = np.zeros(gray.shape, np.float32)
    if np.ptp(win) > 0:
        out[y0:y0 + win.shape[0], x0:x0 + win.shape[1]] = win > threshold_otsu(win)
    return out


def _prior_extent(prior, r, c, snap, max_radius):
    """(radius, (r0, c0, r1, c1)) of the prior's object under (r, c), or None when the prior sees none."""
    reach = int(3 * max_radius)
    y0, x0 = max(r - reach, 0), max(c - reach, 0)
    win = prior[y0:r + reach + 1, x0:c + reach + 1] > 0.5
    lab, n = ndi.label(win)
    if n == 0:
        return None
    pr, pc = r - y0, c - x0
    near = lab[max(pr - snap, 0):pr + snap + 1, max(pc - snap, 0):pc + snap + 1]
    if not near.any():
        return None
    own = lab == (lab[pr, pc] or np.bincount(near[near > 0]).argmax())
    dist = ndi.distance_transform_edt(own)
    radius = float(dist[max(pr - snap, 0):pr + snap + 1, max(pc - snap, 0):pc + snap + 1].max())
    rows, cols = np.nonzero(own)
    return radius, (rows.min() + y0, cols.min() + x0, rows.max() + 1 + y0, cols.max() + 1 + x0)


def point_box(image_gray, point, prior=None, *, max_radius: float = 40.0, snap: int = 2) -> tuple:
    """The GrabCut box for one ``(row, col)`` point of a 2D plane (see the module's notes).

    Parameters
    ----------
    image_gray : ndarray, (rows, cols)
        The plane as one float channel (used when there is no prior, or it sees nothing at the point).
    point : (int, int)
    prior : ndarray, (rows, cols), optional
        Foreground probabilities in [0, 1].
    max_radius : float
        Largest object radius looked for, pixels.
    snap : int
        The prior's object may start this many pixels from the point.

    Returns
    -------
    tuple of int or None
        ``(row0, col0, row1, col1)``, end exclusive (may reach past the image: GrabCut clips it); None when
        no object scale is found at the point (no blob peak up to ``max_radius``).
    """
    r, c = (int(v) for v in point)
    found = None if prior is None else _prior_extent(prior, r, c, snap, max_radius)
    if found is not None and found[0] >= 1.5:
        radius, (b0, b1, b2, b3) = found
        half = int(np.ceil(min(2.5 * radius, max_radius))) + BOX_PAD
        return (max(b0 - BOX_PAD, r - half), max(b1 - BOX_PAD, c - half),
                min(b2 + BOX_PAD, r + half + 1), min(b3 + BOX_PAD, c + half + 1))
    radius = _blob_radius(image_gray, r, c, max_radius)
    if radius is None:  # no blob scale (e.g. a nucleus in a tight cluster): the bright part under the point
        found = _prior_extent(_bright_part(image_gray, r, c, max_radius), r, c, 0, max_radius)
        if found is None or found[0] < 1.5:
            return None
        radius, (b0, b1, b2, b3) = found
        half = int(np.ceil(min(2.5 * radius, max_radius))) + BOX_PAD
        return (max(b0 - BOX_PAD, r - half), max(b1 - BOX_PAD, c - half),
                min(b2 + BOX_PAD, r + half + 1), min(b3 + BOX_PAD, c + half + 1))
    half = int(np.ceil(1.15 * radius)) + BOX_PAD
    return (r - half, c - half, r + half + 1, c + half + 1)


def _gray(plane):
    """One float channel from (rows, cols, channels): each channel scaled robustly, then their mean."""
    x = plane.astype(np.float64)
    lo, hi = np.percentile(x.reshape(-1, x.shape[-1]), (1, 99), axis=0)
    return ((x - lo) / np.where(hi - lo > 1e-12, hi - lo, 1.0)).mean(-1)


def iter_grabcut_points(image, points, n_iter=5, channel_axis=None, trimap=None, *, prior=None,
                        max_radius=40.0, snap=2, **params):
    """Generator form of :func:`grabcut_points`: yields :class:`Progress` per point, returns the labels."""
    params = _check_params(n_iter, params)
    arr, shape = _spatial_image(image, channel_axis)
    params = resolve_channels(arr, params)
    tri = _check_trimap(trimap, shape)
    prior = check_prior(prior, shape)
    pts = _check_points(points, shape)
    if not max_radius >= 2:
        raise ValueError(f"max_radius must be at least 2 pixels, got {max_radius}.")
    lead = len(shape) - 2
    grays = {}
    masks = []
    for i, pt in enumerate(pts):
        planes, (r, c) = tuple(int(v) for v in pt[:lead]), pt[lead:]
        if planes not in grays:
            grays[planes] = _gray(arr[planes])
        box = point_box(grays[planes], (r, c), None if prior is None else prior[planes], max_radius=max_radius,
                        snap=int(snap))
        if box is None:
            masks.append(None)
        else:
            res = _box_mask(arr, shape, (*planes, *box), tri, n_iter, params, prior)
            kept = _keep_if_under_point(res, planes, r, c, int(snap))
            if kept is None and res.mask.any() and _object_at(grays[planes], prior, planes, r, c, max_radius):
                # an object at the point, but the cut took another one in the box: cut again with the
                # clicked pixels as foreground (still contrast-tested)
                res = _box_mask(arr, shape, (*planes, *box), tri, n_iter, params, prior, point=(r, c))
                kept = _keep_if_under_point(res, planes, r, c, int(snap))
            masks.append(kept)
        yield Progress(i + 1, len(pts), f"GrabCut point {i + 1}/{len(pts)}")
    return paint_point_masks(shape, masks, pts)


def paint_point_masks(shape, masks, pts):
    """Paint point masks as instances 1..N; a pixel two masks claim goes to the nearer of their points.

    A mask that spills over a neighbouring object then cannot take that object's own point away (each
    point is nearest to itself), so no point on an object is left without its instance.
    """
    out = np.zeros(shape, np.int32)
    best = np.full(shape, np.inf)
    for i, (res, pt) in enumerate(zip(masks, pts)):
        if res is None:
            continue
        lead = len(res.slices) - 2
        sy, sx = res.slices[lead], res.slices[lead + 1]
        yy, xx = np.ogrid[sy.start:sy.stop, sx.start:sx.stop]
        d = np.hypot(yy - pt[lead], xx - pt[lead + 1])
        view_best, view_out = best[res.slices], out[res.slices]
        win = res.mask & (d < view_best)
        view_best[win] = d[win]
        view_out[win] = i + 1
    return out


def _object_at(gray, prior, planes, r, c, max_radius):
    """Whether the point looks like an object: the prior says so, or (without one) it is brighter than an
    Otsu threshold of its surroundings."""
    if prior is not None:
        return bool(prior[(*planes, r, c)] >= 0.5)
    return bool(_bright_part(gray, r, c, max_radius)[r, c])


def _keep_if_under_point(res: BoxMask, planes, r, c, snap):
    sy, sx = res.slices[len(planes)], res.slices[len(planes) + 1]
    pr, pc = r - sy.start, c - sx.start
    near = res.mask[max(pr - snap, 0):pr + snap + 1, max(pc - snap, 0):pc + snap + 1]
    return res if near.any() else None


def grabcut_points(image, points, n_iter=5, channel_axis=None, trimap=None, *, prior=None, max_radius=40.0,
                   snap=2, progress=None, **params):
    """GrabCut from point prompts: one instance per point, the object under it.

    Parameters
    ----------
    image, n_iter, channel_axis, trimap, prior
        As in :func:`grabcut`.
    points : sequence of (row, col) or ndarray of shape (n, 2)
        One point per object, in data pixels; ``(plane, row, col)`` on a stack. Point ``i`` becomes label
        ``i + 1``.
    max_radius : float
        Largest object radius looked for, pixels (bounds the box).
    snap : int
        The object must cover the point or a pixel within ``snap`` of it.
    progress : callable, optional
        Called with a :class:`Progress` event after each point.
    **params
        ``n_components``, ``gamma``, ``margin``, ``core_fraction``, ``shape_prior``, ``min_contrast``,
        ``prior_weight``, ``features``, ``nucleus_channel`` as in :func:`grabcut`.

    Returns
    -------
    ndarray of int32
        Instance labels of the image's spatial shape; a point on nothing that stands out (plain background,
        between objects) leaves its id unused. Where two masks overlap, a pixel goes to the nearer point.

    Raises
    ------
    ValueError
        For no points, points outside the image, or any input :func:`grabcut` refuses.

    Notes
    -----
    The box around a point comes from the prior's object under it when a prior is given, else from the
    scale of the blob under it (scale-normalised Laplacian of Gaussian); see :func:`point_box`.

    Examples
    --------
    >>> img = np.zeros((60, 60)); img[np.hypot(*np.mgrid[-30:30, -30:30]) <= 8] = 1
    >>> lab = grabcut_points(img + np.random.default_rng(0).normal(0, 0.1, img.shape), [(30, 30), (5, 5)])
    >>> [int((lab == i).sum() > 150) for i in (1, 2)]
    [1, 0]
    """
    return run(iter_grabcut_points(image, points, n_iter, channel_axis, trimap, prior=prior,
                                   max_radius=max_radius, snap=snap, **params), progress=progress)
