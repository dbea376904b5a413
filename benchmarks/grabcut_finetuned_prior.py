"""GrabCut boxes on real nuclei with a learned prior from a U-Net fine-tuned for a few minutes (issue 17).

The shipped U-Net is fine-tuned on the left half of the real Hoechst image in ``sample_data/real/`` for
``--minutes`` (default 3) on this CPU; GrabCut then runs on one box per nucleus of the right half (bounding box
+ 4 px, nuclei away from the border) without a prior, with the shipped model's prior and with the fine-tuned
model's prior, in one run. The reference labels were made by software, not people (sample_data/real/README.md):
the figures compare the three settings on one yardstick, they are not accuracy claims.

Run: ``python benchmarks/grabcut_finetuned_prior.py [--minutes 3] [--image IMG --masks MASKS] [--crop r0,c0,h,w]
[--prior-weights 2 8]``
(another image: its left and right halves, as ``train_real.py`` splits them). The shipped U-Net's second round
trained on frames t01-t09 of the default image's time-lapse, so on the default image the "shipped" row is no longer
zero-shot; HeLa t19 (``--crop 47,245,512,512`` of the CTC frame, see ``real_images.py``) is.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_real import REAL, load_halves, parse_crop  # noqa: E402


def _boxes(labels, pad=4, margin=6):
    from scipy import ndimage as ndi

    h, w = labels.shape
    out = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        r0, r1, c0, c1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        if r0 < margin or c0 < margin or r1 > h - margin or c1 > w - margin:
            continue
        out.append((i, (max(r0 - pad, 0), max(c0 - pad, 0), min(r1 + pad, h), min(c1 + pad, w))))
    return out


def _score(image, labels, boxes, prior, prior_weight=None):
    from napari_segsuite.core.graphcut import grabcut

    ious, empty = [], 0
    t0 = time.perf_counter()
    for i, box in boxes:
        mask = grabcut(image, box, prior=prior, prior_weight=prior_weight)
        truth = labels == i
        empty += int(not mask.any())
        ious.append((mask & truth).sum() / max((mask | truth).sum(), 1))
    return float(np.mean(ious)), empty, (time.perf_counter() - t0) / len(boxes)


def main(argv=None) -> None:
    from napari_segsuite.core import sample_path, train_unet
    from napari_segsuite.core.graphcut import model_prior
    from napari_segsuite.core.training.checkpoint import open_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="fine-tuning time on this machine")
    ap.add_argument("--image", default=str(REAL / "scratch_assay_hoechst_t00.tif"))
    ap.add_argument("--masks", default=str(REAL / "scratch_assay_hoechst_t00_masks.tif"))
    ap.add_argument("--crop", type=parse_crop, default=None, help="r0,c0,h,w: use this part of the image")
    ap.add_argument("--prior-weights", type=float, nargs="+", default=[None],
                    help="GrabCut's prior_weight values to score the priors with (default: GrabCut's default)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    (left_img, left_lab), (right_img, right_lab) = load_halves(args.image, args.masks, args.crop)
    left_lab, right_lab = left_lab.astype(np.int32), right_lab.astype(np.int32)
    boxes = _boxes(right_lab)
    shipped = open_checkpoint(sample_path("unet_nuclei.pt"), "unet")
    t0, c0 = time.perf_counter(), time.process_time()
    tuned = train_unet([(left_img, left_lab)], init=shipped, time_limit=args.minutes * 60,
                       epochs=1000, val_fraction=0.2, device="cpu", patience=0)
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{Path(args.image).name}: fine-tuned the shipped U-Net on the left half for {train_wall / 60:.1f} min wall "
          f"({train_cpu / 60:.1f} min CPU); {len(boxes)} boxes on the right half (software-made reference)")
    print(f"{'GrabCut prior':<28} {'mean IoU':>8} {'empty':>6} {'ms/box':>7}")
    regions = [b for _, b in boxes]
    iou, empty, per_box = _score(right_img, right_lab, boxes, None)
    print(f"{'none':<28} {iou:>8.3f} {empty:>6d} {per_box * 1e3:>7.1f}")
    for name, prior in (("shipped U-Net", model_prior(shipped, right_img, regions, device="cpu")),
                        ("fine-tuned U-Net", model_prior(tuned, right_img, regions, device="cpu"))):
        for weight in args.prior_weights:
            label = name if weight is None else f"{name}, weight {weight:g}"
            iou, empty, per_box = _score(right_img, right_lab, boxes, prior, weight)
            print(f"{label:<28} {iou:>8.3f} {empty:>6d} {per_box * 1e3:>7.1f}")


if __name__ == "__main__":
    main()
