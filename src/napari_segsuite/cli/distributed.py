"""``segsuite predict|weightmap ... --workers N | --scheduler ADDRESS``: the same verbs on dask.distributed.

The ``predict`` and ``weightmap`` verbs add these options (:func:`add_arguments`, :func:`add_weightmap_arguments`)
and hand over to :func:`run_predict` / :func:`run_weightmap` when :func:`wants_distributed`. Calls core only.
"""

from __future__ import annotations

from pathlib import Path

from .common import parse_class_weights, parse_numbers, refuse_overwriting_inputs

__all__ = ["add_arguments", "wants_distributed", "run_predict", "add_weightmap_arguments", "run_weightmap"]


def add_arguments(parser) -> None:
    """Add ``--workers``, ``--scheduler``, ``--block-size``, ``--halo``, ``--threads-per-worker`` and
    ``--overwrite`` to an argparse parser (the ``predict`` verb's)."""
    group = parser.add_argument_group(
        "distributed (dask.distributed; input .zarr / .ome.zarr, output .ome.zarr)"
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="start a local dask cluster of N worker processes and predict block by block",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="use an existing dask cluster (e.g. tcp://host:8786; dask scheduler + dask worker, "
        "dask-jobqueue on SLURM, Kubernetes); workers must see the input and output paths",
    )
    group.add_argument(
        "--block-size",
        type=int,
        default=2048,
        metavar="PX",
        help="side of the square blocks each task predicts; worker memory is "
        "bounded by a block plus its halo",
    )
    group.add_argument(
        "--halo",
        type=int,
        default=None,
        metavar="PX",
        help="pixels read around every block; larger than the largest object (default: "
        "U-Net receptive margin + 32, Mask R-CNN 64)",
    )
    group.add_argument(
        "--threads-per-worker",
        type=int,
        default=1,
        metavar="N",
        help="threads of each local worker; torch uses as many",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output of another job (rerunning the same job resumes it)",
    )


def wants_distributed(args) -> bool:
    """True if the parsed arguments ask for distributed prediction."""
    return getattr(args, "workers", None) is not None or getattr(args, "scheduler", None) is not None


def _predict_kwargs(args) -> dict:
    kwargs = {}
    for name in ("tile_size", "min_size"):
        if getattr(args, name, None) is not None:
            kwargs[name] = getattr(args, name)
    if getattr(args, "watershed", False):
        kwargs["watershed"] = True
    if getattr(args, "convert", None) is not None:
        kwargs["convert"] = args.convert
    return kwargs


def run_predict(args) -> int:
    """Run the distributed prediction the parsed ``args`` describe, with a terminal progress bar.

    Uses ``args.model``, ``args.inputs`` (one zarr / OME-Zarr input, or TIFF files / folders: one task per
    file, written as ``OUTPUT/NAME.ome.zarr``), ``args.output``, ``args.device`` and
    the options of :func:`add_arguments` (plus ``tile_size``, ``min_size``, ``watershed`` when present).

    Raises
    ------
    ValueError
        Several inputs that are not all TIFF, a zarr input without a .zarr output, or what the core refuses.
    """
    from napari_segsuite.core.distributed import iter_predict_distributed
    from napari_segsuite.core.distributed.source import tiff_files
    from napari_segsuite.core.progress import run, terminal_progress

    inputs = list(getattr(args, "inputs", None) or [args.input])
    output = Path(args.output)
    refuse_overwriting_inputs(inputs, [output])  # with --overwrite the old output folder is deleted first
    files = (
        tiff_files(inputs)
        if all(
            Path(i).suffix.lower() in (".tif", ".tiff")
            or Path(i).is_dir()
            and not Path(i).name.endswith(".zarr")
            for i in inputs
        )
        else None
    )
    if files is None and len(inputs) != 1:
        raise ValueError(
            "distributed prediction takes one .zarr / .ome.zarr input (a plate or a volume) or "
            f"TIFF files; got {len(inputs)} inputs that are not all TIFF."
        )
    if files is None and not output.name.endswith(".zarr"):
        raise ValueError(
            f"{output}: the distributed output is an OME-Zarr label image; name it OUT.ome.zarr."
        )
    job = iter_predict_distributed(
        args.model,
        files if files is not None else inputs[0],
        output,
        workers=args.workers,
        scheduler=args.scheduler,
        block_size=args.block_size,
        halo=args.halo,
        device=getattr(args, "device", "auto"),
        threads_per_worker=args.threads_per_worker,
        overwrite=args.overwrite,
        **_predict_kwargs(args),
    )
    events = []

    def progress(event):
        events.append(event)
        bar(event)

    bar = terminal_progress()
    run(job, progress=progress)
    info = events[-1].info if events else {}
    print(
        f"wrote {output}: {info.get('objects', '?')} objects"
        + (f", {info['merged']} merged across block borders" if info.get("merged") else "")
        + (f"; {info['cut']} objects touch a block's halo edge: raise --halo" if info.get("cut") else "")
    )
    return 0


def add_weightmap_arguments(parser) -> None:
    """Add ``--workers``, ``--scheduler`` and ``--block-size`` to the ``weightmap`` verb (it has ``--overwrite``)."""
    group = parser.add_argument_group("distributed (dask.distributed; MASK .zarr / .ome.zarr, OUT .ome.zarr)")
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="start a local dask cluster of N worker processes and compute block by block",
    )
    group.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="use an existing dask cluster (e.g. tcp://host:8786)",
    )
    group.add_argument(
        "--block-size",
        type=int,
        default=1024,
        metavar="PX",
        help="side of the blocks over z, y, x; the halo is a few sigma",
    )


def run_weightmap(args) -> int:
    """The distributed border weight map from parsed ``weightmap`` arguments (``mask``, ``output``, ``w0``,
    ``sigma``, ``class_weights``, ``spacing`` and those of :func:`add_weightmap_arguments`)."""
    from napari_segsuite.core.distributed.weightmap import iter_weightmap_distributed
    from napari_segsuite.core.progress import run, terminal_progress

    output = Path(args.output)
    refuse_overwriting_inputs([args.mask], [output])  # with --overwrite the old output folder is deleted first
    if not output.name.endswith(".zarr"):
        raise ValueError(f"{output}: the distributed weight map is an OME-Zarr image; name it OUT.ome.zarr.")
    class_weights = parse_class_weights(str(getattr(args, "class_weights", "balanced")))
    spacing = getattr(args, "spacing", None)
    run(
        iter_weightmap_distributed(
            args.mask,
            output,
            w0=args.w0,
            sigma=args.sigma,
            class_weights=class_weights,
            spacing=None if spacing is None else parse_numbers(spacing, "--spacing"),
            workers=args.workers,
            scheduler=args.scheduler,
            block_size=args.block_size,
            overwrite=args.overwrite,
        ),
        progress=terminal_progress(),
    )
    print(f"wrote {output}")
    return 0
