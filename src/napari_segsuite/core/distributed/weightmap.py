"""Border weight maps (Ronneberger et al. 2015) of large label images and volumes on dask.distributed.

The volume is cut into blocks over its spatial axes (``z``, ``y``, ``x``; other axes such as ``t`` are
separate images), each read with a halo of ``border_cutoff / spacing + 1`` pixels per axis, the distance sum
past which the border term cannot change a float32 weight. A pixel whose two nearest instances are within
the cutoff has both inside its block's region, so its local ``d1, d2`` are exact; elsewhere the border term
is below float32 resolution in both. The class weights come from the whole volume (a first pass counting
foreground pixels per block), so every block uses the same ones. The result is the single-process
:func:`~napari_segsuite.core.weightmap.unet_weight_map`, written as a float32 NGFF 0.5 image (``s0, s1...``).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from ..progress import Progress, run

__all__ = ["iter_weightmap_distributed", "weightmap_distributed", "spatial_blocks"]


def spatial_blocks(shape, axes: str, block_size: int, halos: dict) -> list[tuple[tuple, tuple]]:
    """``(core, region)`` index tuples covering ``shape``: cores of ``block_size`` over the ``zyx`` axes
    (single indices over other axes), regions grown by ``halos[axis]`` and clipped."""
    per_axis = []
    for n, a in zip(shape, axes):
        if a in "zyx":
            per_axis.append(
                [
                    (s, min(s + block_size, n), max(0, s - halos[a]), min(n, s + block_size + halos[a]))
                    for s in range(0, n, block_size)
                ]
            )
        else:
            per_axis.append([(i, i + 1, i, i + 1) for i in range(n)])
    return [
        (tuple(slice(c0, c1) for c0, c1, _, _ in combo), tuple(slice(r0, r1) for _, _, r0, r1 in combo))
        for combo in itertools.product(*per_axis)
    ]


def _count_task(source, core):
    import numpy as np

    block = np.asarray(source.open()[core])
    return int(np.count_nonzero(block)), int(block.size)


def _block_task(source, output: str, core, region, params: dict):
    import numpy as np

    from ..weightmap import unet_weight_map
    from .output import level_arrays

    labels = np.asarray(source.open()[region])
    spatial = [i for i, a in enumerate(source.axes) if a in "zyx"]
    squeeze = tuple(i for i in range(labels.ndim) if i not in spatial)
    weights = unet_weight_map(labels.squeeze(axis=squeeze), **params).reshape(labels.shape)
    local = tuple(slice(c.start - r.start, c.stop - r.start) for c, r in zip(core, region))
    level_arrays(output)[0][core] = weights[local]


def iter_weightmap_distributed(
    labels_input,
    output,
    *,
    w0: float = 10.0,
    sigma: float = 5.0,
    class_weights="balanced",
    spacing=None,
    workers: int | None = None,
    scheduler: str | None = None,
    block_size: int = 1024,
    axes: str | None = None,
    overwrite: bool = False,
    retries: int = 3,
):
    """Generator form of :func:`weightmap_distributed`: yields :class:`Progress` per finished block."""
    import shutil

    import numpy as np
    import zarr

    from ..dataset.ngff import ZARR_FORMAT, ngff_attrs, pyramid_levels
    from ..weightmap import _check_parameters, border_cutoff, class_weight_values
    from .cluster import connect
    from .layout import output_chunk
    from .output import level_arrays
    from .cluster import gather_results
    from .run import write_pyramid
    from .source import open_source

    source = open_source(labels_input, axes=axes)
    if "c" in source.axes or np.dtype(source.dtype).kind not in "iub":
        raise ValueError(
            f"{labels_input}: expected integer instance labels without a channel axis "
            f"(axes {source.axes}, dtype {source.dtype})."
        )
    # the parameters are checked before anything is counted or an old output deleted
    _check_parameters(w0, sigma)
    if not isinstance(class_weights, str):
        class_weight_values(np.zeros((1, 1), np.int32), class_weights)
    if not float(block_size).is_integer() or int(block_size) < 1:
        raise ValueError(f"block_size must be a whole number of pixels >= 1, got {block_size!r}.")
    output = Path(output)
    if output.exists():
        if not overwrite:
            raise ValueError(f"{output} already exists; choose another output or pass overwrite=True.")
        shutil.rmtree(output)
    spatial = [a for a in source.axes if a in "zyx"]
    space = (
        [1.0] * len(spatial)
        if spacing is None
        else list(np.broadcast_to(np.asarray(spacing, float), (len(spatial),)))
    )
    with connect(workers, scheduler) as client:
        blocks = spatial_blocks(source.shape, source.axes, int(block_size), {a: 0 for a in spatial})
        if isinstance(class_weights, str):  # "balanced": the whole volume's class counts
            counts = client.gather(client.map(_count_task, [source] * len(blocks), [c for c, _ in blocks]))
            n_fg, n = sum(c[0] for c in counts), sum(c[1] for c in counts)
            if class_weights.lower() == "balanced":
                class_weights = (
                    n / (2.0 * (n - n_fg)) if n > n_fg else 1.0,
                    n / (2.0 * n_fg) if n_fg else 1.0,
                )
        w_bg, w_fg = class_weight_values(np.zeros((1, 1), np.int32), class_weights)
        cutoff = border_cutoff(float(w0), float(sigma), w_bg)
        halos = {a: int(math.ceil(cutoff / s)) + 1 for a, s in zip(spatial, space)}
        blocks = spatial_blocks(source.shape, source.axes, int(block_size), halos)
        levels = pyramid_levels(source.plane_shape)
        group = zarr.open_group(store=str(output), mode="w", zarr_format=ZARR_FORMAT)
        chunk = output_chunk(int(block_size))
        for k in range(levels):
            shape = tuple(-(-n // 2**k) if a in "yx" else n for n, a in zip(source.shape, source.axes))
            group.create_array(
                f"s{k}",
                shape=shape,
                dtype="float32",
                fill_value=0.0,
                chunks=tuple(min(chunk, n) if a in "yx" else 1 for n, a in zip(shape, source.axes)),
                dimension_names=list(source.axes),
            )
        params = {
            "w0": float(w0),
            "sigma": float(sigma),
            "class_weights": (w_bg, w_fg),
            "spacing": tuple(space),
        }
        futures = [
            client.submit(_block_task, source, str(output), core, region, params, retries=retries, pure=False)
            for core, region in blocks
        ]
        try:
            for i, _ in enumerate(gather_results(client, futures, "weight map")):
                yield Progress(i + 1, len(blocks), f"block {i + 1}/{len(blocks)}", {"phase": "weightmap"})
        finally:
            client.cancel([f for f in futures if not f.done()])
        arrays = level_arrays(output)
        job = {"output": str(output), "label_axes": source.axes}
        outer = [range(n) for n, a in zip(source.shape, source.axes) if a not in "yx"]
        for _ in write_pyramid(client, job, arrays, source.axes, itertools.product(*outer), chunk):
            pass
    group.attrs["ome"] = ngff_attrs(source.axes, levels, name="weights")
    yield Progress(len(blocks), len(blocks), "weight map written", {"class_weights": (w_bg, w_fg)})
    return output


def weightmap_distributed(labels_input, output, *, progress=None, **kwargs):
    """Border weight map of a large label image or volume, block by block on a dask.distributed cluster.

    Parameters
    ----------
    labels_input : str or Path
        Instance labels as an OME-Zarr label image (NGFF 0.4/0.5, level 0) or a plain zarr array.
    output : str or Path
        The ``.ome.zarr`` to write: float32 NGFF 0.5 image, levels ``s0, s1, ...``.
    w0, sigma, class_weights, spacing
        As in :func:`napari_segsuite.core.unet_weight_map` (``"balanced"`` counts the whole volume).
    workers, scheduler
        A new ``LocalCluster`` of ``workers`` processes, or the address of an existing scheduler.
    block_size : int
        Side of the blocks over the spatial axes (``z``, ``y``, ``x``), pixels (default 1024).
    axes : str, optional
        Axis names of a plain zarr array (``"yx"``, ``"zyx"``, ``"tyx"``...).
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        Called with each :class:`~napari_segsuite.core.progress.Progress` event.

    Returns
    -------
    Path
        The output. Equal to ``unet_weight_map`` of the whole volume (within float32 resolution).

    Raises
    ------
    ValueError
        Labels that are not integer or have channels, bad parameters, an existing output.
    """
    return run(iter_weightmap_distributed(labels_input, output, **kwargs), progress)
