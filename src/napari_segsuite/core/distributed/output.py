"""The output: an NGFF 0.5 label image (zarr v3, uint32, levels ``s0, s1, ...``, ``image-label`` metadata),
plus a ``.segsuite/`` folder holding the job's record and its finished blocks (for resuming).

The ``ome`` metadata is written last, when every level is complete: an interrupted output is not yet an
NGFF image, so no reader mistakes it for a finished one. Levels follow
:func:`napari_segsuite.core.export_omezarr.pyramid_levels` and level ``k`` keeps every ``2**k``-th pixel
(label ids stay exact), as the dataset export writes them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

__all__ = ["prepare_output", "finish_output", "job_record", "WORK_DIR"]

WORK_DIR = ".segsuite"


def job_record(model_path: Path, source, block_size: int, halo: int, predict_kwargs: dict) -> dict:
    """What defines a job's result: a rerun with the same record resumes, a different one is refused."""
    stat = Path(model_path).stat()
    return {"format": "segsuite-distributed-job", "version": 1,
            "model": str(Path(model_path).resolve()), "model_size": stat.st_size, "model_mtime_ns": stat.st_mtime_ns,
            "input": {"store": str(Path(source.store).resolve()), "key": source.key, "axes": source.axes,
                      "shape": list(source.shape)},
            "block_size": int(block_size), "halo": int(halo),
            "predict": json.loads(json.dumps(predict_kwargs, default=str))}


def _level_shape(shape, axes: str, k: int) -> tuple:
    return tuple(-(-n // 2 ** k) if a in "yx" else n for n, a in zip(shape, axes))


def prepare_output(path, record: dict, source, chunk: int, overwrite: bool = False) -> tuple[Path, dict]:
    """Create (or reopen, to resume) the output; returns ``(blocks folder, state)``.

    ``state["complete"]`` is True when a previous run with the same record finished.

    Raises
    ------
    ValueError
        If ``path`` exists and is not this job's output (different model, input or parameters), unless
        ``overwrite`` is True.
    """
    import zarr

    from ..export_omezarr import ZARR_FORMAT, pyramid_levels

    path = Path(path)
    job_file = path / WORK_DIR / "job.json"
    if path.exists():
        old = json.loads(job_file.read_text()) if job_file.exists() else None
        same = old is not None and {k: v for k, v in old.items() if k != "complete"} == record
        if same:
            return path / WORK_DIR / "blocks", {"complete": bool(old.get("complete")), "resumed": True}
        if not overwrite:
            why = "it is not a napari-segsuite prediction" if old is None else \
                "it was made with another model, input or parameters"
            raise ValueError(f"{path} already exists and {why}; choose another output or pass overwrite=True "
                             "(--overwrite) to replace it. Rerunning the same command resumes an interrupted job.")
        shutil.rmtree(path)
    axes = source.label_axes
    shape = tuple(n for n, a in zip(source.shape, source.axes) if a != "c")
    levels = pyramid_levels(source.plane_shape)
    group = zarr.open_group(store=str(path), mode="w", zarr_format=ZARR_FORMAT)
    chunks = tuple(chunk if a in "yx" else 1 for a in axes)
    for k in range(levels):
        level_shape = _level_shape(shape, axes, k)
        group.create_array(f"s{k}", shape=level_shape, dtype="uint32", fill_value=0,
                           chunks=tuple(min(c, n) for c, n in zip(chunks, level_shape)), dimension_names=list(axes))
    (path / WORK_DIR / "blocks").mkdir(parents=True)
    job_file.write_text(json.dumps({**record, "complete": False}, indent=1))
    return path / WORK_DIR / "blocks", {"complete": False, "resumed": False}


def finish_output(path, record: dict, source, name: str = "labels", pixel_size=None, unit=None) -> None:
    """Write the NGFF metadata (last), mark the job complete and drop the stored blocks."""
    import zarr

    from ..export_omezarr import ngff_attrs

    path = Path(path)
    group = zarr.open_group(store=str(path), mode="r+")
    levels = sum(1 for key in group.array_keys() if key.startswith("s"))
    group.attrs["ome"] = ngff_attrs(source.label_axes, levels, pixel_size=pixel_size, unit=unit, name=name,
                                    image_label={})
    (path / WORK_DIR / "job.json").write_text(json.dumps({**record, "complete": True}, indent=1))
    shutil.rmtree(path / WORK_DIR / "blocks", ignore_errors=True)


def level_arrays(path) -> list:
    """The output's level arrays ``s0, s1, ...`` (opened for writing)."""
    import zarr

    group = zarr.open_group(store=str(path), mode="r+")
    keys = sorted((k for k in group.array_keys() if k.startswith("s")), key=lambda k: int(k[1:]))
    return [group[k] for k in keys]
