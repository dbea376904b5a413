"""Input checks of the GrabCut API: image, boxes, trimap, prior, parameters (clear messages for the user)."""

from __future__ import annotations

import numpy as np

from ..layout import looks_channels_last

__all__ = ["DEFAULT_PARAMS", "TRIMAP_FOREGROUND", "TRIMAP_BACKGROUND", "clip_box", "check_prior"]

#: Trimap / scribble values: 0 = let GrabCut decide.
TRIMAP_FOREGROUND = 1
TRIMAP_BACKGROUND = 2

#: Defaults of the keyword parameters of :func:`grabcut` (tuned on synthetic fluorescence nuclei).
DEFAULT_PARAMS = {"n_components": 5, "gamma": 30.0, "margin": 10, "core_fraction": 0.65, "shape_prior": 1.0,
                  "min_contrast": 1.6, "prior_weight": 2.0, "features": "auto", "nucleus_channel": None}

#: Defaults that differ with a ``nucleus_channel`` (whole cells, often confluent): a cell differs from its
#: neighbours by little but its nucleus, so the contrast test would drop real cells, and the box's shape
#: counts more (mean IoU on every cell of the real scratch-assay t00: 0.12 with the plain defaults, 0.54 with these
#: before the whole-cell cues of ``graphcut.cells``, 0.59 with them).
NUCLEUS_DEFAULTS = {"gamma": 10.0, "shape_prior": 5.0, "min_contrast": 0.0}

# -- input checks ---------------------------------------------------------------------------------------
def _spatial_image(image, channel_axis):
    """Return (view with channels last, spatial shape). Validates dtype, NaN and dimensions."""
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "uif":
        raise ValueError(f"image must be numeric (uint8, uint16, float, ...), got dtype {arr.dtype}.")
    if channel_axis is None:
        if arr.ndim == 3 and looks_channels_last(arr.shape):  # the project's one rule (core.layout)
            raise ValueError(f"image of shape {arr.shape} looks like a colour image (rows, columns, channels): "
                             "give channel_axis=-1 (or transpose it, if it really is a stack of narrow planes).")
        arr = arr[..., None]
    else:
        if not -arr.ndim <= channel_axis < arr.ndim:
            raise ValueError(f"channel_axis={channel_axis} is out of range for an image with "
                             f"{arr.ndim} axes.")
        arr = np.moveaxis(arr, channel_axis, -1)
    if arr.ndim < 3:
        raise ValueError(f"GrabCut needs a 2D image (rows, cols), optionally with channels or stack axes; "
                         f"got shape {np.shape(image)} with channel_axis={channel_axis}.")
    if min(arr.shape[:-1]) < 2:
        raise ValueError(f"the image is too small for GrabCut: spatial shape {arr.shape[:-1]}.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("the image contains NaN or infinite values; replace them first "
                         "(e.g. np.nan_to_num).")
    return arr, arr.shape[:-1]


def clip_box(box, shape) -> tuple:
    """Clip a box to an image and check it.

    Parameters
    ----------
    box : sequence of int
        ``(row0, col0, row1, col1)`` in data pixels, end exclusive. On a stack of planes the plane
        indices come first: ``(plane, row0, col0, row1, col1)`` for a (planes, rows, cols) stack.
    shape : tuple of int
        Spatial shape of the image (without channels).

    Returns
    -------
    tuple of int
        The box, clipped to the image.

    Raises
    ------
    ValueError
        If the box has the wrong length, is reversed, lies outside the image or has no area.

    Examples
    --------
    >>> clip_box((-5, 10, 20, 300), (100, 200))
    (0, 10, 20, 200)
    """
    shape = tuple(int(s) for s in shape)
    lead = len(shape) - 2
    try:
        vals = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"a box must be a sequence of numbers, got {box!r}.") from None
    if len(vals) != lead + 4:
        want = ("(row0, col0, row1, col1)" if lead == 0
                else f"{lead} plane index(es) then (row0, col0, row1, col1)")
        raise ValueError(f"a box for an image of spatial shape {shape} needs {lead + 4} values: {want}; "
                         f"got {len(vals)}.")
    if not np.isfinite(vals).all():
        raise ValueError(f"box {tuple(box)} contains NaN or infinity.")
    planes = [int(round(v)) for v in vals[:lead]]
    for i, (pl, n) in enumerate(zip(planes, shape[:lead])):
        if not 0 <= pl < n:
            raise ValueError(f"box {tuple(box)}: plane index {pl} on axis {i} is outside 0..{n - 1}.")
    r0, c0, r1, c1 = (int(round(v)) for v in vals[lead:])
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"box {tuple(box)} has no area: it needs row0 < row1 and col0 < col1 "
                         f"(end exclusive).")
    h, w = shape[-2:]
    r0, r1 = max(r0, 0), min(r1, h)
    c0, c1 = max(c0, 0), min(c1, w)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"box {tuple(box)} lies outside the image (rows 0..{h}, cols 0..{w}).")
    if (r1 - r0) < 3 or (c1 - c0) < 3:
        raise ValueError(f"box {tuple(box)} is too small for GrabCut (at least 3x3 pixels inside the image).")
    return (*planes, r0, c0, r1, c1)


