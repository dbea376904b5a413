"""Train the small U-Net shipped as ``sample_data/unet_nuclei.pt`` (used by the demo and the tests).

Run from the repository root::

    PYTHONPATH=src python scripts/train_sample_models.py [--minutes 9] [--threads 1]

Trains with the default CPU settings (base 16, depth 3, 2 classes, border weight map w0=10, sigma=5) on
``sample_data/nuclei_train.tif`` + masks, then reports AP@0.5 on ``nuclei_test``. The stored file keeps
only the best weights (no optimizer state), about 2 MB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=9.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "sample_data" / "unet_nuclei.pt")
    parser.add_argument("--state", type=Path, default=None,
                        help="also keep the full training state here every epoch (to continue with --resume)")
    parser.add_argument("--resume", type=Path, default=None, help="continue the training stored in this state file")
    args = parser.parse_args(argv)

    import torch

    from napari_segsuite.core.metrics import evaluate_segmentation
    from napari_segsuite.core.progress import run
    from napari_segsuite.core.samples import load_sample
    from napari_segsuite.core.unet import iter_train_unet, predict_unet, save_checkpoint

    torch.set_num_threads(args.threads)
    image, labels = load_sample("nuclei_train")
    t0 = time.perf_counter()

    def report(event):
        if event.info.get("epoch_end"):
            print(f"{time.perf_counter() - t0:6.0f} s  {event.message}", flush=True)

    ckpt = run(iter_train_unet([(image, labels)], epochs=args.epochs, device="cpu", seed=0,
                               time_limit=args.minutes * 60, checkpoint_path=args.state, resume=args.resume),
               progress=report)
    minutes = (time.perf_counter() - t0) / 60
    ckpt.pop("resume", None)
    ckpt["history"]["trained_on"] = "sample_data/nuclei_train.tif"
    ckpt["history"]["minutes"] = round(minutes, 2)
    save_checkpoint(args.output, kind="unet", config=ckpt["config"], normalization=ckpt["normalization"],
                    state_dict=ckpt["state_dict"], history=ckpt["history"], training=ckpt["training"])
    test_image, test_labels = load_sample("nuclei_test")
    pred = predict_unet(args.output, test_image, device="cpu")
    m = evaluate_segmentation(test_labels, pred)
    print(f"trained {minutes:.1f} min; nuclei_test AP@0.5 {m['ap50']:.3f}  AP@0.75 {m['ap75']:.3f}  "
          f"IoU {m['iou']:.3f}  ({m['n_pred']} predicted, {m['n_gt']} true); wrote {args.output} "
          f"({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
