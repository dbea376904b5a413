"""GrabCut benchmark: accuracy on synthetic fluorescence nuclei and time per box against OpenCV.

    PYTHONPATH=src python benchmarks/grabcut.py [--seeds 0 1 2] [--quick]

For every ground-truth nucleus of the ``nuclei_test`` sample (and of extra ``synthetic_nuclei`` fields),
a box 4 px larger than the nucleus on every side is cut by

* ``segsuite``: :func:`napari_segsuite.core.grabcut` (own GMM + scipy max-flow, defaults);
* ``otsu``: an Otsu threshold of the pixels inside the box (the floor to beat);
* ``opencv``: ``cv2.grabCut`` on the same crop (box + the same margin), robustly scaled to 8 bit, gray
  copied to three channels, 5 iterations, ``GC_INIT_WITH_RECT``, fixed RNG seed.

It prints the mean IoU against the nucleus's ground truth, the number of empty masks and the median time
per box; the time ratio segsuite/opencv is measured in the same run (boxes alternate between methods).
Then boxes drawn over plain background (random sizes 10-45 px, no nucleus within 2 px): how many come
back non-empty, i.e. a fake object, with the default contrast test and with it off (``min_contrast=0``),
and for OpenCV. Last, the astronaut RGB image (scikit-image) with a box around the person, IoU between
segsuite and OpenCV (no ground truth there; a sanity check that RGB works) and the foreground fraction of
each.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage as ndi

from napari_segsuite.core.graphcut.boxes import grabcut
from napari_segsuite.core.samples import load_sample
from napari_segsuite.core.samples.synthetic import synthetic_nuclei

PAD = 4
MARGIN = 10


def nucleus_boxes(labels, pad=PAD):
    h, w = labels.shape
    out = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        out.append((i, (max(sl[0].start - pad, 0), max(sl[1].start - pad, 0),
                        min(sl[0].stop + pad, h), min(sl[1].stop + pad, w))))
    return out


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def otsu_in_box(image, box):
    from skimage.filters import threshold_otsu

    r0, c0, r1, c1 = box
    out = np.zeros(image.shape[:2], bool)
    patch = image[r0:r1, c0:c1].astype(np.float64)
    if patch.ndim == 3:
        patch = patch.mean(-1)
    out[r0:r1, c0:c1] = patch > threshold_otsu(patch) if np.ptp(patch) > 0 else False
    return out


def to_uint8_rgb(crop):
    x = crop.astype(np.float64)
    if x.ndim == 2:
        x = x[..., None]
    lo, hi = np.percentile(x, (1, 99), axis=(0, 1))
    u8 = np.clip((x - lo) / np.maximum(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(u8, 3, axis=2) if u8.shape[2] == 1 else u8[..., :3])


def opencv_grabcut(image, box, margin=MARGIN, n_iter=5):
    import cv2

    h, w = image.shape[:2]
    r0, c0, r1, c1 = box
    y0, x0, y1, x1 = max(r0 - margin, 0), max(c0 - margin, 0), min(r1 + margin, h), min(c1 + margin, w)
    crop = to_uint8_rgb(image[y0:y1, x0:x1])
    t = time.perf_counter()
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.setRNGSeed(0)
    rect = (c0 - x0, r0 - y0, c1 - c0, r1 - r0)
    try:
        cv2.grabCut(crop, mask, rect, np.zeros((1, 65)), np.zeros((1, 65)), n_iter, cv2.GC_INIT_WITH_RECT)
    except cv2.error:  # e.g. the rect covers the whole crop
        mask[:] = 0
    dt = time.perf_counter() - t
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return out, dt


def nuclei_benchmark(fields):
    rows = {"segsuite": [], "otsu": [], "opencv": []}
    times = {"segsuite": [], "opencv": []}
    for name, image, labels in fields:
        for i, box in nucleus_boxes(labels):
            gt = labels == i
            t = time.perf_counter()
            m = grabcut(image, box, margin=MARGIN)
            times["segsuite"].append(time.perf_counter() - t)
            rows["segsuite"].append((iou(m, gt), int(m.sum())))
            m_cv, dt = opencv_grabcut(image, box)
            times["opencv"].append(dt)
            rows["opencv"].append((iou(m_cv, gt), int(m_cv.sum())))
            m_o = otsu_in_box(image, box)
            rows["otsu"].append((iou(m_o, gt), int(m_o.sum())))
    return rows, times


def background_boxes(labels, n, rng, pad=2):
    """``n`` random boxes (10-45 px a side) with no labelled pixel within ``pad`` px."""
    h, w = labels.shape
    out = []
    for _ in range(200 * n):
        bh, bw = rng.integers(10, 46, 2)
        r, c = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        if not labels[max(r - pad, 0):r + bh + pad, max(c - pad, 0):c + bw + pad].any():
            out.append((r, c, r + int(bh), c + int(bw)))
            if len(out) == n:
                break
    return out


def empty_box_check(fields, n=100, seed=0):
    """Fake objects returned for boxes over plain background."""
    rng = np.random.default_rng(seed)
    for name, image, labels in fields:
        boxes = background_boxes(labels, n, rng)
        fake = {"segsuite": 0, "segsuite, min_contrast=0": 0, "opencv": 0}
        for box in boxes:
            fake["segsuite"] += bool(grabcut(image, box, margin=MARGIN).any())
            fake["segsuite, min_contrast=0"] += bool(grabcut(image, box, margin=MARGIN, min_contrast=0).any())
            fake["opencv"] += bool(opencv_grabcut(image, box)[0].any())
        print(f"{name}: {len(boxes)} plain-background boxes, non-empty results (fake objects): "
              + ", ".join(f"{k} {v}" for k, v in fake.items()))


def astronaut_check():
    from skimage import data

    img = data.astronaut()
    box = (20, 120, 512, 440)  # the person, head to the bottom edge
    t = time.perf_counter()
    ours = grabcut(img, box, channel_axis=-1)
    t_ours = time.perf_counter() - t
    theirs, t_cv = opencv_grabcut(img, box)
    area = (box[2] - box[0]) * (box[3] - box[1])
    print(f"astronaut RGB 512x512, box {box}: segsuite {t_ours * 1e3:.0f} ms, "
          f"fg {ours.sum() / area:.2f} of box; "
          f"opencv {t_cv * 1e3:.0f} ms, fg {theirs.sum() / area:.2f} of box; IoU(segsuite, opencv) "
          f"{iou(ours, theirs):.3f}")
    return ours, theirs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2], help="extra synthetic_nuclei fields")
    ap.add_argument("--no-astronaut", action="store_true")
    args = ap.parse_args(argv)
    fields = [("nuclei_test", *load_sample("nuclei_test"))]
    fields += [(f"synthetic seed {s}", *synthetic_nuclei((256, 256), seed=s)) for s in args.seeds]
    for name, image, labels in fields:
        rows, times = nuclei_benchmark([(name, image, labels)])
        print(f"{name}: {len(rows['segsuite'])} nuclei, boxes +{PAD} px, crop margin {MARGIN} px")
        for method, vals in rows.items():
            ious = np.array([v[0] for v in vals])
            empty = sum(v[1] == 0 for v in vals)
            tm = f"  {np.median(times[method]) * 1e3:6.2f} ms/box" if method in times else ""
            print(f"  {method:<9} mean IoU {ious.mean():.3f}  median {np.median(ious):.3f}  "
                  f"min {ious.min():.3f}  empty {empty}{tm}")
        ratio = np.median(times["segsuite"]) / np.median(times["opencv"])
        print(f"  time per box segsuite / opencv (medians, same crops, same run): {ratio:.2f}x")
    empty_box_check(fields)
    if not args.no_astronaut:
        astronaut_check()


if __name__ == "__main__":
    main()
