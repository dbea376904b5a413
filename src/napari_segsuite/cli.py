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


def _check_boxes_inside(boxes, shape, channel_axis) -> None:
    """Refuse typed boxes that reach past the image (the core clips them, which suits drawn rectangles).

    On the command line such a box is a slip: columns before rows, x/y/width/height, another image.
    """
    ndim = len(shape)
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            return  # the core reports the bad axis
        shape = tuple(n for i, n in enumerate(shape) if i != channel_axis % ndim)
    rows, cols = shape[-2:]
    for box in boxes:
        r0, c0, r1, c1 = box[-4:]
        if min(r0, c0) < 0 or r1 > rows or c1 > cols:
            raise CLIError(f"box {','.join(map(str, box))} reaches outside the image ({rows} rows x {cols} columns); "
                           "a box is r0,c0,r1,c1 in pixels, rows first, end exclusive.")


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
    _check_boxes_inside(args.box, image.shape, channel_axis)
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

        if args.headless.exists() and not args.headless.is_dir():
            raise CLIError(f"{args.headless}: exists and is not a folder; give a folder for the results.")

        run_headless_demo(args.headless, out=sys.stdout)
        return 0
    from napari_segsuite._napari.demo import open_demo_viewer

    open_demo_viewer(run=True)
    return 0


def _add_train(sub):
    p = sub.add_parser("train", help="train a model on a dataset folder")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    _add_train_unet(kinds)
    _add_train_maskrcnn(kinds)


def _add_train_maskrcnn(kinds):
    p = kinds.add_parser("maskrcnn", help="Mask R-CNN instances (torchvision)")
    p.add_argument("dataset", type=Path, help="dataset folder (segsuite export or NAME.tif + NAME_masks.tif pairs)")
    p.add_argument("-o", "--output", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps-per-epoch", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop-size", type=int, default=128, help="training crop side, pixels")
    p.add_argument("--backbone", choices=("resnet18_slim", "resnet50_fpn_v2"), default=None,
                   help="default: resnet18_slim on CPU, resnet50_fpn_v2 on CUDA")
    p.add_argument("--width", type=int, default=None, help="resnet18_slim: channels of the first stage (32)")
    p.add_argument("--anchor-sizes", default=None, metavar="S1,...,S5",
                   help="anchor sizes in pixels, one per FPN level (default 8,16,32,64,128)")
    p.add_argument("--image-scale", type=float, default=None, help="resize factor inside the model (default 1)")
    p.add_argument("--pretrained", action="store_true",
                   help="start from torchvision's COCO weights (resnet50_fpn_v2, RGB; downloads once)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channel-axis", type=int, default=None, help="channel axis of multichannel images")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help="stop after this")
    p.set_defaults(func=_cmd_train_maskrcnn)


def _cmd_train_maskrcnn(args) -> int:
    from napari_segsuite.core.maskrcnn.train import iter_train_maskrcnn
    from napari_segsuite.core.progress import run, terminal_progress

    if not args.dataset.exists():
        raise FileNotFoundError(f"{args.dataset}: no such dataset folder.")
    if args.output.suffix != ".pt":
        raise CLIError(f"{args.output}: the model file should end in .pt")
    config = {"backbone": args.backbone, "width": args.width, "image_scale": args.image_scale}
    if args.pretrained:
        config.update(pretrained=True, backbone=args.backbone or "resnet50_fpn_v2")
    if args.anchor_sizes:
        try:
            config["anchor_sizes"] = [int(v) for v in args.anchor_sizes.split(",")]
        except ValueError:
            raise CLIError(f"--anchor-sizes {args.anchor_sizes!r}: give five whole numbers, e.g. 8,16,32,64,128")
    ckpt = run(iter_train_maskrcnn(
        args.dataset, config={k: v for k, v in config.items() if v is not None}, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, crop_size=args.crop_size,
        learning_rate=args.lr, seed=args.seed, channel_axis=args.channel_axis, device=args.device,
        checkpoint_path=args.output, time_limit=None if args.time_limit is None else args.time_limit * 60),
        progress=terminal_progress())
    h = ckpt["history"]
    print(f"trained {len(h['epoch'])} epochs: loss {h['loss'][-1]:.4f}, best val AP@0.5 {h['best_val_ap50']:.3f} "
          f"(on {h['validation']}); wrote {args.output}")
    return 0


