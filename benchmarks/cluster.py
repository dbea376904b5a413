"""Pixel clustering against scikit-learn, measured in the same run.

Run: PYTHONPATH=src python benchmarks/cluster.py [--skip-sklearn-meanshift]
Prints, for each target of the pixel-clustering issue, our time, scikit-learn's, their ratio and the
agreement of the partitions (adjusted Rand index):
  1. clean synthetic image: the true partition for k-means, GMM and mean shift (ARI 1.0);
  2. k-means, 2048x2048 RGB: ours / KMeans(n_init=1) fitted on every pixel (target <= 1.5);
  3. mean shift, 512x512 RGB: MeanShift(bin_seeding=True) / ours at the same bandwidth (target >= 5;
     the estimated bandwidth and half of it),
     and the partitions' ARI (target: nearly the same);
  4. two-cluster k-means foreground vs an Otsu threshold, IoU against the labels (target >= 0.70).
     No real labelled nuclei image ships with the project or a usable package yet, so this uses the
     synthetic sample ``nuclei_test``; the real-image check is still to do.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def timed(fn):
    t = time.perf_counter()
    c = time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def clean_image(shape=(256, 256), seed=0):
    rng = np.random.default_rng(seed)
    truth = np.ones(shape, np.int32)
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    for _ in range(12):
        r, c, rad = rng.integers(20, shape[0] - 20), rng.integers(20, shape[1] - 20), rng.integers(6, 18)
        truth[(rr - r) ** 2 + (cc - c) ** 2 < rad ** 2] = rng.integers(2, 4)
    colours = np.array([[0, 0, 0], [230, 200, 220], [150, 60, 140], [60, 30, 120]], float)  # H&E-like
    image = colours[truth] + rng.normal(0, 6, shape + (3,))
    ordered = {1: 3, 2: 2, 3: 1}  # mean brightness: background brightest, dark purple darkest
    return np.clip(image, 0, 255).astype(np.uint8), np.vectorize(ordered.get)(truth)


def he_like(shape, seed=0):
    """A textured H&E-like RGB image: the synthetic histology sample tiled (mirrored) to ``shape``."""
    from napari_segsuite.core import synthetic_histology

    tile = synthetic_histology((512, 512), seed=seed, return_labels=False)
    tile = np.asarray(tile[0] if isinstance(tile, tuple) else tile)
    reps = (-(-shape[0] // 512), -(-shape[1] // 512), 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:shape[0], :shape[1]])


def main(skip_sklearn_meanshift=False):
    from sklearn.cluster import KMeans, MeanShift
    from sklearn.metrics import adjusted_rand_score as ari
    from threadpoolctl import threadpool_info

    from napari_segsuite.core import cluster_pixels, load_sample
    from napari_segsuite.core.cluster.meanshift import estimate_bandwidth

    print(f"cores: {os.cpu_count()}; BLAS/OpenMP: "
          + ", ".join(f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()))

    print("\n1. clean synthetic H&E-like image, 256x256 RGB, 3 classes")
    image, truth = clean_image()
    for method in ("kmeans", "gmm", "meanshift"):
        labels, wall, _ = timed(lambda m=method: cluster_pixels(image, method=m, n_clusters=3, channel_axis=-1))
        exact = np.array_equal(labels, truth)
        print(f"   {method:9s} ARI vs truth {ari(truth.ravel(), labels.ravel()):.4f}  exact ids: {exact}  "
              f"{wall:.2f} s")

    print("\n2. k-means, 2048x2048 RGB (H&E-like), k=3")
    big = he_like((2048, 2048))
    ours, t_ours, c_ours = timed(lambda: cluster_pixels(big, n_clusters=3, channel_axis=-1))
    x = big.reshape(-1, 3).astype(np.float64)
    ref, t_ref, c_ref = timed(lambda: KMeans(n_clusters=3, n_init=1, random_state=0).fit(x).labels_)
    print(f"   ours {t_ours:.2f} s (cpu {c_ours:.2f}), sklearn KMeans(n_init=1) {t_ref:.2f} s (cpu {c_ref:.2f}); "
          f"ours/sklearn = {t_ours / t_ref:.2f} (target <= 1.5); ARI {ari(ref, ours.ravel()):.4f}")

    print("\n3. mean shift, 512x512 RGB (H&E-like), same bandwidth (the estimated one, then half of it)")
    mid = he_like((512, 512), seed=1)
    feats = mid.reshape(-1, 3).astype(np.float64)
    estimated = estimate_bandwidth(feats, seed=0)
    for bw in (estimated, estimated / 2):
        ours, t_ours, c_ours = timed(lambda b=bw: cluster_pixels(mid, method="meanshift", bandwidth=b,
                                                                  channel_axis=-1))
        print(f"   bandwidth {bw:.2f}: ours {t_ours:.2f} s (cpu {c_ours:.2f}), {ours.max()} clusters")
        if skip_sklearn_meanshift:
            print("   sklearn MeanShift skipped")
            continue
        ms, t_ref, c_ref = timed(lambda b=bw: MeanShift(bandwidth=b, bin_seeding=True, n_jobs=1).fit(feats))
        print(f"   sklearn MeanShift(bin_seeding=True) {t_ref:.2f} s (cpu {c_ref:.2f}), "
              f"{len(ms.cluster_centers_)} clusters; sklearn/ours = {t_ref / t_ours:.1f} (target >= 5); "
              f"ARI {ari(ms.labels_, ours.ravel()):.4f}; "
              f"pixels in the same cluster after matching: {matched_agreement(ms.labels_, ours.ravel()):.4f}")

    print("\n4. two-cluster k-means foreground vs Otsu (synthetic nuclei_test: no real labelled image yet)")
    from skimage.filters import threshold_otsu

    img, gt = load_sample("nuclei_test")
    fg_truth = gt > 0
    km = cluster_pixels(img, n_clusters=2) == 2
    otsu = img > threshold_otsu(img)
    for name, fg in (("k-means (k=2)", km), ("Otsu", otsu)):
        print(f"   {name:14s} IoU {(fg & fg_truth).sum() / (fg | fg_truth).sum():.3f} (target >= 0.70)")


def matched_agreement(a, b):
    """Fraction of pixels whose cluster in ``a`` is the one most overlapping their cluster in ``b``."""
    table = np.zeros((a.max() + 1, b.max() + 1), np.int64)
    np.add.at(table, (a, b), 1)
    return table.max(0).sum() / a.size


if __name__ == "__main__":
    main(skip_sklearn_meanshift="--skip-sklearn-meanshift" in sys.argv)
