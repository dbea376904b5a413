"""Large lazy layers in the model widgets: predicted block by block into an OME-Zarr label image on disk.

A dask- or zarr-backed Image layer (level 0 of a multiscale one) with more than :data:`LARGE_PIXELS`
pixels per plane is never read whole: :func:`predict_large` runs
:func:`napari_segsuite.core.distributed.iter_predict_distributed` on the layer's data in the widget's thread
worker with ``scheduler="inprocess"`` (the blocks one after the other in that thread, no dask scheduler,
event loop or process inside napari), one progress event per block; Cancel stops between blocks and a
rerun resumes. The result is a Labels layer whose data are the output's ``s0, s1, ...`` zarr arrays.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["LARGE_PIXELS", "BLOCK_SIZE", "is_large", "cache_dir", "check_output", "predict_large"]

#: pixels per plane above which a lazy (dask or zarr) layer is predicted block by block into a file
LARGE_PIXELS = 4096 * 4096
#: block side of that prediction (the core default); tests lower both
BLOCK_SIZE = 2048


def is_large(image, channel_axis) -> bool:
    """True for a dask or zarr array with more than :data:`LARGE_PIXELS` pixels per plane."""
    if isinstance(image, np.ndarray) or type(image).__module__.split(".")[0] not in ("dask", "zarr"):
        return False
    spatial = image.shape[:-1] if channel_axis is not None else image.shape
    return len(spatial) >= 2 and spatial[-2] * spatial[-1] > LARGE_PIXELS


def cache_dir() -> Path:
    """Where large predictions go unless the widget names a folder (the system's temporary folder)."""
    return Path(tempfile.gettempdir()) / "napari-segsuite" / "large-predictions"


def _is_segsuite_output(path: Path) -> bool:
    from napari_segsuite.core.distributed.output import work_dir

    if (work_dir(path) / "job.json").exists():
        return True
    try:
        return "segsuite" in json.loads((path / "zarr.json").read_text()).get("attributes", {})
    except (OSError, ValueError):
        return False


def check_output(path: Path) -> Path:
    """Refuse an existing file or folder that is not a napari-segsuite prediction (it would be replaced)."""
    if path.exists() and not _is_segsuite_output(path):
        raise ValueError(f"{path} exists and is not a napari-segsuite prediction; choose a new folder name "
                         "in 'large images: write labels to' (e.g. ending in .ome.zarr).")
    return path


def _model_file(checkpoint: dict, model_file, write) -> Path:
    """The checkpoint's file: the one it was loaded from, else a copy in the cache named by its content."""
    if model_file is not None and Path(model_file).exists():
        return Path(model_file)
    folder = cache_dir() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(suffix=".pt", dir=folder)[1])
    try:
        write(tmp, checkpoint)
        target = folder / f"model-{hashlib.sha1(tmp.read_bytes()).hexdigest()[:16]}.pt"
        if not target.exists():  # the same model keeps its file (and mtime): its jobs resume
            tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _axes(image, channel_axis) -> str:
    spatial = image.ndim - (1 if channel_axis is not None else 0)
    if spatial > 4:
        raise ValueError(f"a large image of {image.ndim} dimensions: at most 4 (t, z, y, x) can be predicted.")
    return "tzyx"[4 - spatial:] + ("c" if channel_axis is not None else "")


def _iter_large(checkpoint, model_file, write, image, channel_axis, output, name, layer_kwargs, **kwargs):
    """The worker's job: write the model file if needed, then predict the blocks into ``output``."""
    from napari_segsuite.core.distributed import array_source, iter_predict_distributed

    model = _model_file(checkpoint, model_file, write)
    axes = _axes(image, channel_axis)
    spatial = len(axes.replace("c", ""))
    scale = list(layer_kwargs["scale"])[-spatial:] + ([1.0] if "c" in axes else [])
    source = array_source(image, axes, scale=scale, translate=list(layer_kwargs["translate"])[-spatial:])
    if output is None:  # one folder per job (model, image, options): a rerun finds and resumes it
        key = json.dumps([str(model), model.stat().st_mtime_ns, source.record(), kwargs], default=str)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "image"
        output = cache_dir() / f"{safe}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.ome.zarr"
        output.parent.mkdir(parents=True, exist_ok=True)
    return (yield from iter_predict_distributed(model, source, output, scheduler="inprocess",
                                                block_size=BLOCK_SIZE, **kwargs))


def open_levels(path) -> list:
    """The output's level arrays ``s0, s1, ...``, opened read-only."""
    import zarr

    group = zarr.open_group(store=str(path), mode="r")
    keys = sorted((k for k in group.array_keys() if re.fullmatch(r"s\d+", k)), key=lambda k: int(k[1:]))
    return [group[k] for k in keys]


def predict_large(widget, layer, image, channel_axis, place):
    """Start the block-by-block prediction of ``image`` (a large lazy layer's data) in ``widget``'s worker.

    The result is added as a Labels layer over the output's zarr levels, on the layer's scale and
    translate (and plane, for one plane of a stack). Returns the worker, or None if refused.
    """
    chosen = str(widget.large_output.value).strip()
    try:
        output = None if chosen in ("", ".") else check_output(Path(chosen))
        _axes(image, channel_axis)
    except ValueError as exc:
        widget.report(exc)
        return None
    options = {k: v for k, v in widget.predict_options().items() if k not in ("return_table", "diameter")}
    layer_kwargs = place.layer_kwargs

    def returned(path):
        levels = open_levels(path)
        if not widget.in_viewer(layer):
            return
        data = []
        for level in levels:
            if place.lead:  # one plane of a stack: shown on that plane only, still unread
                import dask.array as da

                level = da.from_zarr(level)
            data.append(place(level)[0])
        widget._add_labels(data if len(data) > 1 else data[0], f"{layer.name} {widget.title}",
                           multiscale=len(data) > 1, **layer_kwargs)
        widget.say(f"labels written to {path}")

    return widget.jobs.start(_iter_large, widget.checkpoint, widget.checkpoint_file, widget._write_checkpoint,
                             image, channel_axis, output, layer.name, layer_kwargs, device=widget.device.value,
                             on_returned=returned, **options)
