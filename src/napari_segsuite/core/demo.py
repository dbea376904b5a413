"""``segsuite demo --headless OUT_DIR``: run every backend on the sample data, write results, print metrics.

Each backend contributes a step ``(name, function)``; ``function(out_dir) -> list of (result_name, pred
labels or None, gt labels or None, image for the overview)``. Results are written as TIFF plus a PNG overview.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .io import write_tiff
from .labels import smallest_uint_dtype
from .samples import load_sample

__all__ = ["run_headless_demo", "DEMO_STEPS", "save_overview"]


def save_overview(path, image, labels) -> None:
    """Write a PNG of the image (contrast-stretched) with label outlines in colour."""
    from skimage import io as skio
    from skimage.color import gray2rgb
    from skimage.segmentation import find_boundaries

    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3 and img.shape[-1] not in (3, 4):
        img = img[img.shape[0] // 2]
        labels = labels[labels.shape[0] // 2] if labels is not None and labels.ndim == 3 else labels
    lo, hi = np.percentile(img, (0.5, 99.5))
    img = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = gray2rgb(img) if img.ndim == 2 else img[..., :3]
    if labels is not None:
        edges = find_boundaries(labels, mode="inner")
        colours = np.random.default_rng(0).uniform(0.3, 1.0, (int(labels.max()) + 1, 3))
        rgb = rgb.copy()
        rgb[edges] = colours[labels[edges]]
    skio.imsave(str(path), (rgb * 255).astype(np.uint8), check_contrast=False)


def _step_ground_truth(out_dir):
    image, gt = load_sample("nuclei_test")
    return [("ground_truth", gt, gt, image)]


def _step_unet(out_dir):
    """The shipped sample U-Net (sample_data/unet_nuclei.pt) predicting the test field."""
    from .samples import sample_path
    from .unet.infer import predict_unet

    image, gt = load_sample("nuclei_test")
    labels, prob = predict_unet(sample_path("unet_nuclei.pt"), image, device="cpu", return_probabilities=True)
    write_tiff(Path(out_dir) / "unet_probability.tif", prob)
    return [("unet", labels, gt, image)]


def _step_weight_map(out_dir):
    from .weightmap import unet_weight_map

    _, gt = load_sample("nuclei_test")
    weights = unet_weight_map(gt, class_weights="balanced")
    return [("weight_map", weights, None, weights)]  # float32 TIFF + grey PNG; no metrics


def _step_grabcut(out_dir):
    """GrabCut with one box per ground-truth nucleus, 4 px larger than the nucleus on every side."""
    from scipy import ndimage as ndi

    from .graphcut import grabcut_boxes

    image, gt = load_sample("nuclei_test")
    h, w = gt.shape
    boxes = [(max(sl[0].start - 4, 0), max(sl[1].start - 4, 0), min(sl[0].stop + 4, h), min(sl[1].stop + 4, w))
             for sl in ndi.find_objects(gt) if sl is not None]
    return [("grabcut_boxes", grabcut_boxes(image, boxes), gt, image)]

def _step_export(out_dir):
    """Export the ground truth in every dataset layout and read each back (round trip must be exact)."""
    from .dataset import export_dataset, load_dataset

    image, gt = load_sample("nuclei_test")
    results = []
    for fmt in ("tiff", "ome-zarr", "coco"):
        folder = Path(out_dir) / f"dataset_{fmt.replace('-', '_')}"
        export_dataset(folder, [("nuclei_test", image, gt, {"source_image": "nuclei_test.tif"})], format=fmt,
                       overwrite=True, parameters={"written_by": "segsuite demo --headless"})
        (item,) = [it for it in load_dataset(folder) if it.name == "nuclei_test"]
        if not (np.array_equal(item.image, image) and np.array_equal(item.mask, gt)):
            raise RuntimeError(f"{fmt} export did not read back identically")
        results.append((f"export_{fmt.replace('-', '_')}_roundtrip", item.mask.astype(np.int32), gt, image))
    return results


def _step_maskrcnn(out_dir):
    """Mask R-CNN: the shipped sample model (slim ResNet-18-FPN) on the test field, tiled."""
    from .maskrcnn import predict_maskrcnn
    from .samples import sample_path

    image, gt = load_sample("nuclei_test")
    labels, _table = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), image, tile_size=256, overlap=64,
                                      device="cpu")
    return [("maskrcnn", labels, gt, image)]


#: (backend name, step function). Backends append theirs.
DEMO_STEPS = [("ground truth (reference)", _step_ground_truth), ("border weight map", _step_weight_map),
              ("GrabCut (GT boxes +4 px)", _step_grabcut),
              ("training-data export", _step_export),
              ("Mask R-CNN (sample model)", _step_maskrcnn),
              ("U-Net (sample model)", _step_unet)]


def _foreground_regions(merged, brightness, bright_objects=True):
    """Keep merged regions whose mean brightness is on the object side of Otsu's threshold (demo only)."""
    from skimage.filters import threshold_otsu

    from .labels import relabel_sequential

    counts = np.bincount(merged.ravel())
    means = np.bincount(merged.ravel(), weights=brightness.ravel()) / np.maximum(counts, 1)
    cut = threshold_otsu(brightness)
    keep = means > cut if bright_objects else means < cut
    keep[0] = False
    out = np.where(keep[merged], merged, 0)
    return relabel_sequential(out)[0] if out.any() else out.astype(np.int32)


