"""Mask R-CNN checkpoints in the project's format (DESIGN.md), written atomically, loaded safely.

``{"format": "segsuite-model", "version": 1, "kind": "maskrcnn", "config": {...}, "normalization": {...},
"state_dict": {...}, "history": {...}}``, loaded with ``torch.load(weights_only=True)`` so opening a file
can never run code.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_path

__all__ = ["save_maskrcnn_checkpoint", "load_maskrcnn_checkpoint", "model_from_checkpoint",
           "make_checkpoint", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "KIND"]

CHECKPOINT_FORMAT = "segsuite-model"
CHECKPOINT_VERSION = 1
KIND = "maskrcnn"


def make_checkpoint(model, normalization: dict, history: dict | None = None, half: bool = False) -> dict:
    """Build the checkpoint dict of a model (tensors copied to the CPU; float16 storage with ``half``)."""
    import torch

    state = {}
    for key, value in model.state_dict().items():
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
    import torch

    _validate(checkpoint, "checkpoint")
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return path


def _validate(data, source) -> dict:
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{source}: not a napari-segsuite model checkpoint.")
    if int(data.get("version", 0)) > CHECKPOINT_VERSION:
        raise ValueError(f"{source}: checkpoint version {data['version']} is newer than this software reads.")
    if data.get("kind") != KIND:
        raise ValueError(f"{source}: this is a {data.get('kind')!r} model, not a Mask R-CNN ('maskrcnn') model; "
                         "use it with its own tool (e.g. the U-Net widget or `segsuite predict`).")
    for key in ("config", "state_dict"):
        if not isinstance(data.get(key), dict):
            raise ValueError(f"{source}: the checkpoint has no {key!r}.")
    return data


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
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file.")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected a model .pt file.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, AttributeError,
            TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable napari-segsuite model (corrupt, or holds objects that are "
                         f"refused for safety): {first[:200]}") from exc
    return _validate(data, str(path))


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

    if not isinstance(checkpoint, dict):
        checkpoint = load_maskrcnn_checkpoint(checkpoint)
    else:
        _validate(checkpoint, "checkpoint")
    model = build_maskrcnn(checkpoint["config"], download=False)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in checkpoint["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"the checkpoint's weights do not fit its configuration: {str(exc)[:300]}") from exc
    model.segsuite_normalization = dict(checkpoint.get("normalization") or {})
    return model.to(device).eval()
