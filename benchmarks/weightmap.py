"""Benchmark ``unet_weight_map`` against the textbook method (one full-image EDT per instance).

Prints, from one run on this machine:

- 1024x1024, ~300 touching cells: time of the textbook method, of ``unet_weight_map``, the speedup
  (target >= 100x) and the max absolute difference (target <= 1e-3);
- the ratio to one full-image Euclidean distance transform of the same labels (target <= 4x);
- 2048x2048 with ~1,200 cells and a 64x512x512 stack with ~500 cells: time and peak memory (the textbook
  time there is estimated as instances x one full EDT, as running it takes many minutes).

Run: ``PYTHONPATH=src python benchmarks/weightmap.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy import ndimage as ndi

from napari_segsuite.core.samples.synthetic import synthetic_nuclei
from napari_segsuite.core.weightmap import unet_weight_map


def textbook_weight_map(labels, w0=10.0, sigma=5.0, spacing=None):
    """One full EDT per instance, running two smallest distances, balanced class weights; no cutoff."""
    background = labels == 0
    n, n_bg = labels.size, int(background.sum())
    w_bg = n / (2 * n_bg) if n_bg else 1.0
    w_fg = n / (2 * (n - n_bg)) if n - n_bg else 1.0
    weights = np.where(background, w_bg, w_fg)
    ids = np.unique(labels[~background])
    if len(ids) < 2:
        return weights.astype(np.float32)
    d1 = np.full(labels.shape, np.inf)
    d2 = np.full(labels.shape, np.inf)
    for i in ids:
        d = ndi.distance_transform_edt(labels != i, sampling=spacing)
        np.minimum(d2, np.maximum(d1, d), out=d2)
        np.minimum(d1, d, out=d1)
    weights[background] += w0 * np.exp(-((d1 + d2)[background] ** 2) / (2 * sigma**2))
    return weights.astype(np.float32)


def synthetic_cells_3d(shape=(64, 512, 512), n_cells=500, seed=0, touching=0.5):
    """Ellipsoidal cells (xy radius 7-13 px, z radius half that), about half placed touching another."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    centres = []
    for k in range(1, n_cells + 1):
        r = rng.uniform(7, 13)
        radii = np.array([r * rng.uniform(0.4, 0.6), r, r * rng.uniform(0.7, 1.0)])
        if centres and rng.random() < touching:
            base = centres[rng.integers(len(centres))]
            direction = rng.normal(size=3) * [0.3, 1, 1]
            c = base + direction / np.linalg.norm(direction) * r * 1.8
        else:
            c = rng.uniform([0, 0, 0], shape)
        c = np.clip(c, 0, np.array(shape) - 1)
        lo = np.maximum(np.floor(c - radii).astype(int), 0)
        hi = np.minimum(np.ceil(c + radii).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        grid = np.ogrid[box]
        inside = sum(((g - ci) / ri) ** 2 for g, ci, ri in zip(grid, c, radii)) <= 1
        crop = labels[box]
        crop[inside & (crop == 0)] = k
        centres.append(c)
    return labels


def timed(func, *args, repeat=1, **kwargs):
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_memory(func, *args, **kwargs):
    """Peak bytes allocated through Python/numpy during the call (tracemalloc)."""
    tracemalloc.start()
    try:
        func(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def report_large(name, labels, spacing=None):
    n = len(np.unique(labels)) - 1
    t_edt, _ = timed(ndi.distance_transform_edt, labels == 0, sampling=spacing)
    t_fast, _ = timed(unet_weight_map, labels, spacing=spacing)
    peak = peak_memory(unet_weight_map, labels, spacing=spacing)
    mb = 1024**2
    print(f"{name}: {n} instances, {labels.size / 1e6:.1f} Mpx")
    print(f"  unet_weight_map      {t_fast:8.2f} s   ({t_fast / t_edt:.2f}x one full EDT of {t_edt:.2f} s)")
    print(f"  peak memory          {peak / mb:8.0f} MB  (labels int32 {labels.nbytes / mb:.0f} MB, "
          f"{peak / labels.nbytes:.1f}x)")
    print(f"  textbook (estimate)  {n * t_edt:8.0f} s   (instances x one EDT; speedup ~{n * t_edt / t_fast:.0f}x)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 2048 and 3D cases")
    args = parser.parse_args(argv)

    _, labels = synthetic_nuclei((1024, 1024), n_nuclei=300, seed=1)
    n = len(np.unique(labels)) - 1
    touching = int(np.count_nonzero((labels[:, 1:] != labels[:, :-1]) & (labels[:, 1:] > 0) & (labels[:, :-1] > 0)))
    print(f"1024x1024: {n} instances ({touching} touching pixel pairs)")
    t_ref, ref = timed(textbook_weight_map, labels)
    t_fast, fast = timed(unet_weight_map, labels, repeat=3)
    t_edt, _ = timed(ndi.distance_transform_edt, labels == 0, repeat=3)
    diff = float(np.max(np.abs(fast.astype(np.float64) - ref)))
    print(f"  textbook (one EDT per instance) {t_ref:8.2f} s")
    print(f"  unet_weight_map                 {t_fast:8.3f} s   speedup {t_ref / t_fast:6.0f}x   (target >= 100x)")
    print(f"  one full-image EDT              {t_edt:8.3f} s   ratio   {t_fast / t_edt:6.2f}x   (target <= 4x)")
    print(f"  max |difference|                {diff:.2e}            (target <= 1e-3)")
    if args.quick:
        return
    _, labels = synthetic_nuclei((2048, 2048), n_nuclei=1200, seed=2)
    report_large("2048x2048", labels)
    labels = synthetic_cells_3d((64, 512, 512), n_cells=500, seed=3)
    report_large("3D 64x512x512 (spacing 1)", labels)
    report_large("3D 64x512x512 (spacing 2, 0.5, 0.5)", labels, spacing=(2.0, 0.5, 0.5))


if __name__ == "__main__":
    main()