def _step_superpixels(out_dir):
    from .superpixels import build_graph, slic_superpixels

    results = []
    image, gt = load_sample("nuclei_test")
    sp = slic_superpixels(image)  # the defaults (N_SEGMENTS, COMPACTNESS)
    graph = build_graph(image, sp)
    lo, hi = np.percentile(image, (1, 99))
    merged = graph.merge(0.1 * (hi - lo), "hierarchical")
    results.append(("superpixels_nuclei", sp, None, image))
    results.append(("superpixels_merged_nuclei", _foreground_regions(merged, image.astype(float)), gt, image))
    rgb, gt_h = load_sample("histology")
    sp_h = slic_superpixels(rgb, n_segments=600, compactness=20, channel_axis=-1)
    merged_h = build_graph(rgb, sp_h, channel_axis=-1).merge(40.0, "hierarchical")
    results.append(("superpixels_histology", sp_h, None, rgb))
    results.append(("superpixels_merged_histology",
                    _foreground_regions(merged_h, rgb.astype(float).mean(axis=-1), bright_objects=False), gt_h, rgb))
    return results


DEMO_STEPS.append(("SLIC + RAG merge (superpixels)", _step_superpixels))



def run_headless_demo(out_dir, out=sys.stdout) -> dict:
    """Run every available backend on the sample data; write ``NAME.tif`` + ``NAME.png`` per result.

    Returns
    -------
    dict
        result name -> metrics (evaluate_segmentation) against ground truth, where it applies.
    """
    from .metrics import evaluate_segmentation

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {}
    for backend, step in DEMO_STEPS:
        t0 = time.perf_counter()
        results = step(out_dir)
        dt = time.perf_counter() - t0
        for name, pred, gt, image in results:
            if pred is not None:
                arr = np.asarray(pred)
                if arr.dtype.kind in "iu":
                    arr = arr.astype(smallest_uint_dtype(int(arr.max())))
                write_tiff(out_dir / f"{name}.tif", arr)
            save_overview(out_dir / f"{name}.png", image,
                          pred if pred is not None and np.asarray(pred).dtype.kind in "iu" else None)
            line = f"{backend:<32} {name:<30} {dt:6.1f} s"
            if gt is not None and pred is not None:
                m = evaluate_segmentation(gt, pred)
                summary[name] = m
                line += f"  AP@0.5 {m['ap50']:.3f}  AP@0.75 {m['ap75']:.3f}  mAP {m['map']:.3f}  IoU {m['iou']:.3f}"
            print(line, file=out, flush=True)
    print(f"results written to {out_dir}", file=out)
    return summary
