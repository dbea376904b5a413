"""Train on one half of a real image under a wall-clock budget, score on the other half: ours against Cellpose.

Issue 16: both of our trainers, with their defaults, on one real image, against Cellpose 3 trained from
scratch under the same budget, the ratio always measured in one run::

    benchmarks/peers/make_cellpose_venv.sh            # once: Cellpose 3 in .venv-cellpose (see peers/README.md)
    PYTHONPATH=src python benchmarks/train_real.py [--minutes 10] [--methods unet,maskrcnn,cellpose]
        [--image IMG.tif --masks MASKS.tif] [--crop r0,c0,h,w] [--threads 2] [--seed 0]
        [--cellpose-python .venv-cellpose/bin/python] [--peer-diam-mean auto] [--json results.json]

What it does: loads a 2D image and its instance labels (default ``sample_data/real/scratch_assay_hoechst_t00``,
real Hoechst nuclei, 210x576; ``--crop`` takes a part first), trains on the left half (columns ``0 .. W//2``)
and predicts the right half. The methods run strictly one after another, never side by side (the machine has
2 cores), each with the same ``--minutes`` of training:

- ``unet``: ``train_unet([(image, labels)], time_limit=..., device="cpu")`` then ``predict_unet``;
- ``maskrcnn``: ``train_maskrcnn`` / ``predict_maskrcnn`` likewise;
- ``cellpose``: ``benchmarks/peers/cellpose_train.py`` in a subprocess of the Cellpose venv (Cellpose 3 pins
  numpy < 2.1 and cannot share ours): Cellpose 3 from scratch, AdamW, 112-pixel crops, trained by Cellpose's
  own ``train_seg`` with its epochs fitted to the budget (that script's docstring says how), and ``diam_mean``
  set for the cells' size as a user would (``--peer-diam-mean auto``: 17, the nuclei models' value, for cells
  under 20 pixels across, else 30; see ``peer_diam_mean``).

Ours get nothing but the data, the device and the time limit (and ``seed`` when ``--seed`` is not the default
0), so their defaults are what is measured. Note how the budgets are kept: our trainers check the limit after
every step and then finish the epoch's validation (seconds over); the Cellpose peer plans its epochs to end
inside the budget, its clock including its flow computation, and tops the plan up with more epochs when the
machine got faster after its calibration, so it trains until its deadline too.

Measured per method: AP@0.5 and AP@0.75 on the right half (``napari_segsuite.core.metrics.evaluate_segmentation``:
one-to-one matching at IoU > t, AP = TP / (TP + FP + FN)), the number of predicted and true objects, and the
wall and CPU seconds of training (CPU: this process's, all threads; Cellpose's from its subprocess). Then the
ratio of each of ours to Cellpose's AP@0.5 from the same run. ``--json`` writes everything.

The labels of ``sample_data/real`` were made by software, not drawn by people (see its README): the figures
compare trainers on the same reference, they are not accuracy claims. Objects cut by the split line appear,
cut, in both halves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "sample_data" / "real"
PEER = Path(__file__).resolve().parent / "peers" / "cellpose_train.py"
METHODS = ("unet", "maskrcnn", "cellpose")
NAMES = {"unet": "U-Net (ours)", "maskrcnn": "Mask R-CNN (ours)", "cellpose": "Cellpose 3 (peer)"}


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``"r0,c0,h,w"`` as four whole numbers (origin >= 0, size >= 2)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--crop wants r0,c0,h,w (four whole numbers), got {text!r}") from None
    if len(values) != 4 or min(values[:2]) < 0 or min(values[2:]) < 2:
        raise argparse.ArgumentTypeError(f"--crop wants r0,c0,h,w with r0, c0 >= 0 and h, w >= 2, got {text!r}")
    return values


def load_halves(image_path, masks_path, crop=None):
    """The image and labels (cropped), split into the left (training) and right (test) halves."""
    from napari_segsuite.core.io import read_image

    image, masks = np.asarray(read_image(image_path)), np.asarray(read_image(masks_path))
    if image.ndim != 2 or image.shape != masks.shape:
        raise SystemExit(f"need a 2D image and labels of the same shape, got {image.shape} and {masks.shape}.")
    if crop is not None:
        r0, c0, h, w = crop
        if r0 + h > image.shape[0] or c0 + w > image.shape[1]:
            raise SystemExit(f"--crop {r0},{c0},{h},{w} goes past the image ({image.shape[0]}x{image.shape[1]}).")
        image, masks = image[r0:r0 + h, c0:c0 + w], masks[r0:r0 + h, c0:c0 + w]
    half = image.shape[1] // 2
    train = (image[:, :half], masks[:, :half])
    test = (image[:, half:], masks[:, half:])
    for what, (_, lab) in (("left (training)", train), ("right (test)", test)):
        if not lab.any():
            raise SystemExit(f"the {what} half has no labelled objects.")
    return train, test


def _clock():
    return time.perf_counter(), time.process_time()


def run_ours(method: str, train, test_image, budget_s: float, seed: int | None, start: str = "scratch",
             **train_kwargs) -> dict:
    """Train one of our models with its defaults, predict the test half; timings of the training.

    ``start="shipped"`` fine-tunes the shipped model instead (``init=``; its size and normalisation kept);
    ``train_kwargs`` go to the trainer (e.g. ``freeze_norm=True`` for the Mask R-CNN).
    """
    from napari_segsuite.core.samples import sample_path

    extra = dict(train_kwargs) if seed is None else {**train_kwargs, "seed": seed}
    if start == "shipped":
        extra["init"] = sample_path("unet_nuclei.pt" if method == "unet" else "maskrcnn_nuclei.pt")
    data = [train]
    if method == "unet":
        from napari_segsuite.core.unet import predict_unet, train_unet

        t0, c0 = _clock()
        ckpt = train_unet(data, time_limit=budget_s, device="cpu", **extra)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pred = predict_unet(ckpt, test_image, device="cpu")
    else:
        from napari_segsuite.core.maskrcnn import predict_maskrcnn, train_maskrcnn

        t0, c0 = _clock()
        ckpt = train_maskrcnn(data, time_limit=budget_s, device="cpu", **extra)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pred = predict_maskrcnn(ckpt, test_image, device="cpu")[0]
    history = ckpt.get("history", {})
    info = {"epochs": len(history.get("loss", [])), "steps": history.get("steps"),
            "stopped": history.get("stopped"), "best_epoch": history.get("best_epoch")}
    return {"pred": np.asarray(pred), "train_wall_s": wall, "train_cpu_s": cpu, "info": info}


def peer_diam_mean(labels) -> float:
    """The Cellpose peer's ``diam_mean`` for these training labels: 17 (its nuclei models' value) when their
    median diameter is under 20 pixels, else 30 (its default).

    With 30 on the 12-pixel Hoechst nuclei of ``sample_data/real``, Cellpose upscaled the image 2.4x and reached
    AP@0.5 0.630 in 10 minutes; with 17, 0.889. On the 26-pixel HeLa nuclei 30 did better (0.93 against 0.89
    with 17 in a 6-minute run). A user training Cellpose picks the value for the cells' size, so the peer does.
    """
    from napari_segsuite.core.diameter import median_diameter

    return 17.0 if median_diameter([np.asarray(labels)]) < 20.0 else 30.0


def run_cellpose(python: str, train, test_image, minutes: float, threads: int, seed: int,
                 diam_mean: float = 30.0) -> dict:
    """Run the Cellpose peer in its own venv; its JSON line gives the training's timings."""
    import tifffile

    with tempfile.TemporaryDirectory(prefix="segsuite-cellpose-") as tmp:
        tmp = Path(tmp)
        tifffile.imwrite(tmp / "train.tif", train[0])
        tifffile.imwrite(tmp / "train_masks.tif", train[1])
        tifffile.imwrite(tmp / "test.tif", test_image)
        cmd = [python, str(PEER), "--train-image", str(tmp / "train.tif"), "--train-masks",
               str(tmp / "train_masks.tif"), "--test-image", str(tmp / "test.tif"), "--output-labels",
               str(tmp / "pred.tif"), "--minutes", repr(minutes), "--seed", str(seed), "--threads", str(threads),
               "--diam-mean", repr(float(diam_mean))]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of ours in its path
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"the Cellpose peer failed (exit {done.returncode}):\n{tail}")
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"the Cellpose peer printed no result line:\n{done.stdout[-2000:]}")
        info = json.loads(lines[-1])
        pred = tifffile.imread(tmp / "pred.tif")
    return {"pred": np.asarray(pred), "train_wall_s": info.pop("train_wall_s"),
            "train_cpu_s": info.pop("train_cpu_s"), "info": info}


