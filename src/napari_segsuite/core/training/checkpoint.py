"""Model checkpoints: one ``.pt`` file per model, written atomically, opened only with ``weights_only=True``.

Layout (DESIGN.md)::

    {"format": "segsuite-model", "version": 1, "kind": "unet" | "maskrcnn", "config": {...},
     "normalization": {...}, "state_dict": {...}, "history": {...}}

plus optional plain entries (``training``: the parameters of the run; ``resume``: the state to continue a
training from). Only tensors, numbers, strings, lists and dicts are stored, so loading never runs code.
Every model's loader (``load_checkpoint``, ``load_maskrcnn_checkpoint``, ``predict_checkpoint``) goes
through :func:`open_checkpoint` here, so they refuse the same files with the same messages.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

__all__ = ["MODEL_FORMAT", "MODEL_VERSION", "KIND_NAMES", "open_checkpoint", "check_checkpoint",
           "write_checkpoint", "to_cpu"]

MODEL_FORMAT = "segsuite-model"
MODEL_VERSION = 1
#: how a kind is named in messages
KIND_NAMES = {"unet": "'unet' (U-Net)", "maskrcnn": "Mask R-CNN ('maskrcnn')"}


def to_cpu(obj):
    """A copy of ``obj`` with every tensor detached and on the CPU (lists and tuples become lists)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_cpu(v) for v in obj]
    return obj


def check_checkpoint(data, source: str = "the checkpoint", kind: str | None = None) -> dict:
    """Check that ``data`` is a napari-segsuite checkpoint this version reads (and of ``kind``).

    Parameters
    ----------
    data : object
        What ``torch.load`` returned (or a checkpoint dict given directly).
    source : str
        The file name (or a description) used in messages.
    kind : str, optional
        Expected model kind; None accepts any.

    Returns
    -------
    dict
        ``data``.

    Raises
    ------
    ValueError
        Not a dict with ``"format": "segsuite-model"``, a version that is not a whole number or newer
        than :data:`MODEL_VERSION`, a missing entry, or another kind than ``kind``.
    """
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{source}: not a napari-segsuite model checkpoint (no 'format': '{MODEL_FORMAT}' "
                         "entry); train one with `segsuite train` or a training widget.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{source}: checkpoint version {version!r} is not a version number this software "
                         "knows.")
    if version > MODEL_VERSION:
        raise ValueError(f"{source}: checkpoint version {version} is newer than this software reads; "
                         "update napari-segsuite.")
    if kind is not None and "kind" in data and data["kind"] != kind:  # the kind first: the most useful answer
        want = KIND_NAMES.get(kind, repr(kind))
        raise ValueError(f"{source}: this is a {data['kind']!r} model, not a {want} model; use the "
                         f"{data['kind']} tools (or `segsuite predict`, which reads the kind).")
    for key in ("kind", "config", "normalization", "state_dict"):
        if key not in data:
            raise ValueError(f"{source}: incomplete checkpoint (no {key!r} entry).")
    for key in ("config", "state_dict"):
        if not isinstance(data[key], dict):
            raise ValueError(f"{source}: the checkpoint's {key!r} entry is not a table.")
    return data


def open_checkpoint(path, kind: str | None = None) -> dict:
    """Open a checkpoint safely (``torch.load(weights_only=True)``) and check it.

    Parameters
    ----------
    path : str, Path or dict
        A ``.pt`` file, or an already loaded checkpoint dict (checked the same way).
    kind : str, optional
        Expected model kind (``"unet"``, ``"maskrcnn"``); None accepts any.

    Returns
    -------
    dict
        The checkpoint (tensors on the CPU).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        A folder, a corrupt/truncated/empty file or not a torch file, a file holding Python objects
        other than tensors and plain values (refused unread: loading it could run code), not a
        napari-segsuite checkpoint, a newer version, or a model of another kind.
    """
    import torch

    if isinstance(path, dict):
        return check_checkpoint(path, "the checkpoint", kind)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file.")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected a .pt checkpoint file.")
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[:2]
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):  # a bare/legacy pickle
            raise ValueError(f"{path}: refused for safety: an old-style pickled torch file (it holds Python "
                             "objects, so loading it could run code). Only napari-segsuite checkpoints are "
                             "accepted.")
        raise ValueError(f"{path}: not a readable model checkpoint (corrupt, truncated or not a torch file).")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: refused for safety: the file holds Python objects other than tensors and "
                         "plain values, so loading it could run code. Only napari-segsuite checkpoints are "
                         "accepted.") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError, AttributeError,
            TypeError) as exc:
        raise ValueError(f"{path}: not a readable model checkpoint (corrupt or not a torch file: "
                         f"{type(exc).__name__}).") from exc
    return check_checkpoint(data, str(path), kind)


def write_checkpoint(path, checkpoint: dict) -> Path:
    """Write a checkpoint dict to ``path`` atomically (a temporary file beside it, then a rename).

    Parameters
    ----------
    path : str or Path
        Destination ``.pt`` file; its folder is created.
    checkpoint : dict
        A complete checkpoint (checked with :func:`check_checkpoint` first).

    Returns
    -------
    Path
        ``path``. An interrupted write leaves any previous file under ``path`` intact and no temporary file.
    """
    import torch

    from ..io import atomic_path

    check_checkpoint(checkpoint, str(path))
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(to_cpu(checkpoint), tmp)
    return path
