"""Training and prediction parameters of the model backends: their defaults (defined once, read by the
trainers, the predictors, the CLI and the widgets) and
the checks every trainer applies to the parameters they share.

Both trainers take the same names for the same things: ``epochs``, ``steps_per_epoch``, ``batch_size``,
``learning_rate``, ``patch_size``, ``val_fraction`` / ``val_data``, ``patience``, ``time_limit`` (wall-clock
seconds in core; the CLI takes minutes), ``seed``, ``device``, ``init``, ``checkpoint_path``,
``channel_axis``.
"""

from __future__ import annotations

import math

__all__ = ["SHARED_DEFAULTS", "UNET_DEFAULTS", "MASKRCNN_DEFAULTS", "FINETUNE_DEFAULTS", "UNET_PATCH_SIZE_CPU",
           "UNET_PATCH_SIZE_GPU", "UNET_PREDICT_DEFAULTS", "sizes_for_diameter", "check_training_params"]

#: U-Net prediction: cell probability threshold, smallest instance kept (pixels), smallest distance between two
#: seeds of the watershed split (pixels)
UNET_PREDICT_DEFAULTS = {"threshold": 0.5, "min_size": 10, "min_distance": 4}


def sizes_for_diameter(diameter: float) -> dict:
    """Size settings for cells about ``diameter`` pixels across: ``min_size`` drops pieces smaller than a
    quarter of such a cell's area, ``min_distance`` keeps watershed seeds about 0.4 diameters apart (on the
    sample nuclei, seeds 6-8 px apart for ~18 px cells split best: AP@0.5 0.967 against 0.937 at 4 px).

    Examples
    --------
    >>> sizes_for_diameter(20)
    {'min_size': 79, 'min_distance': 8}
    """
    if not diameter > 0:
        raise ValueError(f"the cell diameter must be a positive number of pixels, got {diameter!r}.")
    return {"min_size": int(round(math.pi * (diameter / 2) ** 2 / 4)),
            "min_distance": max(1, int(round(0.4 * diameter)))}

SHARED_DEFAULTS = {"epochs": 30, "steps_per_epoch": 25, "val_fraction": 0.2, "time_limit": None, "seed": 0,
                   "device": "auto"}

#: U-Net patch side when ``patch_size`` is None: by device
UNET_PATCH_SIZE_CPU, UNET_PATCH_SIZE_GPU = 128, 256

#: U-Net: ``patch_size`` None = by device (above); ``base``/``depth`` None = by device (``unet.model``).
UNET_DEFAULTS = {**SHARED_DEFAULTS, "batch_size": 8, "learning_rate": 1e-3, "patch_size": None,
                 "patience": 10,
                 "n_classes": 2, "base": None, "depth": None, "w0": 10.0, "sigma": 5.0, "min_size": 10}

#: Mask R-CNN: no early stopping by default (``patience`` 0), as before the loops were shared; batch-norm
#: statistics learn (``freeze_norm`` False) except when fine-tuning (below).
MASKRCNN_DEFAULTS = {**SHARED_DEFAULTS, "batch_size": 4, "learning_rate": 2e-3, "patch_size": 128,
                     "patience": 0, "freeze_norm": False}

#: Fine-tuning a loaded model on the user's corrections (one button in the model widgets, issue 16): a short
#: schedule (seconds on a GPU, a minute or two on a CPU) at a lower learning rate than training from scratch,
#: no early stopping; per kind, on top of that kind's defaults above. The Mask R-CNN's batch-norm statistics stay
#: as loaded (``freeze_norm``, :func:`~napari_segsuite.core.training.loop.freeze_batch_norm`): updated from one
#: image's crops they cost the shipped model held-out AP (benchmarks/finetune_edits.py, ndev t00 and two HeLa crops,
#: 2 seeds, learning from the whole half: 0.00 / -0.04 to +0.05 / +0.03 to +0.09 with them updating, +0.03 /
#: +0.14 to +0.17 / +0.03 to +0.14 frozen; around the edits with no margin -0.68 on ndev updating, 0.00 to +0.03
#: frozen).
FINETUNE_DEFAULTS = {
    "unet": {"epochs": 3, "steps_per_epoch": 10, "learning_rate": 3e-4, "patience": 0},
    "maskrcnn": {"epochs": 3, "steps_per_epoch": 10, "learning_rate": 5e-4, "patience": 0, "freeze_norm": True},
}


def check_training_params(*, epochs, steps_per_epoch, batch_size, learning_rate, patience, time_limit,
                          val_fraction) -> None:
    """Refuse shared training parameters that make no sense, with a message saying what is allowed.

    Raises
    ------
    ValueError
        ``epochs``, ``steps_per_epoch`` or ``batch_size`` below 1, a learning rate that is not a positive
        number, a negative ``patience``, a time limit that is not positive, ``val_fraction`` outside [0, 1).
    """
    if epochs < 1 or steps_per_epoch < 1 or batch_size < 1:
        raise ValueError("epochs, steps_per_epoch and batch_size must be at least 1.")
    try:
        ok = math.isfinite(learning_rate) and learning_rate > 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"the learning rate must be a positive number, got {learning_rate!r}.")
    if patience < 0:
        raise ValueError(f"patience must be >= 0 epochs (0: no early stopping), got {patience!r}.")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"the time limit must be positive seconds (None: no limit), got {time_limit!r}.")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