def _box_list(boxes) -> list:
    """``boxes`` as a list of boxes; a single box passed on its own is refused with a hint."""
    if isinstance(boxes, np.ndarray):
        if boxes.ndim != 2:
            raise ValueError(f"boxes must be an (n, 4) array or a list of boxes; got an array of shape "
                             f"{boxes.shape} (for one box write [box]).")
        return [tuple(b) for b in boxes]
    boxes = list(boxes)
    if boxes and all(isinstance(v, (int, float, np.integer, np.floating)) for v in boxes):
        raise ValueError(f"boxes must be a list of boxes, got one box {tuple(boxes)}: write [box].")
    return boxes


def _check_trimap(trimap, shape):
    if trimap is None:
        return None
    tri = np.asarray(trimap)
    if tri.shape != tuple(shape):
        raise ValueError(f"trimap shape {tri.shape} does not match the image's spatial shape {tuple(shape)}.")
    if tri.dtype.kind not in "uib":
        raise ValueError(f"trimap must be integer labels (0 unknown, 1 foreground, 2 background), "
                         f"got {tri.dtype}.")
    bad = ~np.isin(tri, (0, TRIMAP_FOREGROUND, TRIMAP_BACKGROUND))
    if bad.any():
        raise ValueError(f"trimap may only hold 0 (unknown), 1 (foreground) and 2 (background); found "
                         f"{np.unique(tri[bad])[:5].tolist()}.")
    return tri


def _check_params(n_iter, params):
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in params.items() if v is not None}
    defaults = {**DEFAULT_PARAMS, **(NUCLEUS_DEFAULTS if given.get("nucleus_channel") is not None else {})}
    out = {**defaults, **given}
    if int(n_iter) < 1:
        raise ValueError(f"n_iter must be at least 1, got {n_iter}.")
    if int(out["n_components"]) < 1:
        raise ValueError(f"n_components must be at least 1, got {out['n_components']}.")
    if not out["gamma"] >= 0:
        raise ValueError(f"gamma must be >= 0, got {out['gamma']}.")
    if int(out["margin"]) < 1:
        raise ValueError(f"margin must be at least 1 pixel (the background model is learnt there), "
                         f"got {out['margin']}.")
    if not 0 < out["core_fraction"] <= 1:
        raise ValueError(f"core_fraction must be in (0, 1], got {out['core_fraction']}.")
    if not out["shape_prior"] >= 0:
        raise ValueError(f"shape_prior must be >= 0, got {out['shape_prior']}.")
    if not out["min_contrast"] >= 0:
        raise ValueError(f"min_contrast must be >= 0 (0 keeps every mask), got {out['min_contrast']}.")
    if not out["prior_weight"] >= 0:
        raise ValueError(f"prior_weight must be >= 0 (0 ignores the prior), got {out['prior_weight']}.")
    if out["features"] not in ("auto", "raw", "stain"):
        raise ValueError(f"features must be 'auto', 'raw' or 'stain', got {out['features']!r}.")
    nc = out["nucleus_channel"]
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, (int, np.integer))):
        raise ValueError(f"nucleus_channel must be a channel index (int) or None, got {nc!r}.")
    out["n_components"], out["margin"] = int(out["n_components"]), int(out["margin"])
    return out


def resolve_channels(arr, params):
    """``params`` with ``features`` resolved to "raw"/"stain" for the (..., channels) image ``arr``, its
    ``full_scale`` (for stain features) and ``nucleus_channel`` checked against the channels and made
    non-negative."""
    from .features import _full_scale, resolve_features

    out = dict(params)
    n = arr.shape[-1]
    nc = out["nucleus_channel"]
    if nc is not None:
        if n < 2:
            raise ValueError("nucleus_channel needs an image with 2 or more channels (give channel_axis).")
        if not -n <= nc < n:
            raise ValueError(f"nucleus_channel={nc} is out of range for an image with {n} channels.")
        out["nucleus_channel"] = int(nc) % n
    out["features"] = "raw" if (nc is not None and out["features"] == "auto") else resolve_features(
        out["features"], arr)
    out["full_scale"] = _full_scale(arr) if out["features"] == "stain" else 1.0
    return out




def check_prior(prior, shape):
    """The prior as a float32 array of the image's spatial ``shape`` with values in [0, 1], or None.

    Parameters
    ----------
    prior : array_like or None
        Foreground probability per pixel (bool is taken as 0/1).
    shape : tuple of int
        The image's spatial shape (rows, cols; planes first on a stack).

    Raises
    ------
    ValueError
        For a prior of another shape, a non-numeric one, NaN/infinite values or values outside [0, 1].
    """
    if prior is None:
        return None
    p = np.asarray(prior)
    if p.dtype == bool:
        p = p.astype(np.float32)
    if p.dtype.kind not in "uif":
        raise ValueError(f"prior must be a numeric foreground probability map, got dtype {p.dtype}.")
    if p.shape != tuple(shape):
        raise ValueError(f"prior shape {p.shape} does not match the image's spatial shape {tuple(shape)} "
                         "(the prior has the image's rows and columns, no channel axis).")
    p = p.astype(np.float32, copy=False)
    if not np.isfinite(p).all():
        raise ValueError("the prior contains NaN or infinite values; it must be a probability in [0, 1] "
                         "everywhere (use 0.5 where nothing is known).")
    lo, hi = float(p.min()), float(p.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"the prior must be a probability map in [0, 1], got values from {lo:g} to {hi:g} "
                         "(logits or a 0-255 image? apply a sigmoid or divide by 255 first).")
    return p
