"""Partial labels: AP@0.5 on a held-out synthetic field after training on

- full labels (every cell of the training field),
- a region covering 25% of the field (the left quarter; cells reaching outside it erased),
- the same 25% labels without the region (the erased cells then count as background).

Usage: python benchmarks/partial_labels.py [--model unet|maskrcnn] [--steps N] [--size PX]
The U-Net trains from scratch (CPU defaults); Mask R-CNN fine-tunes the shipped sample model (from scratch it
needs minutes per run here). Prints a table; keep runs short on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("unet", "maskrcnn"), default="unet")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--size", type=int, default=256, help="side of the training and test fields")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from napari_segsuite.core import average_precision, sample_path, synthetic_nuclei

    torch.set_num_threads(args.threads)
    n = args.size
    image, gt = synthetic_nuclei((n, n), seed=1)
    test_image, test_gt = synthetic_nuclei((n, n), seed=2)
    cut = n // 4
    region = np.zeros(gt.shape, bool)
    region[:, :cut] = True
    quarter = np.where(np.isin(gt, np.unique(gt[:, cut:])), 0, gt)
    runs = [("full labels", (image, gt)), ("25% region", (image, quarter, region)),
            ("25% labels, no region", (image, quarter))]

    def train(item):
        if args.model == "unet":
            from napari_segsuite.core.unet import predict_unet, train_unet

            ckpt = train_unet([item], epochs=1, steps_per_epoch=args.steps, batch_size=4, patch_size=64,
                              val_fraction=0, device="cpu", seed=0)
            return predict_unet(ckpt, test_image, device="cpu")
        from napari_segsuite.core.maskrcnn import predict_maskrcnn, train_maskrcnn

        ckpt = train_maskrcnn([item], init=sample_path("maskrcnn_nuclei.pt"), epochs=1, steps_per_epoch=args.steps,
                              batch_size=2, patch_size=96, learning_rate=5e-4, val_fraction=0, device="cpu", seed=0)
        return predict_maskrcnn(ckpt, test_image, device="cpu")[0]

    print(f"{args.model}: {args.steps} steps, {n}x{n} training field ({int(gt.max())} cells, "
          f"{len(np.unique(quarter)) - 1} in the 25% region), held-out field {int(test_gt.max())} cells")
    print(f"{'training labels':<24}{'AP@0.5':>8}{'AP@0.75':>9}{'cells found':>13}{'CPU s':>8}")
    for name, item in runs:
        t = time.process_time()
        pred = train(item)
        res = average_precision(test_gt, pred, thresholds=(0.5, 0.75))
        print(f"{name:<24}{res['ap'][0]:>8.3f}{res['ap'][1]:>9.3f}{int(pred.max()):>13d}"
              f"{time.process_time() - t:>8.1f}")


if __name__ == "__main__":
    main()
