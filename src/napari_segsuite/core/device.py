"""Choosing the torch device."""

from __future__ import annotations

__all__ = ["select_device"]


def select_device(device: str = "auto"):
    """Return a ``torch.device`` for ``device``.

    Parameters
    ----------
    device : str
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU. Anything else (``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ``"mps"``) is checked for availability.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the device is not known or not available on this machine.
    """
    import torch

    name = (device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use 'auto' or 'cpu'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here.")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {device!r} was asked for but Apple MPS is not available here.")
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'.")
    return dev
