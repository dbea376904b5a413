"""Mask R-CNN benchmark (issue 7 targets), one run, figures printed.

1. Train with the defaults (slim ResNet-18-FPN on CPU) on ONE 512x256 crop of synthetic nuclei (~60 cells),
   test AP@0.5 on a different crop. Target: AP@0.5 >= 0.85, training <= 15 minutes on this 2-core CPU.
2. A 2048x2048 image of synthetic cells (hundreds straddle the 512-pixel tile seams): tiled (512, overlap 64)
   vs untiled inference must give the same instances (matched at IoU > 0.5) and no duplicates; time per tile.

    PYTHONPATH=src python benchmarks/maskrcnn.py [--model trained.pt] [--threads 1]

Times are wall-clock and process CPU time: the machine is shared, so CPU time is the fairer figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from napari_segsuite.core import synthetic_nuclei
from napari_segsuite.core.maskrcnn import (load_maskrcnn_checkpoint, model_from_checkpoint, predict_maskrcnn,
                                           save_maskrcnn_checkpoint, train_maskrcnn)
from napari_segsuite.core.maskrcnn.infer import tile_layout
from napari_segsuite.core.metrics import average_precision, evaluate_segmentation


def train_part(out: Path):
    image, labels = synthetic_nuclei((512, 256), seed=101)
    test_image, test_labels = synthetic_nuclei((512, 256), seed=202)
    print(f"training crop: {labels.max()} nuclei; test crop: {test_labels.max()} nuclei")
    t0, c0 = time.perf_counter(), time.process_time()

    def report(event):
        if "val AP" in event.message:
            print(f"  {time.perf_counter() - t0:6.0f} s wall {time.process_time() - c0:6.0f} s CPU  {event.message}",
                  flush=True)

    # Validation each epoch on the *test* crop: the printed per-epoch val AP@0.5 is the test figure, so a run
    # stopped early still reports it. The headline number is the last epoch's (no selection on the test crop).
    checkpoint = train_maskrcnn([(image, labels)], val_data=[(test_image, test_labels)], device="cpu",
                                progress=report)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    save_maskrcnn_checkpoint(out, checkpoint)
    h = checkpoint["history"]
    print(f"TRAIN defaults: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (target <= 15 min); "
          f"test-crop AP@0.5 at the last epoch {h['val_ap50'][-1]:.3f} (target >= 0.85), best {max(h['val_ap50']):.3f}")
    pred, _ = predict_maskrcnn(checkpoint, test_image, device="cpu")
    m = evaluate_segmentation(test_labels, pred)
    print(f"  best-epoch model on the test crop: AP@0.5 {m['ap50']:.3f}, AP@0.75 {m['ap75']:.3f}, "
          f"mAP {m['map']:.3f}, {m['n_pred']} predicted / {m['n_gt']} true")
    return checkpoint


def _owner_counts(gt, pred):
    """How many predicted instances have most of their pixels in each ground-truth cell."""
    ids = np.unique(pred[pred > 0])
    owners = []
    for i in ids:
        vals = gt[pred == i]
        vals = vals[vals > 0]
        if vals.size:
            owners.append(np.bincount(vals).argmax())
    return np.bincount(owners, minlength=gt.max() + 1)


def tiling_part(checkpoint):
    image, gt = synthetic_nuclei((2048, 2048), seed=303)
    # untiled: one image holds ~1900 cells, so allow 4000 detections (and 8000 proposals); tiled: the defaults
    cfg = dict(checkpoint["config"], detections_per_image=4000)
    model_whole = model_from_checkpoint({**checkpoint, "config": cfg})
    model = model_from_checkpoint(checkpoint)
    layout = tile_layout(gt.shape, 512, 64)
    seams = set()
    for _, _, (cy0, cy1, cx0, cx1) in layout:
        seams.update({("y", cy0), ("y", cy1), ("x", cx0), ("x", cx1)})
    straddle = set()
    for axis, pos in seams:
        if 0 < pos < 2048:
            a, b = (gt[pos - 1], gt[pos]) if axis == "y" else (gt[:, pos - 1], gt[:, pos])
            straddle.update(np.unique(a[(a == b) & (a > 0)]).tolist())
    print(f"2048x2048: {gt.max()} cells, {len(straddle)} straddle a tile-core seam; {len(layout)} tiles of 512")
    t0, c0 = time.perf_counter(), time.process_time()
    whole, _ = predict_maskrcnn(model_whole, image, tile_size=None, device="cpu")
    t_whole, c_whole = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    tiled, table = predict_maskrcnn(model, image, tile_size=512, overlap=64, device="cpu")
    t_tiled, c_tiled = time.perf_counter() - t0, time.process_time() - c0
    same = average_precision(whole, tiled, thresholds=(0.5,))
    dup_tiled = int((_owner_counts(gt, tiled) > 1).sum())
    dup_whole = int((_owner_counts(gt, whole) > 1).sum())
    m_t, m_w = evaluate_segmentation(gt, tiled), evaluate_segmentation(gt, whole)
    print(f"TILED vs UNTILED: {whole.max()} untiled, {tiled.max()} tiled instances; matched at IoU>0.5: "
          f"{same['tp'][0]}, only untiled: {same['fn'][0]}, only tiled: {same['fp'][0]} "
          f"(agreement {same['ap'][0]:.3f})")
    print(f"  duplicates (two predictions owned by one true cell): tiled {dup_tiled}, untiled {dup_whole}")
    print(f"  vs ground truth AP@0.5: tiled {m_t['ap50']:.3f}, untiled {m_w['ap50']:.3f}")
    print(f"  time: untiled {t_whole:.1f} s wall / {c_whole:.1f} s CPU; "
          f"tiled {t_tiled:.1f} s wall / {c_tiled:.1f} s CPU"
          f" = {t_tiled / len(layout):.2f} s wall, {c_tiled / len(layout):.2f} s CPU per 512x512 tile "
          f"(tiled/untiled CPU ratio {c_tiled / max(c_whole, 1e-9):.2f})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, help="skip training: use this checkpoint for the tiling part")
    parser.add_argument("--out", type=Path, default=Path("/tmp/segsuite_bench_maskrcnn.pt"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    checkpoint = load_maskrcnn_checkpoint(args.model) if args.model else train_part(args.out)
    tiling_part(checkpoint)


if __name__ == "__main__":
    main()
