"""TIFF files (a folder or a list) on dask.distributed: one task per file, each predicted whole by the
single-process backend and written as its own NGFF label image ``OUT/NAME.ome.zarr``.

A file's label image is written under a temporary name and renamed when complete, so an existing
``NAME.ome.zarr`` is a finished file: a rerun of the same job skips it (resume).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

__all__ = ["predict_file", "iter_predict_files"]


def predict_file(model_path: str, path: str, target: str, device, predict_kwargs: dict) -> dict:
    """Worker task: predict one file and write ``target`` (NGFF 0.5 label image, uint32), renamed last."""
    import numpy as np

    from ..dataset.ngff import pyramid_levels, write_ngff_image
    from ..io import read_image
    from ..predict import iter_predict_checkpoint
    from ..progress import run
    from .task import set_torch_threads

    set_torch_threads()
    labels = np.asarray(
        run(iter_predict_checkpoint(model_path, read_image(path), device=device, **predict_kwargs))
    )
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write_ngff_image(
            tmp,
            labels.astype(np.uint32),
            "yx" if labels.ndim == 2 else "zyx",
            pyramid_levels(labels.shape),
            image_label=True,
            name=target.name[: -len(".ome.zarr")],
        )
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"file": str(path), "objects": int(labels.max(initial=0))}


def iter_predict_files(
    client,
    model_path,
    files,
    output,
    *,
    device="auto",
    retries: int = 3,
    overwrite: bool = False,
    **predict_kwargs,
):
    """Predict every file on the cluster of ``client``; yields Progress per finished file, returns ``output``.

    Raises
    ------
    ValueError
        If ``output`` exists and holds another job's predictions (unless ``overwrite``), or two files
        share a name.
    """
    from ..progress import Progress
    from .output import job_record_files
    from .cluster import gather_results

    output = Path(output)
    names = [Path(f).name.rsplit(".", 1)[0] for f in files]
    if len(set(names)) != len(names):
        raise ValueError("two input files share a name; their label images would collide. Rename them.")
    record = job_record_files(model_path, files, predict_kwargs)
    job_file = output / "segsuite-job.json"
    if output.exists() and overwrite:
        shutil.rmtree(output)
    elif output.exists() and (not job_file.exists() or json.loads(job_file.read_text()) != record):
        raise ValueError(
            f"{output} already exists and is not a run of this job; choose another output or pass "
            "overwrite=True (--overwrite). Rerunning the same command resumes an interrupted job."
        )
    output.mkdir(parents=True, exist_ok=True)
    job_file.write_text(json.dumps(record, indent=1))
    targets = [output / f"{name}.ome.zarr" for name in names]
    todo = [(f, t) for f, t in zip(files, targets) if not t.exists()]
    done = len(files) - len(todo)
    yield Progress(
        done,
        len(files),
        f"{done} of {len(files)} files already done" if done else "predicting files",
        {"resumed": bool(done)},
    )
    futures = [
        client.submit(
            predict_file,
            str(Path(model_path).resolve()),
            str(f),
            str(t),
            device,
            dict(predict_kwargs),
            retries=retries,
            pure=False,
        )
        for f, t in todo
    ]
    objects = 0
    try:
        for _, summary in gather_results(client, futures, "file prediction"):
            done += 1
            objects += summary["objects"]
            yield Progress(done, len(files), f"file {done}/{len(files)}", {"phase": "predict"})
    finally:
        client.cancel([f for f in futures if not f.done()])
    yield Progress(done, len(files), f"{len(files)} label images", {"objects": objects})
    return output
