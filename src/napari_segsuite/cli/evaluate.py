"""``segsuite evaluate``: compare predicted labels with ground truth (files or folders). Calls core only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import CLIError, read_label_file


def register(sub):
    p = sub.add_parser("evaluate", help="compare predicted labels with ground truth (files or folders)")
    p.add_argument("gt", type=Path, help="ground-truth label image, or a folder of them")
    p.add_argument("pred", type=Path, help="predicted label image, or a folder with matching names")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_evaluate)


def _label_files(folder: Path) -> dict[str, Path]:
    from napari_segsuite.core.io import IMAGE_SUFFIXES

    tagged, plain = {}, {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."):
            stem = f.stem
            for tag in ("_masks", "_mask", "_labels", "_pred"):
                if stem.endswith(tag):
                    stem = stem[: -len(tag)]
                    if stem in tagged:  # a_masks.tif and a_pred.tif: which one is meant?
                        raise CLIError(f"{folder}: {tagged[stem].name} and {f.name} both are label files of "
                                       f"{stem!r}; keep one per image in each folder.")
                    tagged[stem] = f
                    break
            else:
                plain[stem] = f
    # A cellpose-style folder holds NAME.tif (the image) beside NAME_masks.tif: the tagged file is the labels.
    return {**plain, **tagged}


def _note_unmatched(gt_only: list[str], pred_only: list[str]) -> None:
    """Say on stderr which images were left out of the evaluation because only one folder has them."""
    def few(names):
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    parts = []
    if gt_only:
        parts.append(f"{len(gt_only)} ground-truth image(s) have no prediction ({few(gt_only)})")
    if pred_only:
        parts.append(f"{len(pred_only)} prediction(s) have no ground truth ({few(pred_only)})")
    if parts:
        print(f"segsuite evaluate: note: not evaluated: {'; '.join(parts)}.", file=sys.stderr)


def _cmd_evaluate(args) -> int:
    from napari_segsuite.core.metrics import evaluate_segmentation

    gt, pred = args.gt, args.pred
    for p in (gt, pred):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder.")
    if gt.is_dir() != pred.is_dir():
        raise CLIError("give two files or two folders, not one of each.")
    if gt.is_dir():
        g, p = _label_files(gt), _label_files(pred)
        names = sorted(set(g) & set(p))
        if not names:
            raise CLIError(f"no matching file names between {gt} and {pred}.")
        _note_unmatched(sorted(set(g) - set(p)), sorted(set(p) - set(g)))
        pairs = [(n, g[n], p[n]) for n in names]
    else:
        pairs = [(gt.stem, gt, pred)]
    rows = []
    for name, gpath, ppath in pairs:
        res = evaluate_segmentation(read_label_file(gpath), read_label_file(ppath))
        rows.append({"name": name, **res})
    if args.json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
    else:
        print(format_metrics_table(rows))
    return 0


def format_metrics_table(rows: list[dict]) -> str:
    """A plain-text table of evaluate_segmentation results, one row per image."""
    cols = ["iou", "dice", "pixel_accuracy", "ap50", "ap75", "map", "tp", "fp", "fn"]
    width = max(8, *(len(r["name"]) for r in rows))
    lines = [f"{'image':<{width}} " + " ".join(f"{c:>8}" for c in ["IoU", "Dice", "PixAcc", "AP@.5", "AP@.75",
                                                                      "mAP", "TP", "FP", "FN"])]
    for r in rows:
        vals = [f"{r[c]:8.3f}" if isinstance(r[c], float) else f"{r[c]:8d}" for c in cols]
        lines.append(f"{r['name']:<{width}} " + " ".join(vals))
    return "\n".join(lines)
