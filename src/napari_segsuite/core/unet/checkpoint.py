"""U-Net checkpoints: the project's one model file format (:mod:`napari_segsuite.core.training.checkpoint`).

U-Net checkpoints may carry a ``"resume"`` entry (last weights, optimizer state, epoch counters) so
training can continue where it stopped, and a ``"training"`` entry (the parameters of the run).
"""

from __future__ import annotations

from pathlib import Path

from ..training.checkpoint import MODEL_FORMAT, MODEL_VERSION, open_checkpoint, write_checkpoint

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint_kind", "MODEL_FORMAT", "MODEL_VERSION"]


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
        Training history.
    **extra
        Further plain entries, e.g. ``training``, ``resume``.

    Returns
    -------
    Path
        ``path``. An interrupted save leaves any previous file under ``path`` intact.
    """
    data = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "kind": str(kind), "config": dict(config),
            "normalization": dict(normalization), "state_dict": dict(state_dict),
            "history": dict(history or {}), **extra}
    return write_checkpoint(path, data)


def read_checkpoint_kind(path) -> str:
    """The ``kind`` of a checkpoint (``"unet"``, ``"maskrcnn"``), after checking it is one of ours."""
    return str(open_checkpoint(path)["kind"])


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
    return open_checkpoint(path, kind)