def _add_train_unet(kinds):
    p = kinds.add_parser("unet", help="U-Net with the border weight map (Ronneberger 2015)")
    p.add_argument("dataset", type=Path, help="dataset folder (segsuite export or NAME.tif + NAME_masks.tif pairs)")
    p.add_argument("-o", "--output", type=Path, required=True, help="checkpoint to write (.pt), updated every epoch")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps-per-epoch", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch-size", type=int, default=None, help="training patch side (default 128 CPU, 256 GPU)")
    p.add_argument("--base", type=int, default=None, help="channels of the first level (default 16 CPU, 64 GPU)")
    p.add_argument("--depth", type=int, default=None, help="pooling steps (default 3 CPU, 4 GPU)")
    p.add_argument("--classes", type=int, choices=(2, 3), default=2, help="2: background/cell, 3: + boundary")
    p.add_argument("--w0", type=float, default=10.0, help="border weight (0: no border term)")
    p.add_argument("--sigma", type=float, default=5.0, help="border weight width, pixels")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--patience", type=int, default=10, help="early stopping patience in epochs (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help="stop starting epochs after this")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", type=Path, help="continue the training stored in this checkpoint")
    group.add_argument("--init", type=Path, help="fine-tune the weights of this checkpoint")
    p.set_defaults(func=_cmd_train_unet)


def _cmd_train_unet(args) -> int:
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.unet.train import iter_train_unet

    if not args.dataset.exists():
        raise FileNotFoundError(f"{args.dataset}: no such dataset folder.")
    if args.output.suffix != ".pt":
        raise CLIError(f"{args.output}: the model file should end in .pt")
    ckpt = run(iter_train_unet(
        args.dataset, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        patch_size=args.patch_size, base=args.base, depth=args.depth, n_classes=args.classes, w0=args.w0,
        sigma=args.sigma, lr=args.lr, val_fraction=args.val_fraction, patience=args.patience, seed=args.seed,
        device=args.device, checkpoint=args.output, resume=args.resume, init=args.init,
        time_limit=None if args.time_limit is None else args.time_limit * 60), progress=terminal_progress())
    h = ckpt["history"]
    print(f"trained {len(h['loss'])} epochs: loss {h['loss'][-1]:.4f}, best val AP@0.5 "
          f"{max(h['val_ap50']) if h['val_ap50'] else float('nan'):.3f}; wrote {args.output}")
    return 0


def _add_predict(sub):
    p = sub.add_parser("predict", help="predict instance labels with a trained model (kind read from the file)")
    p.add_argument("model", type=Path, help="checkpoint (.pt) written by segsuite")
    p.add_argument("inputs", type=Path, nargs="+", help="image files, folders of images, or a .zarr array")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file for one input (.tif, or .zarr for a zarr input), a folder for several")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--tile-size", type=int, default=None, help="inference tile side (U-Net)")
    p.add_argument("--probabilities", action="store_true", help="also write NAME_prob.tif (U-Net)")
    p.add_argument("--min-size", type=int, default=None, help="smallest instance kept, pixels")
    p.add_argument("--watershed", action="store_true", help="split touching cells by a distance watershed (U-Net)")
    p.add_argument("--channel-axis", type=int, default=None, help="channel axis of multichannel images")
    p.set_defaults(func=_cmd_predict)


