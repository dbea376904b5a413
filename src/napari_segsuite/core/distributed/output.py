"""The output: an NGFF 0.5 label image (zarr v3, uint32, levels ``s0, s1, ...``, ``image-label`` metadata),
plus, while it runs, a folder beside it (``OUT.ome.zarr.segsuite-work``) holding the job's record and its
finished blocks (for resuming); it is removed when the job completes, and the record moves into the
image's attributes (``"segsuite"``), so rerunning a finished job does nothing.

The ``ome`` metadata is written last, when every level is complete: an interrupted output is not yet an
NGFF image, so no reader mistakes it for a finished one. Levels follow
:func:`napari_segsuite.core.dataset.ngff.pyramid_levels` and level ``k`` keeps every ``2**k``-th pixel
(label ids stay exact), as the dataset export writes them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["prepare_output", "finish_output", "job_record", "work_dir", "level_arrays"]

WORK_SUFFIX = ".segsuite-work"


def job_record(model_path: Path, source, block_size: int, halo: int, predict_kwargs: dict) -> dict:
    """What defines a job's result: a rerun with the same record resumes, a different one is refused."""
    stat = Path(model_path).stat()
    return {
        "format": "segsuite-distributed-job",
        "version": 1,
        "model": str(Path(model_path).resolve()),
        "model_size": stat.st_size,
        "model_mtime_ns": stat.st_mtime_ns,
        "input": source.record(),
        "block_size": int(block_size),
        "halo": int(halo),
        "predict": json.loads(json.dumps(predict_kwargs, default=str)),
    }


def job_record_files(model_path: Path, files, predict_kwargs: dict) -> dict:
    """The record of a job over TIFF files (see :func:`job_record`)."""
    stat = Path(model_path).stat()
    return {
        "format": "segsuite-distributed-files",
        "version": 1,
        "model": str(Path(model_path).resolve()),
        "model_size": stat.st_size,
        "model_mtime_ns": stat.st_mtime_ns,
        "files": [str(Path(f).resolve()) for f in files],
        "predict": json.loads(json.dumps(predict_kwargs, default=str)),
    }


def _level_shape(shape, axes: str, k: int) -> tuple:
    return tuple(-(-n // 2**k) if a in "yx" else n for n, a in zip(shape, axes))


def work_dir(path) -> Path:
    """The job's working folder beside the output (``OUT.ome.zarr.segsuite-work``): its record and blocks."""
    path = Path(path)
    return path.with_name(path.name + WORK_SUFFIX)


def _finished_record(path: Path):
    import zarr

    try:
        attrs = dict(zarr.open_group(store=str(path), mode="r").attrs)
    except Exception:  # not a zarr group
        return None
    return attrs.get("segsuite") if "ome" in attrs else None


def prepare_output(path, record: dict, source, chunk: int, overwrite: bool = False) -> tuple[Path, dict]:
    """Create (or reopen, to resume) the output; returns ``(blocks folder, state)``.

    ``state["complete"]`` is True when a previous run of the same job finished; ``state["resumed"]`` when
    an interrupted run of the same job left finished blocks. ``overwrite`` always starts afresh.

    Raises
    ------
    ValueError
        If ``path`` exists and is not this job's output (different model, input or parameters), unless
        ``overwrite`` is True.
    """
    import zarr

    from ..dataset.ngff import ZARR_FORMAT, pyramid_levels

    path, work = Path(path), work_dir(path)
    job_file = work / "job.json"
    if not overwrite and (path.exists() or work.exists()):
        if _finished_record(path) == record:
            return work / "blocks", {"complete": True, "resumed": True}
        if path.exists() and job_file.exists() and json.loads(job_file.read_text()) == record:
            return work / "blocks", {"complete": False, "resumed": True}
        raise ValueError(
            f"{path} already exists and is not an unfinished or finished run of this job (another "
            "model, input or parameters); choose another output or pass overwrite=True "
            "(--overwrite) to replace it. Rerunning the same command resumes an interrupted job."
        )
    for old in (path, work):
        if old.exists():
            shutil.rmtree(old)
    axes = source.label_axes
    shape = tuple(n for n, a in zip(source.shape, source.axes) if a != "c")
    levels = pyramid_levels(source.plane_shape)
    group = zarr.open_group(store=str(path), mode="w", zarr_format=ZARR_FORMAT)
    chunks = tuple(chunk if a in "yx" else 1 for a in axes)
    for k in range(levels):
        level_shape = _level_shape(shape, axes, k)
        group.create_array(
            f"s{k}",
            shape=level_shape,
            dtype="uint32",
            fill_value=0,
            chunks=tuple(min(c, n) for c, n in zip(chunks, level_shape)),
            dimension_names=list(axes),
        )
    (work / "blocks").mkdir(parents=True)
    job_file.write_text(json.dumps(record, indent=1))
    return work / "blocks", {"complete": False, "resumed": False}


def finish_output(
    path, record: dict, source, name: str = "labels", pixel_size=None, unit=None, translation=None
) -> None:
    """Write the NGFF metadata (last, with the job's record) and remove the working folder."""
    import zarr

    from ..dataset.ngff import ngff_attrs

    path = Path(path)
    group = zarr.open_group(store=str(path), mode="r+")
    levels = sum(1 for key in group.array_keys() if key.startswith("s"))
    group.attrs.update(
        {
            "ome": ngff_attrs(
                source.label_axes,
                levels,
                pixel_size=pixel_size,
                unit=unit,
                name=name,
                image_label={},
                translation=translation,
            ),
            "segsuite": record,
        }
    )
    shutil.rmtree(work_dir(path), ignore_errors=True)


def level_arrays(path) -> list:
    """The output's level arrays ``s0, s1, ...`` (opened for writing)."""
    import zarr

    group = zarr.open_group(store=str(path), mode="r+")
    keys = sorted((k for k in group.array_keys() if k.startswith("s")), key=lambda k: int(k[1:]))
    return [group[k] for k in keys]
