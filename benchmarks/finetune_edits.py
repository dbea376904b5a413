"""Fine-tuning "around my edits": which margin around the corrected objects, against the whole image.

A simulated correction round on real nuclei (pseudo-labels, see /work/realdata/SOURCES.md or sample_data/real):
a shipped model (the U-Net, or the Mask R-CNN with ``--model maskrcnn_nuclei.pt``) predicts the image; on its
left half every predicted cell without a match (IoU > 0.5) in the reference labels is deleted and every missed
reference cell is painted in (what a user fixing the errors does). One fine-tuning round (``FINETUNE_DEFAULTS``)
then learns from the left half

- on the whole half (the untouched cells as predicted, the fixed ones as corrected),
- around the edits only (``edited_region``) with margins of 0, 0.25, 0.5 and 1 median diameters,

and the tuned model is scored (AP@0.5) on the right half, never trained on.

Usage: python benchmarks/finetune_edits.py [IMAGE MASKS ...] [--model FILE] [--seeds 0 1 2] [--threads 1]
Default images: sample_data/real/scratch_assay_hoechst_t00.tif. Prints one row per run and the means.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.0, 0.25, 0.5, 1.0)


def simulated_corrections(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, int]:
    """``pred`` with its unmatched cells deleted and the missed reference cells painted in; the number of edits."""
    from napari_segsuite.core.metrics import unmatched_instances

    false_pos, missed = unmatched_instances(truth, pred)
    fixed = np.where(false_pos > 0, 0, pred).astype(np.int32)
    ids = np.unique(missed[missed > 0])
    for k, t in enumerate(ids):
        fixed[missed == t] = int(pred.max()) + 1 + k
    return fixed, int(np.unique(false_pos[false_pos > 0]).size + ids.size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", nargs="*", help="IMAGE MASKS IMAGE MASKS ...")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="unet_nuclei.pt",
                    help="checkpoint to start from: a file, or the name of a shipped model (default unet_nuclei.pt)")
    args = ap.parse_args()

    import tifffile
    import torch

    from napari_segsuite.core import average_precision, sample_path
    from napari_segsuite.core.diameter import median_diameter
    from napari_segsuite.core.finetune import finetune
    from napari_segsuite.core.training.checkpoint import open_checkpoint
    from napari_segsuite.core.predict import predict_checkpoint
    from napari_segsuite.core.training.edits import edited_region

    torch.set_num_threads(args.threads)
    files = args.pairs or [str(ROOT / "sample_data/real/scratch_assay_hoechst_t00.tif"),
                           str(ROOT / "sample_data/real/scratch_assay_hoechst_t00_masks.tif")]
    model = open_checkpoint(args.model if Path(args.model).is_file() else sample_path(args.model))
    print(f"model: {args.model} ({model['kind']})")

    def predict(ckpt, image):
        return predict_checkpoint(ckpt, image, device="cpu")

    means: dict[str, list] = {}
    for image_file, mask_file in zip(files[::2], files[1::2]):
        image, truth = tifffile.imread(image_file), tifffile.imread(mask_file).astype(np.int32)
        half = image.shape[1] // 2
        train_img, test_img, train_truth, test_truth = image[:, :half], image[:, half:], truth[:, :half], \
            truth[:, half:]
        pred = predict(model, train_img)
        fixed, n_edits = simulated_corrections(pred, train_truth)
        diameter = median_diameter(fixed)
        before = float(average_precision(test_truth, predict(model, test_img),
                                         thresholds=(0.5,))["ap"][0])
        print(f"{Path(image_file).name}: {n_edits} edits on the left half, median diameter {diameter:.1f} px; "
              f"held-out AP@0.5 before {before:.3f}")
        runs = [("whole half", None)] + [
            (f"edits, margin {f:g} D", edited_region(pred, fixed, margin=int(round(f * diameter)))) for f in FRACTIONS]
        for name, region in runs:
            share = 1.0 if region is None else float(region.mean())
            for seed in args.seeds:
                t = time.process_time()
                try:
                    out = finetune(model, train_img, fixed, region=region, device="cpu", seed=seed)
                except ValueError as exc:
                    print(f"  {name:<22} region {share:5.1%}  refused: {exc}")
                    break
                ap50 = float(average_precision(test_truth, predict(out["checkpoint"], test_img),
                                               thresholds=(0.5,))["ap"][0])
                means.setdefault(name, []).append(ap50 - before)
                print(f"  {name:<22} region {share:5.1%}  seed {seed}  held-out AP@0.5 {ap50:.3f} "
                      f"({ap50 - before:+.3f})  {time.process_time() - t:.0f} CPU s", flush=True)
    print("mean change of the held-out AP@0.5:")
    for name, deltas in means.items():
        print(f"  {name:<22} {np.mean(deltas):+.3f} (sd {np.std(deltas):.3f}, {len(deltas)} runs)")


if __name__ == "__main__":
    main()