def score(gt, pred) -> dict:
    from napari_segsuite.core.metrics import evaluate_segmentation

    m = evaluate_segmentation(gt, pred)
    return {"ap50": m["ap50"], "ap75": m["ap75"], "map": m["map"], "n_pred": m["n_pred"], "n_true": m["n_gt"]}


def _cellpose_python(path: str | None) -> Path:
    return Path(path) if path else ROOT / ".venv-cellpose" / "bin" / "python"


def _describe(method: str, info: dict) -> str:
    if method == "cellpose":
        return (f"{info.get('epochs')} epochs of 8x{info.get('bsize')}^2 ({info.get('seconds_per_epoch')} s each), "
                f"stopped by {info.get('stopped_by')}")
    return f"{info.get('epochs')} epochs, {info.get('steps')} steps, stopped: {info.get('stopped')}"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(REAL / "scratch_assay_hoechst_t00.tif"),
                   help="2D image (default: %(default)s)")
    p.add_argument("--masks", default=str(REAL / "scratch_assay_hoechst_t00_masks.tif"),
                   help="its instance labels (default: %(default)s)")
    p.add_argument("--crop", type=parse_crop, default=None, help="r0,c0,h,w: use this part of the image")
    p.add_argument("--minutes", type=float, default=10.0, help="training budget of each method (default 10)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from %(default)s")
    p.add_argument("--threads", type=int, default=2, help="torch threads for every method (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of every method (default 0, our trainers' default)")
    p.add_argument("--cellpose-python", default=None,
                   help="python of the Cellpose venv (default .venv-cellpose/bin/python at the repository root)")
    p.add_argument("--peer-diam-mean", default="auto",
                   help="the Cellpose peer's diam_mean: a number of pixels, or auto (17 when the training labels' "
                   "median diameter is under 20 px, else 30; see peer_diam_mean)")
    p.add_argument("--start", choices=("scratch", "shipped"), default="scratch",
                   help="ours from scratch (as the Cellpose peer), or fine-tuning the shipped models")
    p.add_argument("--json", default=None, help="write the results to this file")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        p.error(f"--methods: choose from {','.join(METHODS)}, got {args.methods!r}")
    args.methods = list(dict.fromkeys(methods))
    if not args.minutes > 0:
        p.error("--minutes must be > 0")
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.peer_diam_mean != "auto":
        try:
            args.peer_diam_mean = float(args.peer_diam_mean)
        except ValueError:
            p.error(f"--peer-diam-mean: a number of pixels or auto, got {args.peer_diam_mean!r}")
        if not args.peer_diam_mean > 0:
            p.error("--peer-diam-mean must be > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from napari_segsuite.core.diameter import median_diameter

    torch.set_num_threads(args.threads)
    (train_img, train_lab), (test_img, test_lab) = load_halves(args.image, args.masks, args.crop)
    budget = 60.0 * args.minutes
    print(f"{Path(args.image).name}{'' if args.crop is None else ' crop ' + str(args.crop)}: train on the left "
          f"{train_img.shape[0]}x{train_img.shape[1]} ({len(np.unique(train_lab)) - 1} objects), test on the right "
          f"{test_img.shape[0]}x{test_img.shape[1]} ({len(np.unique(test_lab)) - 1} objects; labels made by "
          f"software); {args.minutes:g} min per method, {args.threads} thread(s), one method at a time; ours "
          f"{'from scratch' if args.start == 'scratch' else 'fine-tuning the shipped models'}", flush=True)
    diam_mean = peer_diam_mean(train_lab) if args.peer_diam_mean == "auto" else args.peer_diam_mean
    if "cellpose" in args.methods:
        how = "auto" if args.peer_diam_mean == "auto" else "--peer-diam-mean"
        print(f"Cellpose peer: diam_mean {diam_mean:g} ({how}; training labels' median diameter "
              f"{median_diameter([train_lab]):.1f} px)", flush=True)
    results: dict[str, dict] = {}
    for method in args.methods:
        print(f"training {NAMES[method]} ...", flush=True)
        try:
            if method == "cellpose":
                python = _cellpose_python(args.cellpose_python)
                if not python.exists():
                    raise FileNotFoundError(f"no Cellpose venv at {python}: make it with "
                                            "benchmarks/peers/make_cellpose_venv.sh or give --cellpose-python")
                run = run_cellpose(str(python), (train_img, train_lab), test_img, args.minutes, args.threads,
                                   args.seed, diam_mean)
            else:
                run = run_ours(method, (train_img, train_lab), test_img, budget, None if args.seed == 0 else args.seed,
                               args.start)
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"  skipped: {exc}", flush=True)
            results[method] = {"skipped": str(exc)}
            continue
        results[method] = {**score(test_lab, run["pred"]), "train_wall_s": round(run["train_wall_s"], 2),
                           "train_cpu_s": round(run["train_cpu_s"], 2), "info": run["info"]}
        print(f"  {_describe(method, run['info'])}", flush=True)

    print(f"\n{'method':<20} {'AP@0.5':>7} {'AP@0.75':>7} {'pred/true':>9} {'train wall s':>12} {'train CPU s':>11}")
    for method, r in results.items():
        if "skipped" in r:
            print(f"{NAMES[method]:<20} skipped")
            continue
        print(f"{NAMES[method]:<20} {r['ap50']:>7.3f} {r['ap75']:>7.3f} {r['n_pred']:>4}/{r['n_true']:<4} "
              f"{r['train_wall_s']:>12.1f} {r['train_cpu_s']:>11.1f}")
    ratios = {}
    peer = results.get("cellpose", {})
    for method in (m for m in results if m != "cellpose" and "skipped" not in results[m]):
        if "ap50" in peer:
            ratios[method] = results[method]["ap50"] / peer["ap50"] if peer["ap50"] > 0 else None
            shown = "n/a (Cellpose AP@0.5 is 0)" if ratios[method] is None else f"{ratios[method]:.3f}"
            print(f"AP@0.5 ratio {NAMES[method]} / Cellpose: {shown}")
    if results and "ap50" not in peer:
        print("no Cellpose figure in this run, so no ratio")
    if args.json:
        out = {"start": args.start, "peer_diam_mean": diam_mean, "image": str(args.image), "masks": str(args.masks),
               "crop": args.crop,
               "minutes": args.minutes,
               "threads": args.threads, "seed": args.seed, "train_shape": list(train_img.shape),
               "test_shape": list(test_img.shape), "results": results, "ap50_ratio_to_cellpose": ratios,
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
               "machine": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__}
        Path(args.json).write_text(json.dumps(out, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
