"""Prediction on dask.distributed: blocks with a halo, predicted by the single-process backends on the
workers, stitched into one NGFF label image with globally unique ids."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

from ..progress import Progress, run
from .layout import block_grid, output_chunk
from .cluster import gather_results, wait_all
from .arraysource import array_source
from .source import SourceAxes, open_source, tiff_files

__all__ = ["iter_predict_distributed", "predict_distributed", "default_halo"]

DEFAULT_BLOCK_SIZE = 2048


def default_halo(model_path) -> int:
    """Halo for a model: the U-Net's receptive margin plus 32 px (objects up to ~64 px across keep exact
    probabilities); 64 px for Mask R-CNN (its own tile overlap)."""
    from ..unet.checkpoint import load_checkpoint

    ckpt = load_checkpoint(model_path, kind=None)
    if ckpt["kind"] == "unet":
        from ..unet.model import receptive_margin

        return receptive_margin(int(ckpt["config"]["depth"])) + 32
    return 64


def _paste_task(job, block, sources):
    from .output import level_arrays
    from .stitch import label_index, paste_core
    from .task import load_block

    work = Path(job["work"])
    loaded = [(other, load_block(work, other), mapping) for other, mapping in sources]
    core = paste_core(block, loaded)
    y0, y1, x0, x1 = block.core
    level_arrays(job["output"])[0][
        label_index(job["label_axes"], block.plane, slice(y0, y1), slice(x0, x1))
    ] = core
    return block.index


def _downsample_task(job, level, plane, rows, cols):
    from .output import level_arrays
    from .stitch import downsample_chunk

    arrays = level_arrays(job["output"])
    downsample_chunk(arrays[level - 1], arrays[level], job["label_axes"], plane, rows, cols)


def write_pyramid(client, job, arrays, axes: str, planes, chunk: int, retries: int = 0):
    """Fill levels ``s1, s2, ...`` of an output from the level above, one task per output chunk of each plane.

    A generator: yields each level number once that level is written (the next level reads it).
    """
    planes = list(planes)
    for level in range(1, len(arrays)):
        h, w = (arrays[level].shape[axes.index(a)] for a in "yx")
        futures = [client.submit(_downsample_task, job, level, plane, slice(y, min(y + chunk, h)),
                                 slice(x, min(x + chunk, w)), retries=retries, pure=False)
                   for plane in planes for y in range(0, h, chunk) for x in range(0, w, chunk)]
        wait_all(futures)
        yield level


def iter_predict_distributed(
    model_path,
    input,
    output,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    halo: int | None = None,
    device="auto",
    axes: str | None = None,
    threads_per_worker: int = 1,
    retries: int = 3,
    overwrite: bool = False,
    **predict_kwargs,
):
    """Generator form of :func:`predict_distributed`: yields :class:`Progress` per finished block."""
    from ..unet.checkpoint import load_checkpoint
    from . import norm, task
    from .output import finish_output, job_record, prepare_output
    from .stitch import global_maps

    model_path = Path(model_path)
    load_checkpoint(model_path, kind=None)  # a missing or foreign file is refused before any work
    files = tiff_files(input) if isinstance(input, (str, Path, list, tuple)) else None
    if files is not None:  # one task per file
        from .files import iter_predict_files

        with connect_client(workers, scheduler, threads_per_worker) as client:
            return (
                yield from iter_predict_files(
                    client,
                    model_path,
                    files,
                    output,
                    device=device,
                    retries=retries,
                    overwrite=overwrite,
                    **predict_kwargs,
                )
            )
    if isinstance(input, SourceAxes):
        source = input
    elif isinstance(input, (str, Path)):
        source = open_source(input, axes=axes)
    else:
        source = array_source(input, axes=axes)
    halo = default_halo(model_path) if halo is None else halo
    blocks = block_grid(source.outer_shape, source.plane_shape, block_size, halo)
    record = job_record(model_path, source, block_size, halo, predict_kwargs)
    work, state = prepare_output(output, record, source, output_chunk(int(block_size)), overwrite=overwrite)
    n = len(blocks)
    if state["complete"]:
        yield Progress(n, n, "already complete", {"resumed": True})
        return Path(output)
    job = {
        "model": str(model_path.resolve()),
        "source": source,
        "work": str(work),
        "device": device,
        "predict_kwargs": dict(predict_kwargs),
        "output": str(output),
        "label_axes": source.label_axes,
    }
    done = {b.index: s for b in blocks if (s := task.block_done(work, b)) is not None}
    token = uuid.uuid4().hex[:8]
    with connect_client(workers, scheduler, threads_per_worker) as client:
        planes = list(itertools.product(*(range(k) for k in source.outer_shape)))
        todo = [b for b in blocks if b.index not in done]
        if todo:
            needed = sorted({b.plane for b in todo})
            ranges = client.gather(
                client.map(
                    norm.plane_range,
                    [str(model_path)] * len(needed),
                    [source] * len(needed),
                    needed,
                    pure=False,
                )
            )
            job["ranges"] = dict(zip(needed, ranges))
        yield Progress(
            len(done),
            n,
            f"{len(done)} of {n} blocks already done" if done else "predicting blocks",
            {"resumed": bool(done)},
        )
        futures = [
            client.submit(
                task.predict_block,
                job,
                b,
                key=f"segsuite-block-{token}-{b.index}",
                retries=retries,
                pure=False,
            )
            for b in todo
        ]
        try:
            for _, summary in gather_results(client, futures, "block prediction"):
                done[summary["index"]] = summary
                yield Progress(len(done), n, f"block {len(done)}/{n}", {"phase": "predict"})
        finally:  # cancelled or failed: queued blocks are dropped (a running one may still finish its files)
            client.cancel([f for f in futures if not f.done()])
        counts = [done[b.index]["objects"] for b in blocks]
        cut = sum(done[b.index]["cut"] for b in blocks)
        reach = 1 + 2 * int(halo) // int(block_size)
        maps, merged = global_maps(blocks, counts, lambda b: task.load_block(work, b), reach=reach)
        by_grid = {(b.plane, b.grid): b for b in blocks}
        futures = []
        for b in blocks:
            near = [
                by_grid.get((b.plane, (b.grid[0] + dy, b.grid[1] + dx)))
                for dy in range(-reach, reach + 1)
                for dx in range(-reach, reach + 1)
            ]
            sources = sorted(
                ((o, maps[o.index]) for o in near if o is not None and counts[o.index]),
                key=lambda s: s[0].index,
            )
            futures.append(
                client.submit(
                    _paste_task,
                    job,
                    b,
                    sources,
                    retries=retries,
                    pure=False,
                    key=f"segsuite-paste-{token}-{b.index}",
                )
            )
        for i, _ in enumerate(gather_results(client, futures, "writing labels")):
            yield Progress(n, n, f"writing block {i + 1}/{n}", {"phase": "write"})
        wait_all(futures)
        from .output import level_arrays

        arrays = level_arrays(output)
        chunk = output_chunk(int(block_size))
        for level in write_pyramid(client, job, arrays, source.label_axes, planes, chunk, retries=retries):
            yield Progress(n, n, f"level s{level} written", {"phase": "pyramid"})
    n_objects = int(max((m.max() for m in maps if len(m)), default=0))
    pixel_size = None if source.scale is None else [s for s, a in zip(source.scale, source.axes) if a != "c"]
    translation = getattr(source, "translate", None)
    finish_output(output, record, source, pixel_size=pixel_size, unit=source.unit, translation=translation)
    yield Progress(n, n, f"{n_objects} objects", {"objects": n_objects, "merged": merged, "cut": cut})
    return Path(output)


def connect_client(workers, scheduler, threads_per_worker):
    from .cluster import connect

    return connect(workers, scheduler, threads_per_worker)


def predict_distributed(model_path, input, output, *, progress=None, **kwargs):
    """Predict a large image on a dask.distributed cluster, block by block, into an NGFF label image.

    Parameters
    ----------
    model_path : str or Path
        A napari-segsuite checkpoint (U-Net or Mask R-CNN; the kind is read from the file).
    input : str, Path, list or array
        An OME-Zarr image (NGFF 0.4 or 0.5; level 0 is predicted) or a plain zarr array, cut into blocks;
        or TIFF files (a file, a folder of them or a list), one task per file, each predicted whole;
        or an array object (a zarr or dask array, e.g. a napari layer's data, or an
        :class:`~.arraysource.ArraySource` of one carrying its scale and translate), read block by block.
    output : str or Path
        The ``.ome.zarr`` to write: an NGFF 0.5 label image (uint32, levels ``s0, s1, ...``,
        ``image-label`` metadata). Rerunning the same job on it resumes from its finished blocks.
        For TIFF input, a folder of label images ``NAME.ome.zarr``, one per file.
    workers : int, optional
        Start a ``LocalCluster`` of this many worker processes (default: dask's choice for this machine).
    scheduler : str, optional
        Address of an existing scheduler (``tcp://HOST:8786``) instead; the workers must see the input
        and output paths and have napari-segsuite installed. ``"inprocess"``: no dask at all, the blocks
        are predicted one after the other in the calling thread (one block per progress event; closing
        the generator stops between blocks, and a rerun resumes).
    block_size : int
        Side of the square blocks, pixels (default 2048). Worker memory is bounded by a block plus halo.
    halo : int, optional
        Pixels read around every block; must exceed the largest object (default: the U-Net's receptive
        margin + 32, or 64 for Mask R-CNN).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``... on each worker (one worker per GPU; see the README).
    axes : str, optional
        Axis names of a plain zarr array (``"zyx"``, ``"yxc"``...); OME-Zarr images carry their own.
    threads_per_worker : int
        Threads of each local worker; torch uses as many.
    retries : int
        Times a failed block task is retried (a block lost with a dead worker is rerun anyway).
    overwrite : bool
        Replace an existing output made by another job.
    progress : callable, optional
        Called with each :class:`~napari_segsuite.core.progress.Progress` event.
    **predict_kwargs
        Passed to the backend (``tile_size``, ``min_size``, ``score_threshold``...).

    Returns
    -------
    Path
        The output.

    Raises
    ------
    FileNotFoundError
        A missing model or input.
    ValueError
        A bad input, parameters, an existing output of another job, or distributed not installed.
    """
    return run(iter_predict_distributed(model_path, input, output, **kwargs), progress)
