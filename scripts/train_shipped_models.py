"""Train the two models shipped in ``sample_data/`` on a domain-randomised synthetic corpus (issue 16).

    PYTHONPATH=src python scripts/train_shipped_models.py unet     [--minutes 20] [--threads 2]
    PYTHONPATH=src python scripts/train_shipped_models.py maskrcnn [--minutes 20] [--threads 2]

The corpus (:func:`napari_segsuite.core.samples.randomized.randomized_nuclei`, fixed seeds, made afresh on
every run, nothing downloaded): images whose nuclei are 5 to 90 pixels across, each rescaled so its median
nucleus is about ``MODEL_DIAMETER`` (20) pixels across, jittered by x0.75-1.33, plus the sample
``nuclei_train`` field. The stored checkpoints record ``training["diameter"] = 20``: prediction with
``diameter="auto"`` or a given diameter rescales images to it. No real image is used in training; the real
sets (``sample_data/real`` and, when present, ``/work/realdata``) are for the zero-shot figures printed at
the end (``benchmarks/real_images.py``).

The shipped files: U-Net ``--minutes 20``; Mask R-CNN ``--minutes 20``, then ``--minutes 20 --init`` the first
round's file (time limits on a loaded 2-core machine: about 800 and 600 + 700 steps).

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["unet", "maskrcnn"])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--init", type=Path, default=None,
                        help="continue from this checkpoint's weights (a second round on the same corpus)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from napari_segsuite.core.progress import run
    from napari_segsuite.core.samples import load_sample

    torch.set_num_threads(args.threads)
    output = args.output or OUTPUT[args.kind]
    t0, c0 = time.perf_counter(), time.process_time()
    train = corpus(args.n_train, 0) + [tuple(a.astype(np.float32) if i == 0 else a
                                             for i, a in enumerate(load_sample("nuclei_train")))]
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

        ckpt = run(iter_train_unet(train, val_data=val, epochs=1000, steps_per_epoch=50, device="cpu", seed=0,
                                   patience=0, time_limit=budget, init=args.init), progress=report)
        ckpt.pop("resume", None)
        training = {**ckpt["training"], "diameter": MODEL_DIAMETER}
        ckpt["history"]["trained_on"] = "randomized_nuclei corpus (scripts/train_shipped_models.py)"
        save_checkpoint(output, kind="unet", config=ckpt["config"], normalization=ckpt["normalization"],
                        state_dict=ckpt["state_dict"], history=ckpt["history"], training=training)
    else:
        from napari_segsuite.core.maskrcnn import iter_train_maskrcnn, save_maskrcnn_checkpoint

        ckpt = run(iter_train_maskrcnn(train, val_data=val,
                                       config=None if args.init else {"width": 16, "fpn_channels": 64},
                                       device="cpu", epochs=1000, steps_per_epoch=50, seed=0, time_limit=budget,
                                       save_half=True, init=args.init), progress=report)
        ckpt["training"] = {**ckpt.get("training", {}), "diameter": MODEL_DIAMETER}
        ckpt["history"]["trained_on"] = "randomized_nuclei corpus (scripts/train_shipped_models.py)"
        save_maskrcnn_checkpoint(output, ckpt)
    print(f"trained {(time.perf_counter() - t1) / 60:.1f} min wall, {(time.process_time() - c0) / 60:.1f} min CPU; "
          f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
