"""The ``segsuite`` command line. Calls core only; napari is imported only by ``segsuite demo`` (GUI)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from napari_segsuite import __version__

__all__ = ["main", "build_parser"]


class CLIError(Exception):
    """A user error to print as one line (exit code 2)."""


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="compare predicted labels with ground truth (files or folders)")
    p.add_argument("gt", type=Path, help="ground-truth label image, or a folder of them")
    p.add_argument("pred", type=Path, help="predicted label image, or a folder with matching names")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_evaluate)


def _label_files(folder: Path) -> dict[str, Path]:
    from napari_segsuite.core.io import IMAGE_SUFFIXES

    out = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."):
            stem = f.stem
            for tag in ("_masks", "_mask", "_labels", "_pred"):
                if stem.endswith(tag):
                    stem = stem[: -len(tag)]
            out[stem] = f
    return out


def _cmd_evaluate(args) -> int:
    from napari_segsuite.core.io import read_image
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
        pairs = [(n, g[n], p[n]) for n in names]
    else:
        pairs = [(gt.stem, gt, pred)]
    rows = []
    for name, gpath, ppath in pairs:
        res = evaluate_segmentation(read_image(gpath), read_image(ppath))
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


def _add_demo(sub):
    p = sub.add_parser("demo", help="open napari with the sample data and every widget docked")
    p.add_argument("--headless", metavar="OUT_DIR", type=Path,
                   help="run every backend on the sample data without a GUI; write TIFF + PNG results there")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    if args.headless is not None:
        from napari_segsuite.core.demo import run_headless_demo

        run_headless_demo(args.headless, out=sys.stdout)
        return 0
    from napari_segsuite._napari.demo import open_demo_viewer

    open_demo_viewer(run=True)
    return 0


def _add_superpixels(sub):
    p = sub.add_parser("superpixels", help="SLIC superpixels, optionally merged into regions (labels TIFF)")
    p.add_argument("image", type=Path, help="image file (YX, ZYX, or RGB YXC)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    p.add_argument("--n-segments", type=int, default=1000, help="approximate number of superpixels (default 1000)")
    p.add_argument("--compactness", type=float, default=10.0,
                   help="colour vs space balance, > 0; higher = more regular (default 10)")
    p.add_argument("--merge-threshold", type=float, default=None,
                   help="merge superpixels below this distance (image units; ncut: 0..2); default: no merging")
    p.add_argument("--mode", choices=["hierarchical", "threshold", "boundary", "ncut"], default="hierarchical",
                   help="merging mode (default hierarchical)")
    p.add_argument("--channel-axis", default="auto",
                   help="axis of the channels, 'none' for gray, 'auto' (default): last axis if it has 3 or 4 entries"
                        " and the image is 2D + channels")
    p.add_argument("--spacing", default=None, help="pixel spacing per spatial axis, e.g. 2,1,1 for ZYX")
    p.set_defaults(func=_cmd_superpixels)


def _channel_axis_arg(value: str, image) -> int | None:
    if value == "auto":
        return -1 if image.ndim == 3 and image.shape[-1] in (3, 4) and min(image.shape[:2]) > 16 else None
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise CLIError(f"--channel-axis must be an integer, 'none' or 'auto', got {value!r}.") from None


def _cmd_superpixels(args) -> int:
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.superpixels import iter_superpixels

    image = read_image(args.image)
    axis = _channel_axis_arg(args.channel_axis, image)
    spacing = None
    if args.spacing:
        try:
            spacing = [float(v) for v in args.spacing.split(",")]
        except ValueError:
            raise CLIError(f"--spacing must be comma-separated numbers, got {args.spacing!r}.") from None
    sp, graph, merged = run(iter_superpixels(image, n_segments=args.n_segments, compactness=args.compactness,
                                             channel_axis=axis, spacing=spacing,
                                             merge_threshold=args.merge_threshold, mode=args.mode),
                            progress=terminal_progress())
    out = merged if merged is not None else sp
    write_tiff(args.output, out.astype(smallest_uint_dtype(int(out.max()))))
    what = f"{int(sp.max())} superpixels" + (f" merged into {int(merged.max())} regions" if merged is not None else "")
    print(f"{what}; wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segsuite", description="napari-segsuite: segmentation and training data tools")
    parser.add_argument("--version", action="version", version=f"napari-segsuite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_evaluate, _add_superpixels):
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"segsuite {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"segsuite {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
