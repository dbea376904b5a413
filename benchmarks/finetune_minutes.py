"""AP against minutes of fine-tuning from the shipped models on a real image (issue 16's figure).

    PYTHONPATH=src python benchmarks/finetune_minutes.py [--minutes 0,1,2,4] [--methods unet,maskrcnn]
        [--image IMG.tif --masks MASKS.tif] [--crop r0,c0,h,w] [--threads 2] [--json results.json] [--freeze-norm]

Each budget is its own run, as a user gets it: ``train_unet`` / ``train_maskrcnn`` with ``init=`` the shipped
model and ``time_limit=`` the budget (so the learning-rate schedule fits the budget), trained on the left half of
the image and scored on the right half (``benchmarks/train_real.py``'s split, loader and scoring). Budget 0 is
the shipped model itself, predicted the same way (at the image's own scale). The runs go one after another,
never side by side; the table gives AP@0.5, AP@0.75, the steps taken, and the training's wall and CPU seconds.

Default image: ``sample_data/real/scratch_assay_hoechst_t00`` (real Hoechst nuclei; labels made by software,
see its README), so the figures compare budgets on one yardstick; they are not accuracy claims.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_real import REAL, load_halves, parse_crop, run_ours, score  # noqa: E402


def parse_minutes(text: str) -> list[float]:
    """``"0,1,2,4"`` as a list of budgets in minutes (each >= 0)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--minutes wants numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"--minutes wants budgets >= 0, got {text!r}")
    return values


def shipped_prediction(method: str, test_image) -> dict:
    """The shipped model on the test half, predicted like a fine-tuned one (0 minutes of training)."""
    from napari_segsuite.core.samples import sample_path

    if method == "unet":
        from napari_segsuite.core.unet import predict_unet

        pred = predict_unet(sample_path("unet_nuclei.pt"), test_image, device="cpu")
    else:
        from napari_segsuite.core.maskrcnn import predict_maskrcnn

        pred = predict_maskrcnn(sample_path("maskrcnn_nuclei.pt"), test_image, device="cpu")[0]
    return {"pred": np.asarray(pred), "train_wall_s": 0.0, "train_cpu_s": 0.0, "info": {"steps": 0}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(REAL / "scratch_assay_hoechst_t00.tif"))
    p.add_argument("--masks", default=str(REAL / "scratch_assay_hoechst_t00_masks.tif"))
    p.add_argument("--crop", type=parse_crop, default=None, help="r0,c0,h,w: use this part of the image")
    p.add_argument("--minutes", type=parse_minutes, default=[0.0, 1.0, 2.0, 4.0], help="budgets (default 0,1,2,4)")
    p.add_argument("--methods", default="unet,maskrcnn", help="comma-separated: unet, maskrcnn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--freeze-norm", action="store_true",
                   help="Mask R-CNN: keep the shipped model's batch-norm statistics (as the widget's fine-tuning does)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or set(methods) - {"unet", "maskrcnn"}:
        p.error(f"--methods: choose from unet,maskrcnn, got {args.methods!r}")
    import torch

    torch.set_num_threads(args.threads)
    (train_img, train_lab), (test_img, test_lab) = load_halves(args.image, args.masks, args.crop)
    print(f"{Path(args.image).name}{'' if args.crop is None else ' crop ' + str(args.crop)}: fine-tune the shipped "
          f"models on the left {train_img.shape[0]}x{train_img.shape[1]} ({len(np.unique(train_lab)) - 1} objects), "
          f"score the right half ({len(np.unique(test_lab)) - 1} objects, labels made by software); "
          f"{args.threads} thread(s), one run at a time", flush=True)
    rows = []
    print(f"{'model':<11} {'minutes':>7} {'AP@0.5':>7} {'AP@0.75':>7} {'steps':>6} {'wall s':>7} {'CPU s':>7}",
          flush=True)
    for method in methods:
        for minutes in args.minutes:
            t0 = time.perf_counter()
            if minutes == 0:
                run = shipped_prediction(method, test_img)
            else:
                extra = {"freeze_norm": True} if args.freeze_norm and method == "maskrcnn" else {}
                run = run_ours(method, (train_img, train_lab), test_img, 60.0 * minutes, None, start="shipped", **extra)
            s = score(test_lab, run["pred"])
            row = {"method": method, "minutes": minutes, **s, "steps": run["info"].get("steps"),
                   "train_wall_s": round(run["train_wall_s"], 1), "train_cpu_s": round(run["train_cpu_s"], 1),
                   "total_wall_s": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            print(f"{method:<11} {minutes:>7g} {s['ap50']:>7.3f} {s['ap75']:>7.3f} {str(row['steps']):>6} "
                  f"{row['train_wall_s']:>7.1f} {row['train_cpu_s']:>7.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"image": args.image, "crop": args.crop, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
