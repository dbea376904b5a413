"""Single-process prediction against dask.distributed on 2 workers, on a large tiled sample image.

Run: PYTHONPATH=src python benchmarks/distributed.py [--size 4096] [--model unet_nuclei.pt]
     [--block-size 2048]
Prints wall time and CPU time of each run, the ratio distributed / single-process, how long the stitching
took (everything after the last block: union-find, pasting, pyramid), and how far the results agree
(AP@0.5 of the distributed labels against the single-process ones, identical foreground pixels).
Target on a 2-core machine: `--workers 2` within 1.5x the single-process time (nothing to gain on 2 cores;
the point is a small overhead), results equal. Time it with nothing else running.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

# this file is named like the package it measures: keep `import distributed` from finding it
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import numpy as np  # noqa: E402


def tiled_sample(size: int) -> np.ndarray:
    from napari_segsuite.core import load_sample

    image, _ = load_sample("nuclei_test")
    reps = -(-size // image.shape[0])
    # mirror every other copy so no seam of the tiling is a sharp jump
    row = np.concatenate([image if i % 2 == 0 else image[:, ::-1] for i in range(reps)], axis=1)
    big = np.concatenate([row if i % 2 == 0 else row[::-1] for i in range(reps)], axis=0)
    return np.ascontiguousarray(big[:size, :size])


def worker_cpu(client) -> float:
    import psutil

    return sum(client.run(lambda: sum(psutil.Process().cpu_times()[:2])).values())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--model", default="unet_nuclei.pt")
    p.add_argument("--block-size", type=int, default=2048)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    import zarr
    from distributed import Client, LocalCluster

    from napari_segsuite.core import sample_path
    from napari_segsuite.core.distributed import iter_predict_distributed
    from napari_segsuite.core.metrics import average_precision
    from napari_segsuite.core.predict import predict_checkpoint

    model = sample_path(args.model)
    image = tiled_sample(args.size)
    tmp_dir = tempfile.TemporaryDirectory(prefix="segsuite-bench-")
    tmp = Path(tmp_dir.name)
    src = zarr.create_array(str(tmp / "in.zarr"), shape=image.shape, dtype=image.dtype, chunks=(512, 512))
    src[:] = image
    print(
        f"image {image.shape} {image.dtype}, model {args.model}, block {args.block_size}, "
        f"cores {os.cpu_count()}"
    )

    t, c = time.perf_counter(), time.process_time()
    ref = predict_checkpoint(model, image, device="cpu")
    single_wall, single_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"single process : {single_wall:7.1f} s wall, {single_cpu:7.1f} s CPU, {ref.max()} objects")

    # as `segsuite predict --workers 2` does it: cluster start-up included
    t = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        start_up = time.perf_counter() - t
        cpu0 = worker_cpu(client)
        t_job = time.perf_counter()
        last_block = None
        for event in iter_predict_distributed(
            model,
            tmp / "in.zarr",
            tmp / "out.ome.zarr",
            scheduler=cluster.scheduler_address,
            block_size=args.block_size,
            device="cpu",
        ):
            if event.info.get("phase") == "predict" and event.step == event.total:
                last_block = time.perf_counter()
        end = time.perf_counter()
        dist_cpu = worker_cpu(client) - cpu0
    dist_wall = end - t
    print(
        f"{args.workers} workers      : {dist_wall:7.1f} s wall ({start_up:.1f} s cluster start-up, "
        f"{end - t_job:.1f} s job), {dist_cpu:7.1f} s worker CPU"
    )
    print(f"stitching      : {end - last_block:7.1f} s (union-find, pasting, pyramid after the last block)")
    print(
        f"ratio distributed / single: wall {dist_wall / single_wall:.2f} "
        f"(job only {(end - t_job) / single_wall:.2f})"
        f", CPU {dist_cpu / max(single_cpu, 1e-9):.2f}   target: wall <= 1.5"
    )
    result = zarr.open_group(str(tmp / "out.ome.zarr"), mode="r")["s0"][:]
    ap = average_precision(ref, result, thresholds=(0.5,))
    same_fg = float(np.mean((result > 0) == (ref > 0)))
    print(
        f"agreement      : AP@0.5 {ap['ap'][0]:.4f} (tp {ap['tp'][0]}, fp {ap['fp'][0]}, fn {ap['fn'][0]}), "
        f"{result.max()} vs {ref.max()} objects, identical foreground pixels {same_fg:.6f}"
    )


if __name__ == "__main__":
    main()
