"""The one workaround for the triton / Mesa crash: load torch's compiler stack with triton hidden.

Why: the CUDA builds of torch pull in triton, which bundles its own LLVM. Inside napari running on Mesa
(llvmpipe, itself LLVM-based), importing triton after the GL context exists segfaults the whole process
(two LLVM copies); importing it before the context works, and ``GALLIUM_DRIVER=softpipe`` does not help.
Two innocent-looking calls import triton: ``import torchvision`` (through ``torch._dynamo``) and the
first step of a ``torch.optim`` optimizer (it imports ``torch._dynamo``, whose triton probe is cached).

What: :func:`load_torch_without_triton` imports ``torch._dynamo`` (and, if asked, torchvision's detection
models) while ``sys.modules["triton"]`` is ``None``, so torch records "no triton" once and never tries
again; then the entry is removed, so triton stays importable for anyone who asks for it explicitly.
Triton only serves ``torch.compile``, which this project does not use.

Why this and not the alternatives: a hand-written optimizer (the earlier U-Net workaround) covered only
one of the two paths and its own state format; a permanent ``sys.modules["triton"] = None`` would break
another plugin in the same napari process that compiles models. Call this on the main thread before a
worker starts (the widgets do) or at the start of training (the trainers do; harmless when already done).
"""

from __future__ import annotations

import sys

__all__ = ["load_torch_without_triton"]


def load_torch_without_triton(torchvision: bool = False) -> None:
    """Import ``torch._dynamo`` (and ``torchvision.models.detection``) with triton hidden; idempotent.

    Parameters
    ----------
    torchvision : bool
        Also import torchvision's detection models (Mask R-CNN).

    Notes
    -----
    If triton is already imported (e.g. by the user before napari opened its window) nothing is hidden:
    importing it again is then harmless. Modules already imported are not reloaded.
    """
    wanted = ["torch._dynamo"] + (["torchvision.models.detection"] if torchvision else [])
    missing = [m for m in wanted if m not in sys.modules]
    if not missing:
        return
    hide = "triton" not in sys.modules
    if hide:
        sys.modules["triton"] = None  # `import triton` now raises ImportError
    try:
        import importlib

        for name in missing:
            importlib.import_module(name)
    finally:
        if hide and "triton" in sys.modules and sys.modules["triton"] is None:
            del sys.modules["triton"]
