"""What a worker does for one block: read its region, predict it with the single-process backend, keep the
objects it owns and store them (with a marker written last, so a block is either finished or redone)."""

from __future__ import annotations

import importlib
import json
import os
import threading
import uuid
from pathlib import Path

import numpy as np

__all__ = ["predict_block", "owned_objects", "block_done", "load_block", "set_torch_threads"]

_MODELS: dict = {}
_LOCK = threading.Lock()


def set_torch_threads() -> int | None:
    """Give torch as many intra-op threads as this dask worker has threads (none outside a worker)."""
    import torch

    try:
        from distributed import get_worker

        worker = get_worker()
        n = getattr(getattr(worker, "state", None), "nthreads", None) or worker.nthreads
    except (ImportError, ValueError, AttributeError):
        return None
    if n and torch.get_num_threads() != int(n):
        torch.set_num_threads(int(n))
    return n


def _model(model_path: str, device):
    """(kind, checkpoint, loaded model, lock), loaded once per worker process and model file."""
    key = (model_path, os.stat(model_path).st_mtime_ns, str(device))
    with _LOCK:
        if key not in _MODELS:
            from ..unet.checkpoint import load_checkpoint

            ckpt = load_checkpoint(model_path, kind=None)
            if ckpt["kind"] == "unet":
                from ..unet.infer import load_unet

                loaded = load_unet(ckpt, device)
            elif ckpt["kind"] == "maskrcnn":
                from ..device import select_device
                from ..maskrcnn.checkpoint import model_from_checkpoint

                loaded = model_from_checkpoint(ckpt, select_device(device))
            else:
                raise ValueError(f"{model_path}: unknown model kind {ckpt['kind']!r}.")
            _MODELS.clear()
            _MODELS[key] = (ckpt["kind"], ckpt, loaded, threading.Lock())
        return _MODELS[key]


def predict_region(model_path: str, image: np.ndarray, norm_range, *, device="cpu", **kwargs) -> np.ndarray:
    """Instance labels of ``image`` (``(Y, X)`` or ``(C, Y, X)``) by the checkpoint's own backend.

    ``norm_range`` is the whole image's per-channel ``(low, high)``, so the block is scaled as the whole
    image would be. The backend is the one :mod:`napari_segsuite.core.predict` dispatches to.
    """
    from ..predict import BACKENDS
    from ..progress import run

    kind, ckpt, loaded, lock = _model(model_path, device)
    module, name = BACKENDS[kind]
    backend = getattr(importlib.import_module(module), name)
    norm = {
        **ckpt["normalization"],
        "range": [list(map(float, norm_range[0])), list(map(float, norm_range[1]))],
    }
    channel_axis = 0 if image.ndim == 3 else None
    with lock:  # one block at a time per loaded model (torch uses the worker's threads inside it)
        if kind == "unet":
            net, _, dev = loaded
            model = (net, {**ckpt, "normalization": norm}, dev)
        else:
            loaded.segsuite_normalization = norm
            model = loaded
            kwargs.setdefault("device", next(loaded.parameters()).device)
        return run(backend(model, image, channel_axis=channel_axis, **kwargs))


def owned_objects(labels: np.ndarray, block, plane_shape) -> tuple[np.ndarray, int, int]:
    """Keep the objects of a block's region prediction whose box centre lies in the block's core.

    Returns
    -------
    kept : uint32 array of the region's shape
        The owned objects, numbered 1..n in the order of their ids in ``labels``.
    n : int
    cut : int
        Owned objects touching a side of the region that is not the image's edge: the halo was smaller
        than they are, so they may be incomplete.
    """
    from scipy import ndimage as ndi

    ry0, ry1, rx0, rx1 = block.region
    h, w = plane_shape
    lut = np.zeros(int(labels.max()) + 1, np.uint32)
    n = cut = 0
    for i, box in enumerate(ndi.find_objects(labels)):
        if box is None:
            continue
        ys, xs = box
        if not block.owns(ry0 + (ys.start + ys.stop) / 2.0, rx0 + (xs.start + xs.stop) / 2.0):
            continue
        n += 1
        lut[i + 1] = n
        if (
            (ys.start == 0 < ry0)
            or (ys.stop == labels.shape[0] and ry1 < h)
            or (xs.start == 0 < rx0)
            or (xs.stop == labels.shape[1] and rx1 < w)
        ):
            cut += 1
    return lut[labels], n, cut


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def block_done(work: Path, block) -> dict | None:
    """The summary of a finished block (its marker), or None if it has to be (re)done."""
    marker = Path(work) / f"{block.name}.done"
    if not marker.exists() or not (Path(work) / f"{block.name}.npz").exists():
        return None
    return json.loads(marker.read_text())


def load_block(work: Path, block) -> np.ndarray:
    """The owned objects a finished block stored (uint32, its region's shape, ids 1..n)."""
    with np.load(Path(work) / f"{block.name}.npz") as data:
        return data["labels"]


def predict_block(job: dict, block) -> dict:
    """Worker task: predict one block, store its owned objects, then its marker (written last).

    Idempotent: a block run twice (a retry after a worker died) writes the same files again.
    """
    set_torch_threads()
    source, work = job["source"], Path(job["work"])
    ry0, ry1, rx0, rx1 = block.region
    image = source.read(block.plane, slice(ry0, ry1), slice(rx0, rx1))
    labels = predict_region(
        job["model"], image, job["ranges"][block.plane], device=job["device"], **job["predict_kwargs"]
    )
    kept, n, cut = owned_objects(np.asarray(labels), block, source.plane_shape)
    _write_atomic(work / f"{block.name}.npz", lambda fh: np.savez_compressed(fh, labels=kept))
    summary = {"index": block.index, "objects": n, "cut": cut}
    _write_atomic(work / f"{block.name}.done", lambda fh: fh.write(json.dumps(summary).encode()))
    return summary
