"""The border weight map of Ronneberger et al. (2015), exact and fast.

``w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))`` on background pixels, ``w_c(x)`` on
instances, where ``d1 <= d2`` are the distances to the nearest and second-nearest instance.

The textbook method runs one Euclidean distance transform (EDT) of the whole image per instance. Here the
border term is only evaluated where it can change a float32 result: beyond the distance
``T = sigma * sqrt(2 * ln(w0 / eps))`` it is smaller than half a float32 unit of the background weight, and
a pixel's term needs ``d2 <= d1 + d2 <= T``. So each instance only matters inside its bounding box grown by
``T``; one small EDT per instance, inside that crop, keeps a running pair of smallest distances. The
result equals the textbook one up to float rounding; the cost is about that of one full-image EDT.

The running pair ``d1``, ``d2`` only exists for one band of rows (along axis 0, planes for 3D) at a time,
so the work memory beyond the float32 output does not grow with the image. Only the instances whose grown
box reaches a band matter there; each one's EDT is computed on its grown box cut to the rows that hold
both the WHOLE instance and the band's part of the box (a crop that cut the instance would give wrong
distances). The EDT at a pixel depends only on the instance's pixels and their offsets, not on how far
the crop extends past the instance, so the result is bit-identical to that of whole-image pairs. A band
holds ``_BAND_PIXELS`` pixels and is at least ``_BAND_MARGINS`` cutoff distances high, so an instance
near a band border typically has its EDT computed twice and the others once.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy import ndimage as ndi

from .labels import as_labels, relabel_sequential
from .progress import Progress, run

__all__ = ["unet_weight_map", "iter_unet_weight_map", "class_weight_values", "border_cutoff"]

#: Fraction of the background weight below which the border term is dropped: half a float32 unit
#: (2**-24 relative spacing at worst, halved), so dropping it cannot change the float32 result.
_RELATIVE_EPS = 2.0 ** -25
#: Floor on the background weight used for the cutoff, so a zero background weight still gets one.
_MIN_REFERENCE_WEIGHT = 1e-2
#: Progress events per call (per plane when plane by plane).
_EVENTS = 50
#: Pixels per chunk when adding the border term (bounds the float64 temporaries).
_CHUNK_PIXELS = 1 << 21
#: Pixels per band (rows along axis 0): the distances ``d1``, ``d2`` exist for one band at a time.
#: Default border height ``w0`` and width ``sigma`` (Ronneberger et al. 2015 used 10 and 5 pixels): the one
#: source the CLI, the widgets, the export and the U-Net trainer read.
W0 = 10.0
SIGMA = 5.0

_BAND_PIXELS = 1 << 22
#: A band is at least this many axis-0 margins (the cutoff in rows) high, so that an instance's grown box
#: typically reaches at most two bands (its distance transform is computed once per band it reaches).
_BAND_MARGINS = 4


def class_weight_values(labels: np.ndarray, class_weights="balanced") -> tuple[float, float]:
    """The ``(background, foreground)`` class weights ``unet_weight_map`` uses for ``labels``.

    Parameters
    ----------
    labels : numpy.ndarray
        Instance labels, 0 = background.
    class_weights : "balanced", (float, float) or None
        ``"balanced"`` gives class k the weight ``N / (2 * N_k)`` (N pixels in all, N_k in class k; a
        class with no pixels gets 1); a pair sets ``(w_background, w_foreground)``; None gives 1 to both.

    Returns
    -------
    tuple of float
        ``(w_background, w_foreground)``.

    Raises
    ------
    ValueError
        If ``class_weights`` is none of the above, or a weight is negative or not finite.
    """
    if class_weights is None:
        return 1.0, 1.0
    if isinstance(class_weights, str):
        if class_weights.lower() != "balanced":
            raise ValueError(f"class_weights must be 'balanced', a pair (background, foreground) or None; "
                             f"got {class_weights!r}.")
        n = labels.size
        n_fg = int(np.count_nonzero(labels))
        n_bg = n - n_fg
        w_bg = n / (2.0 * n_bg) if n_bg else 1.0
        w_fg = n / (2.0 * n_fg) if n_fg else 1.0
        return w_bg, w_fg
    try:
        w_bg, w_fg = (float(v) for v in class_weights)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"class_weights must be 'balanced', a pair (background, foreground) or None; "
                         f"got {class_weights!r}.") from exc
    if not (math.isfinite(w_bg) and math.isfinite(w_fg)) or w_bg < 0 or w_fg < 0:
        raise ValueError(f"class weights must be finite and >= 0; got ({w_bg:g}, {w_fg:g}).")
    return w_bg, w_fg


def border_cutoff(w0: float, sigma: float, w_background: float = 1.0) -> float:
    """Distance sum ``d1 + d2`` beyond which the border term cannot change a float32 weight.

    Returns ``sigma * sqrt(2 * ln(w0 / eps))`` with ``eps = 2**-25 * max(w_background, 0.01)``, or 0
    when ``w0 <= eps`` (no border term at all).
    """
    eps = _RELATIVE_EPS * max(w_background, _MIN_REFERENCE_WEIGHT)
    if w0 <= eps:
        return 0.0
    return sigma * math.sqrt(2.0 * math.log(w0 / eps))


def _check_parameters(w0, sigma) -> tuple[float, float]:
    if isinstance(w0, bool) or not isinstance(w0, Real) or not math.isfinite(w0) or w0 < 0:
        raise ValueError(f"w0 must be a finite number >= 0; got {w0!r}.")
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a finite number > 0 (in spacing units); got {sigma!r}.")
    return float(w0), float(sigma)


def _check_spacing(spacing, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    values = np.atleast_1d(np.asarray(spacing, dtype=float)) if not isinstance(spacing, str) else None
    if values is None or values.ndim != 1 or values.size not in (1, ndim):
        raise ValueError(f"spacing must be one number or one per axis ({ndim} values); got {spacing!r}.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"spacing values must be finite and > 0; got {spacing!r}.")
    if values.size == 1:
        values = np.repeat(values, ndim)
    return tuple(float(v) for v in values)


def _iter_weight_map_nd(labels, w0, sigma, class_weights, spacing):
    w_bg, w_fg = class_weight_values(labels, class_weights)
    out = np.empty(labels.shape, np.float32)
    for part in _chunks(out, 0, len(out)):  # no whole-image mask
        out[part] = np.where(labels[part] == 0, np.float32(w_bg), np.float32(w_fg))
    cutoff = border_cutoff(w0, sigma, w_bg)
    if cutoff <= 0 or not labels.any():
        return out
    yield from _iter_add_border_term(out, labels, w0, sigma, w_bg, cutoff, spacing)
    return out


def _chunks(out, start, stop):
    """Slices of rows ``start:stop`` of ``out`` of about ``_CHUNK_PIXELS`` pixels each."""
    rows = max(1, _CHUNK_PIXELS // max(1, out[0].size))
    return [slice(a, min(a + rows, stop)) for a in range(start, stop, rows)]


def _iter_add_border_term(out, labels, w0, sigma, w_bg, cutoff, spacing):
    """Add the border term to ``out`` band by band along axis 0 (generator: yields Progress).

    Nothing is added with fewer than two instances. The distances ``d1 <= d2`` are exact where
    ``d2 <= cutoff``; they only exist for one band at a time.
    """
    shape = labels.shape
    if int(labels.max()) > labels.size:  # huge or sparse ids: find_objects would make a list that long
        labels, _ = relabel_sequential(labels)
    present = [(i, box) for i, box in enumerate(ndi.find_objects(labels), 1) if box is not None]
    if len(present) < 2:
        return
    margins = [int(math.floor(cutoff / s)) + 1 for s in spacing]
    grown = [tuple(slice(max(b.start - m, 0), min(b.stop + m, n)) for b, m, n in zip(box, margins, shape))
             for _, box in present]
    height = max(_BAND_PIXELS // max(1, out[0].size), _BAND_MARGINS * margins[0], 1)
    first = np.array([g[0].start for g in grown])
    last = np.array([g[0].stop for g in grown])
    bands = [(a, min(a + height, shape[0])) for a in range(0, shape[0], height)]
    members = [np.flatnonzero((first < b) & (last > a)) for a, b in bands]  # grown box reaches the band
    total = sum(len(m) for m in members)
    every = max(1, total // _EVENTS)
    done = 0
    for j, ((a, b), band_members) in enumerate(zip(bands, members)):
        if not len(band_members):
            continue
        d1 = np.full((b - a, *shape[1:]), np.inf, np.float32)
        d2 = np.full_like(d1, np.inf)
        for k in band_members:
            i, box = present[k]
            g = grown[k]
            lo, hi = max(g[0].start, a), min(g[0].stop, b)  # the rows of the band the instance reaches
            r0, r1 = min(box[0].start, lo), max(box[0].stop, hi)  # the crop holds the WHOLE instance too
            d = ndi.distance_transform_edt(labels[(slice(r0, r1), *g[1:])] != i, sampling=spacing)
            d = d[lo - r0:hi - r0].astype(np.float32)
            reach = (slice(lo - a, hi - a), *g[1:])
            near1, near2 = d1[reach], d2[reach]  # views
            np.minimum(near2, np.maximum(near1, d), out=near2)
            np.minimum(near1, d, out=near1)
            done += 1
            if done % every == 0 or done == total:
                yield Progress(done, total, f"band {j + 1}/{len(bands)}, distance transform {done}/{total}")
        for part in _chunks(out, a, b):  # bounded float64 temporaries
            local = slice(part.start - a, part.stop - a)
            _add_border_term(out[part], labels[part], d1[local], d2[local], w0, sigma, w_bg)
        del d1, d2  # before the next band's are allocated


def _add_border_term(out, labels, d1, d2, w0, sigma, w_bg):
    near = (labels == 0) & np.isfinite(d2)
    s = d1[near].astype(np.float64)  # float64 from here, so the float32 result is correctly rounded
    s += d2[near]
    s *= s
    s *= -1.0 / (2.0 * sigma * sigma)
    np.exp(s, out=s)
    s *= w0
    s += w_bg
    out[near] = s


def iter_unet_weight_map(labels, w0: float = W0, sigma: float = SIGMA, class_weights="balanced", spacing=None,
                         plane_by_plane: bool = False):
    """Generator form of :func:`unet_weight_map`: yields :class:`Progress`, returns the weight map.

    Parameters
    ----------
    labels, w0, sigma, class_weights, spacing
        As in :func:`unet_weight_map`.
    plane_by_plane : bool
        For a 3D stack: compute each plane as its own 2D image (distances within the plane, class weights
        per plane), as for a stack of 2D training images. ``spacing`` may then have 2 or 3 values (the last
        two are used). Ignored for 2D labels.

    Returns
    -------
    numpy.ndarray of float32
        The weight map, shape of ``labels``.
    """
    labels = as_labels(labels, ndim=(2, 3))
    w0, sigma = _check_parameters(w0, sigma)
    class_weight_values(labels[:1], class_weights)  # validate before any work
    if plane_by_plane and labels.ndim == 3:
        if spacing is not None and np.size(spacing) == 3:
            spacing = tuple(np.asarray(spacing, dtype=float)[1:])
        spacing = _check_spacing(spacing, 2)
        out = np.empty(labels.shape, np.float32)
        n = labels.shape[0]
        for z in range(n):
            out[z] = run(_iter_weight_map_nd(labels[z], w0, sigma, class_weights, spacing))
            yield Progress(z + 1, n, f"plane {z + 1}/{n}")
        return out
    spacing = _check_spacing(spacing, labels.ndim)
    work = _iter_weight_map_nd(labels, w0, sigma, class_weights, spacing)
    last = None
    while True:
        try:
            last = next(work)
        except StopIteration as stop:
            out = stop.value
            break
        yield last
    if last is None or last.step != last.total:  # always end on a full bar
        yield Progress(1, 1, "weight map done")
    return out


def unet_weight_map(labels, w0: float = W0, sigma: float = SIGMA, class_weights="balanced",
                    spacing=None) -> np.ndarray:
    """Border weight map of Ronneberger et al. (2015) for training a U-Net on touching instances.

    ``w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))``, where ``d_i(x)`` is the Euclidean
    distance (in ``spacing`` units) from pixel ``x`` to the nearest pixel of instance ``i`` (0 inside
    instance ``i``) and ``d1 <= d2`` are the two smallest over all instances. The border term applies to
    background pixels only, and is 0 everywhere when there are fewer than two instances.

    Parameters
    ----------
    labels : array_like of int, 2D or 3D
        Instance labels, 0 = background. Any ids (not necessarily sequential, up to 2**32 - 1). Floats
        holding whole numbers are converted; boolean masks are refused (touching cells would merge).
    w0 : float
        Height of the border term (>= 0).
    sigma : float
        Width of the border term, in ``spacing`` units (> 0).
    class_weights : "balanced", (float, float) or None
        ``"balanced"`` gives class k (background, foreground) the weight ``N / (2 * N_k)`` (a class with no
        pixels gets 1); a pair ``(w_background, w_foreground)`` sets them; None gives 1 everywhere.
    spacing : float or sequence of float, optional
        Pixel size per axis (e.g. ``(2.0, 0.5, 0.5)`` for a ZYX stack); default 1.

    Returns
    -------
    numpy.ndarray of float32
        The weight map, same shape as ``labels``.

    Raises
    ------
    ValueError
        For labels that are not 2D or 3D, empty, boolean, negative, fractional, NaN; for ``w0 < 0``,
        ``sigma <= 0``, bad ``spacing`` or ``class_weights``.

    See Also
    --------
    iter_unet_weight_map : the same as a progress generator, with a plane-by-plane option for stacks.

    Notes
    -----
    The border term is dropped where it is below ``2**-25 * max(w_background, 0.01)`` (half a float32
    unit of the background weight), which happens for ``d1 + d2 > sigma * sqrt(2 * ln(w0 / eps))``. Every
    instance then only matters within that distance of its bounding box: one EDT per instance inside that
    crop keeps the two smallest distances per pixel. The result is the textbook one (one full EDT per
    instance) up to float32 rounding, in about the time of one full-image EDT for the default ``sigma``.
    Larger ``sigma`` means larger crops (the cost grows towards the textbook method's).

    The two smallest distances are kept for one band of rows along the first axis at a time (a few
    million pixels, at least four cutoff distances high), so the memory needed beyond the float32 output
    is bounded, not a multiple of the image. An instance whose crop reaches two bands has its EDT computed
    for each, on a crop that still holds the whole instance, so the result does not depend on the bands.

    References
    ----------
    .. [1] O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for Biomedical Image
       Segmentation", MICCAI 2015, LNCS 9351, pp. 234-241. :doi:`10.1007/978-3-319-24574-4_28`

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 7), int)
    >>> labels[:, :3] = 1
    >>> labels[:, 4:] = 2
    >>> w = unet_weight_map(labels, w0=10, sigma=5, class_weights=None)
    >>> float(w[0, 3])  # one pixel from each cell: 1 + 10 * exp(-(1 + 1)**2 / 50)
    10.231163024902344
    >>> float(w[0, 0])
    1.0
    """
    return run(iter_unet_weight_map(labels, w0, sigma, class_weights, spacing))
