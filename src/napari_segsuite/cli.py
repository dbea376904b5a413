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


def _parse_box(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a box is r0,c0,r1,c1 (integers, end exclusive), "
                                         f"got {text!r}") from None
    if len(vals) < 4:
        raise argparse.ArgumentTypeError(f"a box is r0,c0,r1,c1 (plane indices first on a stack), "
                                         f"got {text!r}")
    return vals


def _add_grabcut(sub):
    p = sub.add_parser("grabcut", help="GrabCut: one instance per box (r0,c0,r1,c1 in pixels, end exclusive)")
    p.add_argument("image", type=Path, help="image file (gray, RGB or multichannel; channels last)")
    p.add_argument("--box", type=_parse_box, action="append", required=True, metavar="R0,C0,R1,C1",
                   help="a box, end exclusive; repeat for more boxes (later boxes win overlaps). On a stack "
                        "give the plane first: Z,R0,C0,R1,C1")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label image (.tif)")
    p.add_argument("--channel-axis", type=int, default=None,
                   help="axis of the channels (default: last axis if it has 3 or 4 entries, else none)")
    p.add_argument("--trimap", type=Path, default=None,
                   help="label image of scribbles: 1 = foreground, 2 = background (hard constraints)")
    p.add_argument("--n-iter", type=int, default=5, help="model/cut rounds per box (default 5)")
    p.add_argument("--gamma", type=float, default=None, help="smoothness weight (default 30)")
    p.add_argument("--margin", type=int, default=None,
                   help="background margin around each box in px (default 10)")
    p.set_defaults(func=_cmd_grabcut)


def _cmd_grabcut(args) -> int:
    from napari_segsuite.core.boxcut import iter_grabcut_boxes
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress

    image = read_image(args.image)
    channel_axis = args.channel_axis
    if channel_axis is None and image.ndim == 3 and image.shape[-1] in (3, 4):
        channel_axis = -1
    trimap = read_image(args.trimap) if args.trimap is not None else None
    if args.output.suffix.lower() not in (".tif", ".tiff"):
        raise CLIError(f"the output must be a .tif file, got {args.output}.")
    params = {k: v for k, v in (("gamma", args.gamma), ("margin", args.margin)) if v is not None}
    labels = run(iter_grabcut_boxes(image, args.box, args.n_iter, channel_axis, trimap, **params),
                 progress=terminal_progress())
    write_tiff(args.output, labels.astype(smallest_uint_dtype(int(labels.max()))))
    sizes = [int((labels == i + 1).sum()) for i in range(len(args.box))]
    print(f"{len(args.box)} box(es) -> {args.output} (pixels per instance: {', '.join(map(str, sizes))})")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segsuite", description="napari-segsuite: segmentation and training data tools")
    parser.add_argument("--version", action="version", version=f"napari-segsuite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_evaluate, _add_grabcut):
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
