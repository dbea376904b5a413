"""U-Net training batches and their loss: the per-pixel loss mask is the region (partial labels).

:func:`prepare_plane` turns one training plane into what batches are cut from (image, class-target labels,
border weight map, region); :func:`build_batch` samples and augments patches; :func:`masked_cross_entropy`
is the weighted cross-entropy averaged over the pixels of the loss mask only.
"""

from __future__ import annotations

import numpy as np

from ..weightmap import class_weight_values, unet_weight_map
from .training_items import class_targets, separate_touching

__all__ = ["prepare_plane", "build_batch", "masked_cross_entropy"]


def prepare_plane(image, labels, region, *, n_classes: int, w0: float, sigma: float, class_weights="balanced"):
    """``(image, target labels, weights float32, region uint8 or None)`` for one training plane.

    The border weight map comes from all the labels; with a region, ``"balanced"`` class weights are
    counted inside the region only (the unlabelled area, all background in the labels, would skew them).
    """
    separated = separate_touching(labels)
    if region is not None:
        class_weights = class_weight_values(separated[region != 0], class_weights)
    weights = unet_weight_map(separated, w0=w0, sigma=sigma, class_weights=class_weights).astype(np.float32)
    reg = None if region is None else region.astype(np.uint8)
    return image, (separated if n_classes == 2 else labels), weights, reg


def build_batch(rng: np.random.Generator, augmenter, prepared, batch_size: int, n_classes: int):
    """Sample ``batch_size`` augmented patches from ``prepared`` planes (see :func:`prepare_plane`).

    Returns
    -------
    tuple of numpy arrays
        ``x`` float32 ``(B, C, P, P)``, ``y`` int64 class targets ``(B, P, P)``, ``w`` float32 border weights
        ``(B, P, P)`` and ``m`` float32 loss mask ``(B, P, P)``: the patch's region (transformed like the
        labels), all ones for a plane without region.
    """
    xs, ys, ws, ms = [], [], [], []
    for _ in range(batch_size):
        image, labels, weights, region = prepared[int(rng.integers(len(prepared)))]
        patch = augmenter(rng, image, labels, weights, region)
        xs.append(patch[0])
        ys.append(class_targets(patch[1], n_classes))
        ws.append(patch[2])
        ms.append(np.ones(patch[1].shape, np.float32) if region is None else patch[3].astype(np.float32))
    return np.stack(xs), np.stack(ys), np.stack(ws), np.stack(ms)


def masked_cross_entropy(logits, target, weights, mask):
    """Border-weighted cross-entropy averaged over the pixels where ``mask`` is 1.

    ``sum(ce * weights * mask) / sum(mask)``: with a mask of ones this is the plain mean; pixels outside the
    mask (unlabelled area) give no loss and no gradient. A batch without any masked-in pixel gives 0.
    """
    import torch

    ce = torch.nn.functional.cross_entropy(logits.float(), target, reduction="none")
    return (ce * weights * mask).sum() / mask.sum().clamp(min=1.0)
