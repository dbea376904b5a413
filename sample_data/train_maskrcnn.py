"""Train the small sample Mask R-CNN shipped as ``sample_data/maskrcnn_nuclei.pt``.

Slim ResNet-18-FPN (width 16, 64 FPN channels), from scratch on ``nuclei_train.tif`` (+ ``_masks``),
128x128 crops, one CPU thread, 600 steps (about 6 minutes of CPU time); weights stored as float16 (~4 MB).

    PYTHONPATH=src python sample_data/train_maskrcnn.py [--minutes M]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from napari_segsuite.core import load_sample
from napari_segsuite.core.maskrcnn import predict_maskrcnn, save_maskrcnn_checkpoint, train_maskrcnn
from napari_segsuite.core.metrics import evaluate_segmentation

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock limit (default: none)")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, default=HERE / "maskrcnn_nuclei.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image, labels = load_sample("nuclei_train")
    t0 = time.perf_counter()
    c0 = time.process_time()

    def report(event):
        if event.info.get("val_ap50") is not None and "val AP" in event.message:
            print(f"{time.perf_counter() - t0:6.0f} s  {event.message}", flush=True)

    checkpoint = train_maskrcnn([(image, labels)], config={"width": 16, "fpn_channels": 64}, device="cpu",
                                epochs=args.epochs, steps_per_epoch=25,
                                time_limit=None if args.minutes is None else args.minutes * 60,
                                save_half=True, progress=report)
    save_maskrcnn_checkpoint(args.output, checkpoint)
    test_image, test_labels = load_sample("nuclei_test")
    pred, table = predict_maskrcnn(args.output, test_image, device="cpu")
    m = evaluate_segmentation(test_labels, pred)
    print(f"trained {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; "
          f"nuclei_test: AP@0.5 {m['ap50']:.3f} AP@0.75 {m['ap75']:.3f} "
          f"({m['n_pred']} predicted, {m['n_gt']} true); {args.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
