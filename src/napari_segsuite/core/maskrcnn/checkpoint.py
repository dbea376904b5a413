"""Mask R-CNN checkpoints in the project's one format (:mod:`napari_segsuite.core.training.checkpoint`).

``{"format": "segsuite-model", "version": 1, "kind": "maskrcnn", "config": {...}, "normalization": {...},
"state_dict": {...}, "history": {...}}``, loaded with ``torch.load(weights_only=True)`` so opening a file
can never run code.
"""

from __future__ import annotations

from pathlib import Path

from ..training.checkpoint import (MODEL_FORMAT, MODEL_VERSION, check_checkpoint, open_checkpoint,
                                   write_checkpoint)

__all__ = ["save_maskrcnn_checkpoint", "load_maskrcnn_checkpoint", "model_from_checkpoint",
           "make_checkpoint", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "KIND"]

CHECKPOINT_FORMAT = MODEL_FORMAT
CHECKPOINT_VERSION = MODEL_VERSION
KIND = "maskrcnn"


def make_checkpoint(model, normalization: dict, history: dict | None = None, half: bool = False,
                    state_dict: dict | None = None, **extra) -> dict:
    """Build the checkpoint dict of a model (tensors copied to the CPU; float16 storage with ``half``).

    ``state_dict`` (default: the model's own) gives other weights of the same model, e.g. a training's best;
    ``extra`` plain entries (``training``) are added as they are.
    """
    import torch

    state = {}
    for key, value in (model.state_dict() if state_dict is None else state_dict).items():
        value = value.detach().to("cpu").clone()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "kind": KIND,
        "config": dict(model.segsuite_config),
        "normalization": dict(normalization),
        "state_dict": state,
        "history": dict(history or {}),
        "torch_version": str(torch.__version__),
        **extra,
    }


def save_maskrcnn_checkpoint(path, checkpoint: dict) -> Path:
    """Write a checkpoint dict to ``path`` atomically (a temporary file, then a rename).

    Parameters
    ----------
    path : str or Path
        Destination ``.pt`` file.
    checkpoint : dict
        As returned by :func:`make_checkpoint` or the trainer.

    Returns
    -------
    Path
    """
    check_checkpoint(checkpoint, str(path), KIND)
    return write_checkpoint(path, checkpoint)


def load_maskrcnn_checkpoint(path) -> dict:
    """Read and check a Mask R-CNN checkpoint.

    Parameters
    ----------
    path : str or Path
        A ``.pt`` file written by napari-segsuite.

    Returns
    -------
    dict
        The checkpoint (``config``, ``normalization``, ``state_dict``, ``history``).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is corrupt, holds arbitrary pickled objects (refused by ``weights_only=True``), is not a
        napari-segsuite checkpoint, or is a model of another kind (e.g. a U-Net).
    """
    return open_checkpoint(path, KIND)


def model_from_checkpoint(checkpoint, device="cpu"):
    """Build the model a checkpoint describes and load its weights.

    Parameters
    ----------
    checkpoint : dict or str or Path
        A checkpoint dict or a path to one.
    device : str or torch.device
        Where to put the model.

    Returns
    -------
    torch.nn.Module
        The Mask R-CNN in eval mode, with ``segsuite_normalization`` set.

    Raises
    ------
    ValueError
        If the weights do not fit the configuration.
    """
    from .model import build_maskrcnn

    checkpoint = open_checkpoint(checkpoint, KIND)
    model = build_maskrcnn(checkpoint["config"], download=False)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in checkpoint["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"the checkpoint's weights do not fit its configuration: {str(exc)[:300]}") from exc
    model.segsuite_normalization = dict(checkpoint.get("normalization") or {})
    model.segsuite_diameter = (checkpoint.get("training") or {}).get("diameter")
    return model.to(device).eval()