def _predict_inputs(paths: list[Path]) -> list[Path]:
    from napari_segsuite.core.io import IMAGE_SUFFIXES

    files = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder.")
        if path.is_dir() and path.suffix != ".zarr":
            found = [f for f in sorted(path.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES
                     and not f.name.startswith(".") and not f.stem.endswith(("_masks", "_prob"))]
            if not found:
                raise CLIError(f"{path}: no image files in this folder.")
            files.extend(found)
        else:
            files.append(path)
    return files


def _cmd_predict(args) -> int:
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.predict import iter_predict_checkpoint
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.unet.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.model, kind=None)
    files = _predict_inputs(args.inputs)
    several = len(files) > 1
    if several and args.output.suffix.lower() in (".tif", ".tiff", ".zarr"):
        raise CLIError(f"{len(files)} inputs: give an output folder, not the file {args.output}.")
    kwargs = {"device": args.device, "channel_axis": args.channel_axis}
    if args.tile_size is not None:
        kwargs["tile_size"] = args.tile_size
    if args.probabilities:
        kwargs["return_probabilities"] = True
    if args.min_size is not None:
        kwargs["min_size"] = args.min_size
    if args.watershed:
        if ckpt["kind"] != "unet":
            raise CLIError(f"--watershed applies to U-Net models; {args.model} is a {ckpt['kind']} model.")
        kwargs["watershed"] = True
    for path in files:
        out = (args.output / f"{path.stem}_masks.tif") if several else args.output
        if path.suffix == ".zarr":
            import zarr

            if ckpt["kind"] != "unet":
                raise CLIError(f"zarr input is predicted chunk by chunk by U-Net models; {args.model} is a "
                               f"{ckpt['kind']} model (convert the input to TIFF).")

            image = zarr.open_array(str(path), mode="r")
            if out.suffix != ".zarr":
                raise CLIError("a .zarr input is predicted into a .zarr output; give -o OUT.zarr")
            from napari_segsuite.core.unet.data import PlaneSource

            shape = PlaneSource(image, channel_axis=args.channel_axis).out_shape
            chunks = ((1,) if len(shape) == 3 else ()) + tuple(min(s, 1024) for s in shape[-2:])
            labels_out = zarr.open_array(str(out), mode="w", shape=shape, chunks=chunks, dtype="uint32")
            run(iter_predict_checkpoint(ckpt, image, out=labels_out, **{**kwargs, "return_probabilities": False}),
                progress=terminal_progress())
            print(f"{path.name}: wrote {out}")
            continue
        image = read_image(path)
        result = run(iter_predict_checkpoint(ckpt, image, **kwargs), progress=terminal_progress())
        labels, prob = result if isinstance(result, tuple) else (result, None)
        write_tiff(out, labels.astype(smallest_uint_dtype(int(labels.max(initial=0)))))
        if prob is not None:
            write_tiff(out.with_name(out.stem.removesuffix("_masks") + "_prob.tif"), prob.astype("float32"))
        print(f"{path.name}: {int(labels.max(initial=0))} instances -> {out}")
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


def _add_weightmap(sub):
    p = sub.add_parser(
        "weightmap", help="border weight maps (Ronneberger 2015) of instance masks (file or folder)",
        description="Write the U-Net border weight map w = w_c + w0*exp(-(d1+d2)^2/(2 sigma^2)) of instance "
                    "masks as float32 TIFF. MASK is a label image (OUT is then a file) or a folder of them "
                    "(OUT is then a folder; in a folder holding NAME_masks.tif files only those are read, and "
                    "each gives OUT/NAME_weights.tif).")
    p.add_argument("mask", type=Path, help="instance label image (0 = background), or a folder of them")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .tif file, or folder for a folder")
    p.add_argument("--w0", type=float, default=10.0, help="height of the border term (default 10)")
    p.add_argument("--sigma", type=float, default=5.0, help="width of the border term in spacing units (default 5)")
    p.add_argument("--class-weights", default="balanced", metavar="balanced|none|BG,FG",
                   help="class weights: balanced (default), none, or two numbers BG,FG")
    p.add_argument("--spacing", default=None, metavar="S[,S...]",
                   help="pixel size per axis, e.g. 2,0.5,0.5 for a ZYX stack (default 1)")
    p.add_argument("--plane-by-plane", action="store_true",
                   help="treat a 3D stack as separate 2D planes instead of one volume")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=_cmd_weightmap)


def _parse_numbers(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}.") from None


def _parse_class_weights(text: str):
    low = text.strip().lower()
    if low == "balanced":
        return "balanced"
    if low == "none":
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise CLIError(f"--class-weights: give balanced, none or two numbers BG,FG; got {text!r}.")
    return values


