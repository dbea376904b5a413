"""Big-image benchmark: time and peak memory of each stage on an 8192x8192 synthetic nuclei image.

    PYTHONPATH=src python benchmarks/big_data.py [--size 8192] [--stages weightmap superpixels unet]
                                                 [--superpixel-crop 0]

The image is built by tiling ``synthetic_nuclei((1024, 1024), seed=k)`` fields (at most 16 distinct
seeds, flipped so neighbours differ), with label offsets so every nucleus keeps its own label. It is
saved once as ``.npy`` in a temporary folder; every stage then runs in its OWN subprocess that loads
its input, runs, and reads its peak resident memory (``VmHWM`` in ``/proc/self/status``) at the end.
So each peak is for one stage alone (it includes the Python interpreter, the imported libraries and the
loaded input).

Stages:

* ``weightmap``: :func:`napari_segsuite.core.unet_weight_map` on the int32 labels (defaults);
* ``superpixels``: :func:`slic_superpixels` + :func:`merge_superpixels` (hierarchical) on the image,
  or on its top-left ``--superpixel-crop`` square if given (SLIC on 67 Mpx takes about a minute on a
  shared 2-core machine; the table says which size was used);
* ``unet``: :func:`predict_checkpoint` with the shipped ``unet_nuclei.pt`` sample model (CPU).

Printed per stage: seconds, peak memory (MiB), the peak as a multiple of the stage's uint16 image
size in bytes (``x img``; an int32 labels image is ``2.0 x img``), and the part above what the child
held before the stage started (``extra x img``: work memory of the stage itself, including its output).

Measured 2026-11-22 (8192x8192, 2 cores, CPU, quiet machine): superpixels 59 s (SLIC 40 s in 36 tiles,
134,829 superpixels -> 21,672 regions; merge 19 s), peak 836 MiB (6.5 x img, 5.1 x img above the loaded
image: the int32 superpixels and merged labels are 2 x img each); U-Net 117 s (1024x1024 tiles, 28,018
nuclei), peak 1342 MiB (10.5 x img, 5.5 x img above the loaded image and model: the int32 labels are
2 x img, the compact per-plane maps 1-2 bytes per pixel, the rest is one tile's activations).
Weight map measured 2026-12-01 on a loaded machine: 18.1 s, peak 669 MiB (5.2 x img, 2.8 x img above the
loaded labels: the float32 output is 2 x img, one band of distances and the per-instance boxes the rest).
Before the banded weight map, in the same conditions: 18.6 s, 1161 MiB (9.1 x img, 6.6 x img above the
labels: whole-image float32 ``d1``, ``d2`` and a bool mask besides the output); CPU time 11.8 s before,
12.5 s after (mean of 3 alternating runs; 34,871 instance EDTs instead of 30,720).
Before tiled SLIC, band-wise graph building and streamed U-Net post-processing (2026-11-22 conditions):
superpixels 86 s, 3273 MiB (24.1 x img above the image, inside scikit-image's whole-image float64 SLIC);
U-Net 170 s, 4514 MiB (30 x img: whole-image (C, Y, X) float32 probabilities and whole-plane watershed).
Comparing with a 4096x4096 run, the part that grows with the image is ~2.3 x img (weight map, 2 x img of
it its float32 output; ~6.6 x img before the bands), ~4.7 x img (superpixels: mostly its two int32
outputs); the U-Net's work memory is mostly fixed (4096x4096: 646 MiB above the input, 8192x8192:
704 MiB), one 1024x1024 tile's activations; the tiled SLIC has ~0.15 GiB fixed (one tile's scikit-image
work arrays).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

STAGES = ("weightmap", "superpixels", "unet")
TILE = 1024
N_SEEDS = 16  # distinct synthetic fields (each takes ~1 s); tiles repeat them flipped


def make_big_image(size: int):
    """(uint16 image, int32 labels) of ``size`` x ``size`` tiled from 1024x1024 synthetic fields."""
    from napari_segsuite.core.samples.synthetic import synthetic_nuclei

    if size % TILE:
        raise ValueError(f"--size must be a multiple of {TILE}, got {size}.")
    n = size // TILE
    fields = [synthetic_nuclei((TILE, TILE), seed=k) for k in range(min(N_SEEDS, n * n))]
    image = np.empty((size, size), np.uint16)
    labels = np.empty((size, size), np.int32)
    offset = 0
    for i in range(n):
        for j in range(n):
            k = (i * n + j) % len(fields)
            img, lab = fields[k]
            flip = (i + j + (i * n + j) // len(fields)) % 4  # none, up-down, left-right, both
            if flip & 1:
                img, lab = img[::-1], lab[::-1]
            if flip & 2:
                img, lab = img[:, ::-1], lab[:, ::-1]
            sl = np.s_[i * TILE:(i + 1) * TILE, j * TILE:(j + 1) * TILE]
            image[sl] = img
            labels[sl] = np.where(lab > 0, lab + offset, 0)
            offset += int(lab.max())
    return image, labels


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_stage(stage: str, data_dir: str, crop: int) -> dict:
    """Child process body: load the input, run one stage, return time and memory figures."""
    info = {}
    if stage == "weightmap":
        from napari_segsuite.core.weightmap import unet_weight_map

        labels = np.load(os.path.join(data_dir, "labels.npy"))
        img_bytes = labels.size * 2
        info["input"] = f"labels {labels.shape[0]}x{labels.shape[1]} int32"
        before = _status_kib("VmRSS")
        t0 = time.perf_counter()
        w = unet_weight_map(labels)
        info["seconds"] = time.perf_counter() - t0
        info["detail"] = f"weights {w.dtype}, max {float(w.max()):.2f}"
    elif stage == "superpixels":
        from napari_segsuite.core.superpixels import merge_superpixels, slic_superpixels

        image = np.load(os.path.join(data_dir, "image.npy"))
        if 0 < crop < image.shape[0]:
            image = np.ascontiguousarray(image[:crop, :crop])
        img_bytes = image.nbytes
        info["input"] = f"image {image.shape[0]}x{image.shape[1]} uint16" + (
            " (crop)" if 0 < crop < _full_size(data_dir) else "")
        n_segments = image.size // 500  # ~2,000 superpixels per 1024x1024
        before = _status_kib("VmRSS")
        t0 = time.perf_counter()
        sp = slic_superpixels(image, n_segments=n_segments)
        t_slic = time.perf_counter() - t0
        slic_peak = _status_kib("VmHWM")
        reset = _reset_peak()
        merged = merge_superpixels(image, sp, threshold=150.0)
        info["seconds"] = time.perf_counter() - t0
        merge_peak = f", merge peak {_status_kib('VmHWM') / 1024:.0f} MiB" if reset else ""
        info["detail"] = (f"SLIC {t_slic:.0f} s (peak {slic_peak / 1024:.0f} MiB) -> {int(sp.max())} superpixels; "
                          f"hierarchical merge {info['seconds'] - t_slic:.0f} s{merge_peak} -> "
                          f"{int(merged.max())} regions")
        info["peak_kib"] = max(slic_peak, _status_kib("VmHWM"))  # the whole stage
    elif stage == "unet":
        import torch

        from napari_segsuite.core.predict import predict_checkpoint
        from napari_segsuite.core.samples import sample_path

        image = np.load(os.path.join(data_dir, "image.npy"))
        img_bytes = image.nbytes
        info["input"] = f"image {image.shape[0]}x{image.shape[1]} uint16"
        before = _status_kib("VmRSS")
        t0 = time.perf_counter()
        labels = predict_checkpoint(sample_path("unet_nuclei.pt"), image, device="cpu")
        info["seconds"] = time.perf_counter() - t0
        info["detail"] = f"{int(labels.max())} nuclei found, torch threads {torch.get_num_threads()}"
    else:
        raise ValueError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}.")
    info.setdefault("peak_kib", _status_kib("VmHWM"))
    info["before_kib"] = before
    info["img_bytes"] = img_bytes
    return info


def _full_size(data_dir: str) -> int:
    return int(np.load(os.path.join(data_dir, "image.npy"), mmap_mode="r").shape[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192, help="image side in pixels (multiple of 1024)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--superpixel-crop", type=int, default=0,
                        help="run superpixels on the top-left crop of this side (0: the whole image)")
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_stage(args.child, args.data, args.superpixel_crop)))
        return

    with tempfile.TemporaryDirectory(prefix="segsuite_big_") as tmp:
        t0 = time.perf_counter()
        image, labels = make_big_image(args.size)
        t_gen = time.perf_counter() - t0
        np.save(os.path.join(tmp, "image.npy"), image)
        np.save(os.path.join(tmp, "labels.npy"), labels)
        n_nuclei = int(labels.max())
        mib = image.nbytes / 2**20
        print(f"image {args.size}x{args.size} uint16 = {mib:.0f} MiB (int32 labels = {2 * mib:.0f} MiB), "
              f"{n_nuclei} nuclei, generated in {t_gen:.1f} s; {os.cpu_count()} cores")
        del image, labels
        print(f"{'stage':12s} {'input':34s} {'seconds':>8s} {'peak MiB':>9s} {'x img':>6s} {'extra x img':>11s}")
        details = []
        for stage in args.stages:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", stage, "--data", tmp,
                   "--superpixel-crop", str(args.superpixel_crop)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(f"{stage:12s} FAILED (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            peak = r["peak_kib"] * 1024
            extra = (r["peak_kib"] - r["before_kib"]) * 1024
            print(f"{stage:12s} {r['input']:34s} {r['seconds']:8.1f} {peak / 2**20:9.0f} "
                  f"{peak / r['img_bytes']:6.1f} {extra / r['img_bytes']:11.1f}", flush=True)
            details.append(f"  {stage}: {r['detail']}")
        print("\n".join(details))
        print("x img = peak resident memory / bytes of the stage's uint16 image (interpreter, libraries and "
              "loaded input included); extra = peak minus resident memory just before the stage ran.")


if __name__ == "__main__":
    main()
