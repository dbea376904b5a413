"""Model checkpoints: one ``.pt`` file that opens with ``torch.load(weights_only=True)``.

Layout (DESIGN.md)::

    {"format": "segsuite-model", "version": 1, "kind": "unet" | "maskrcnn", "config": {...},
     "normalization": {...}, "state_dict": {...}, "history": {...}}

U-Net checkpoints may carry a ``"resume"`` entry (last weights, optimizer state, epoch counters) so
training can continue where it stopped. Only tensors, numbers, strings, lists and dicts are stored, so
loading never runs code.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint_kind", "MODEL_FORMAT", "MODEL_VERSION"]

MODEL_FORMAT = "segsuite-model"
MODEL_VERSION = 1


def _to_cpu(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_cpu(v) for v in obj]
    return obj


def save_checkpoint(path, *, kind: str, config: dict, normalization: dict, state_dict: dict,
                    history: dict | None = None, **extra) -> Path:
    """Write a checkpoint atomically (temporary file, then rename onto ``path``).

    Parameters
    ----------
    path : str or Path
        Destination ``.pt`` file; its folder is created.
    kind : str
        ``"unet"`` or ``"maskrcnn"``.
    config, normalization : dict
        Model configuration and input normalisation (plain values only).
    state_dict : dict
        Model weights (moved to the CPU before saving).
    history : dict, optional
        Training history (per-epoch lists).
    **extra
        Further plain entries, e.g. ``resume``.

    Returns
    -------
    Path
        ``path``. An interrupted save leaves any previous file under ``path`` intact.
    """
    import torch

    from ..io import atomic_path

    data = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "kind": str(kind), "config": dict(config),
            "normalization": dict(normalization), "state_dict": _to_cpu(dict(state_dict)),
            "history": dict(history or {})}
    data.update(_to_cpu(extra))
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return path


def _open(path) -> dict:
    import torch

    if isinstance(path, dict):
        data = path
        path = "<checkpoint dict>"
    else:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such checkpoint file.")
        if path.is_dir():
            raise ValueError(f"{path}: is a folder, expected a .pt checkpoint file.")
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path}: not a readable model checkpoint (corrupt, truncated or not a torch file).")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ValueError(
                f"{path}: refused: the file holds Python objects other than tensors and plain values, "
                "so loading it could run code. Only napari-segsuite checkpoints are accepted."
            ) from exc
        except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: not a readable model checkpoint (corrupt or not a torch file: "
                             f"{type(exc).__name__}).") from exc
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a napari-segsuite model checkpoint (no 'format': '{MODEL_FORMAT}' entry); "
                         "train one with `segsuite train` or the U-Net widget.")
    if not isinstance(data.get("version"), int) or data["version"] > MODEL_VERSION:
        raise ValueError(f"{path}: checkpoint version {data.get('version')!r} is newer than this software reads; "
                         "update napari-segsuite.")
    for key in ("kind", "config", "normalization", "state_dict"):
        if key not in data:
            raise ValueError(f"{path}: incomplete checkpoint (no {key!r} entry).")
    return data


def read_checkpoint_kind(path) -> str:
    """The ``kind`` of a checkpoint (``"unet"``, ``"maskrcnn"``), after checking it is one of ours."""
    return str(_open(path)["kind"])


def load_checkpoint(path, kind: str | None = "unet") -> dict:
    """Open a checkpoint safely (``torch.load(weights_only=True)``) and check it.

    Parameters
    ----------
    path : str, Path or dict
        A ``.pt`` file (or an already loaded checkpoint dict, which is checked the same way).
    kind : str or None
        Expected model kind; None accepts any.

    Returns
    -------
    dict
        The checkpoint (tensors on the CPU).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is corrupt, not a torch file, holds arbitrary Python objects, is not a
        napari-segsuite checkpoint, is newer than this version, or is of another kind.
    """
    data = _open(path)
    if kind is not None and data["kind"] != kind:
        name = path if not isinstance(path, dict) else "the checkpoint"
        raise ValueError(f"{name}: this is a {data['kind']!r} model, not a {kind!r} model; "
                         f"use the {data['kind']} tools (or `segsuite predict`, which reads the kind).")
    return data
