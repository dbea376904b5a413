"""The whole image's normalisation range per plane, computed the way the single-process backend does
it, so every block is scaled exactly as the whole image would be (blocks carry it as
``normalization["range"]``)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plane_range"]


def plane_range(model_path: str, source, plane: tuple) -> tuple[list, list]:
    """Per-channel ``(low, high)`` of one plane, from the same strided subsample as the model's backend.

    U-Net: :meth:`napari_segsuite.core.unet.data.PlaneSource.plane_range` (subsample to <= 4 Mpx, then
    ``percentile_range`` with the checkpoint's ``min_range``). Mask R-CNN: ``prepare_image`` (channel
    conversion, subsample to ~1 Mpx, ``percentile_normalization``).
    """
    from ..unet.checkpoint import load_checkpoint

    ckpt = load_checkpoint(model_path, kind=None)
    norm = ckpt["normalization"]
    h, w = source.plane_shape
    if ckpt["kind"] == "unet":
        from ..unet.data import _MAX_STAT_PIXELS, percentile_range

        step = max(1, int(np.ceil(np.sqrt(h * w / _MAX_STAT_PIXELS))))
        sub = source.read(plane, slice(0, h, step), slice(0, w, step)).astype(np.float32)
        if sub.dtype.kind == "f" and not np.all(np.isfinite(sub)):
            raise ValueError(
                f"{source.store}: the image contains NaN or infinite values; replace them first."
            )
        lo, hi = percentile_range(sub if sub.ndim == 3 else sub[None], norm)
    else:
        from ..maskrcnn.targets import percentile_normalization

        step = max(1, int(math.sqrt(h * w / 1_000_000)))
        sub = source.read(plane, slice(0, h, step), slice(0, w, step)).astype(np.float32)
        sub = sub if sub.ndim == 3 else sub[None]
        channels = int(ckpt["config"]["in_channels"])
        if sub.shape[0] == 3 and channels == 1:
            sub = sub.mean(axis=0, keepdims=True)
        elif sub.shape[0] == 1 and channels == 3:
            sub = np.repeat(sub, 3, axis=0)
        lo, hi = percentile_normalization(sub, float(norm.get("low", 1.0)), float(norm.get("high", 99.8)))
    return [float(v) for v in lo], [float(v) for v in hi]