def _mask_files(folder: Path) -> list[tuple[str, Path]]:
    from napari_segsuite.core.io import IMAGE_SUFFIXES

    files = [f for f in sorted(folder.iterdir())
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")]
    tags = ("_masks", "_mask", "_labels")
    tagged = [f for f in files if f.stem.endswith(tags)]
    out = []
    for f in tagged or files:
        stem = f.stem
        for tag in tags:
            if stem.endswith(tag):
                stem = stem[: -len(tag)]
                break
        out.append((stem, f))
    return out


def _cmd_weightmap(args) -> int:
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.weightmap import iter_unet_weight_map

    if not args.mask.exists():
        raise FileNotFoundError(f"{args.mask}: no such file or folder.")
    class_weights = _parse_class_weights(args.class_weights)
    spacing = _parse_numbers(args.spacing, "--spacing") if args.spacing else None
    if args.mask.is_dir():
        pairs = _mask_files(args.mask)
        if not pairs:
            raise CLIError(f"{args.mask}: no mask images (.tif, .png, .npy) in this folder.")
        if args.output.exists() and not args.output.is_dir():
            raise CLIError(f"{args.output}: exists and is not a folder (MASK is a folder).")
        jobs = [(f, args.output / f"{stem}_weights.tif") for stem, f in pairs]
    else:
        if args.output.is_dir():
            raise CLIError(f"{args.output}: is a folder; give an output .tif file for one mask.")
        jobs = [(args.mask, args.output)]
    if not args.overwrite:
        existing = [str(out) for _, out in jobs if out.exists()]
        if existing:
            raise CLIError(f"{existing[0]} exists (and {len(existing) - 1} more); use --overwrite to replace.")
    progress = terminal_progress()
    for src, out in jobs:
        labels = read_image(src)
        try:
            weights = run(iter_unet_weight_map(labels, args.w0, args.sigma, class_weights, spacing,
                                               plane_by_plane=args.plane_by_plane), progress)
        except ValueError as exc:
            raise ValueError(f"{src}: {exc}") from exc
        write_tiff(out, weights)
        print(f"{src} -> {out}  (min {weights.min():.3g}, max {weights.max():.3g})")
    return 0


def _add_export(sub):
    p = sub.add_parser(
        "export", help="write training data as a TIFF, OME-Zarr or COCO dataset (or convert between them)",
        description="Write SOURCE as a training dataset. SOURCE is IMAGE MASK (two files; the item is named "
                    "after the image), or a dataset folder of any layout, or a cellpose-style folder "
                    "(NAME.tif + NAME_masks.tif) to convert. Existing items are kept unless --overwrite.")
    p.add_argument("source", type=Path, nargs="+", help="IMAGE MASK, or a dataset / cellpose folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="dataset folder to write (or add to)")
    p.add_argument("--format", choices=["tiff", "ome-zarr", "coco"], default="tiff", help="layout (default tiff)")
    p.add_argument("--name", default=None, help="item name for IMAGE MASK (default: the image file's stem)")
    p.add_argument("--weight-maps", action="store_true", help="also write U-Net border weight maps")
    p.add_argument("--w0", type=float, default=10.0, help="weight-map border height (default 10)")
    p.add_argument("--sigma", type=float, default=5.0, help="weight-map border width in pixels (default 5)")
    p.add_argument("--overwrite", action="store_true", help="replace items of the same name")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    from napari_segsuite.core.dataset import export_dataset, load_dataset
    from napari_segsuite.core.io import read_image
    from napari_segsuite.core.progress import terminal_progress

    sources = args.source
    for src in sources:
        if not src.exists():
            raise FileNotFoundError(f"{src}: no such file or folder.")
    if len(sources) == 1 and sources[0].is_dir():
        items = [(it.name, it.image, it.mask, {k: v for k, v in it.meta.items()
                                                 if k in ("source_image", "source_labels", "pixel_size", "unit")})
                 for it in load_dataset(sources[0])]
        parameters = {"converted_from": str(sources[0])}
    elif len(sources) == 2 and not any(s.is_dir() for s in sources):
        image_path, mask_path = sources
        name = args.name or image_path.name.split(".")[0]
        items = [(name, read_image(image_path), read_image(mask_path),
                  {"source_image": image_path.name, "source_labels": mask_path.name})]
        parameters = {}
    else:
        raise CLIError("give IMAGE MASK (two files) or one dataset folder.")
    weight_map = {"w0": args.w0, "sigma": args.sigma} if args.weight_maps else None
    try:
        out = export_dataset(args.output, items, format=args.format, weight_map=weight_map,
                             overwrite=args.overwrite, parameters=parameters, progress=terminal_progress())
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise
        raise CLIError(exc.strerror or str(exc)) from exc
    print(f"wrote {len(items)} item(s) to {out} ({args.format})")
    return 0


def build_parser() -> argparse.ArgumentParser:
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
