"""The ``segsuite`` command line. Calls core only; napari is imported only by ``segsuite demo`` (GUI)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from napari_segsuite import __version__

__all__ = ["main", "build_parser", "refuse_overwriting_inputs", "read_label_file"]


class CLIError(Exception):
    """A user error to print as one line (exit code 2)."""


def refuse_overwriting_inputs(inputs, outputs) -> None:
    """Raise a CLIError when an output path names one of the input files (or the same file by a link).

    A careless ``-o`` equal to the input would replace the user's image or masks with the result
    (a ``.zarr`` input is a folder: it counts too).

    Parameters
    ----------
    inputs, outputs : iterable of Path or None
        Files read and files about to be written (None entries are skipped).
    """
    import os

    existing = [Path(p) for p in inputs if p is not None and Path(p).exists()]
    for out in (Path(p) for p in outputs if p is not None):
        # a/../x does not "exist" while a is missing, yet writing it creates a and lands on x
        target = out if out.exists() else Path(os.path.normpath(os.path.abspath(out)))
        if target.exists() and any(os.path.samefile(target, src) for src in existing):
            raise CLIError(f"{out}: is an input of this command; give another output name "
                           "(the input is never overwritten).")


def read_label_file(path: Path):
    """Read a label image for a CLI verb; refuse a colour/multichannel image, note one with no background.

    A careless user passes the intensity image where the masks belong: a ``(Y, X, 3)`` RGB file would be
    taken as a 3-plane-wide volume and a gray image as thousands of one-value "instances".
    """
    from napari_segsuite.core.io import read_image
    from napari_segsuite.core.layout import looks_channels_last

    labels = read_image(path)
    if labels.ndim == 3 and looks_channels_last(labels.shape):
        raise CLIError(f"{path}: looks like a colour or multichannel image (shape {labels.shape}), not a "
                       "label image (0 = background, 1..N = instances).")
    if labels.size and labels.dtype.kind in "uif" and not (labels == 0).any():
        print(f"note: {path} has no background (0) pixels; is it an intensity image rather than labels?",
              file=sys.stderr)
    return labels


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``segsuite VERB: error: ...``), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add_evaluate(sub):
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


def _add_demo(sub):
    p = sub.add_parser("demo", help="open napari with the sample data and every widget docked")
    p.add_argument("--headless", metavar="OUT_DIR", type=Path,
                   help="run every backend on the sample data without a GUI; write TIFF + PNG results there")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    if args.headless is not None:
        from napari_segsuite.core.demo import run_headless_demo

        if args.headless.exists() and not args.headless.is_dir():
            raise CLIError(f"{args.headless}: exists and is not a folder; give a folder for the results.")

        run_headless_demo(args.headless, out=sys.stdout)
        return 0
    from napari_segsuite._napari.demo import open_demo_viewer

    open_demo_viewer(run=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from napari_segsuite._cli_models import _add_predict, _add_train
    from napari_segsuite._cli_tools import _add_export, _add_grabcut, _add_superpixels, _add_weightmap

    parser = _Parser(prog="segsuite", description="napari-segsuite: segmentation and training data tools")
    parser.add_argument("--version", action="version", version=f"napari-segsuite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_evaluate, _add_weightmap, _add_grabcut, _add_export, _add_superpixels,
                _add_train, _add_predict):
        add(sub)
    return parser


def _one_line(exc: BaseException, limit: int = 500) -> str:
    """The message of ``exc`` on one line (library messages can span many), at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, OSError) as exc:  # OSError: missing, unwritable, full disk, ...
        print(f"segsuite {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"segsuite {args.command}: error: not enough memory for this input.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"segsuite {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
