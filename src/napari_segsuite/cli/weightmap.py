"""``segsuite weightmap``: border weight maps of label images (a file or a folder). Calls core only."""

from __future__ import annotations

from pathlib import Path

from .distributed import add_weightmap_arguments, run_weightmap, wants_distributed
from .common import CLIError, parse_class_weights, parse_numbers, read_label_file, refuse_overwriting_inputs


def register(sub):
    from napari_segsuite.core.weightmap import SIGMA, W0

    p = sub.add_parser(
        "weightmap", help="border weight maps (Ronneberger 2015) of instance masks (file or folder)",
        description="Write the U-Net border weight map w = w_c + w0*exp(-(d1+d2)^2/(2 sigma^2)) of instance "
                    "masks as float32 TIFF. MASK is a label image (OUT is then a file) or a folder of them "
                    "(OUT is then a folder; in a folder holding NAME_masks.tif files only those are read, and "
                    "each gives OUT/NAME_weights.tif).")
    p.add_argument("mask", type=Path, help="instance label image (0 = background), or a folder of them")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .tif file, or folder for a folder")
    p.add_argument("--w0", type=float, default=W0, help="height of the border term")
    p.add_argument("--sigma", type=float, default=SIGMA, help="width of the border term in spacing units")
    p.add_argument("--class-weights", default="balanced", metavar="balanced|none|BG,FG",
                   help="class weights: balanced (N / (2 N_class)), none, or two numbers BG,FG")
    p.add_argument("--spacing", default=None, metavar="S[,S...]",
                   help="pixel size per axis, e.g. 2,0.5,0.5 for a ZYX stack (default: 1 on every axis)")
    p.add_argument("--plane-by-plane", action="store_true",
                   help="treat a 3D stack as separate 2D planes instead of one volume")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_weightmap_arguments(p)
    p.set_defaults(func=_cmd_weightmap)


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
    from napari_segsuite.core.io import write_tiff
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.weightmap import iter_unet_weight_map

    if wants_distributed(args):
        return run_weightmap(args)
    if not args.mask.exists():
        raise FileNotFoundError(f"{args.mask}: no such file or folder.")
    class_weights = parse_class_weights(args.class_weights)
    spacing = parse_numbers(args.spacing, "--spacing") if args.spacing else None
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
    refuse_overwriting_inputs([src for src, _ in jobs], [out for _, out in jobs])
    if not args.overwrite:
        existing = [str(out) for _, out in jobs if out.exists()]
        if existing:
            raise CLIError(f"{existing[0]} exists (and {len(existing) - 1} more); use --overwrite to replace.")
    progress = terminal_progress()
    for src, out in jobs:
        labels = read_label_file(src)
        try:
            weights = run(iter_unet_weight_map(labels, args.w0, args.sigma, class_weights, spacing,
                                               plane_by_plane=args.plane_by_plane), progress)
        except ValueError as exc:
            raise ValueError(f"{src}: {exc}") from exc
        write_tiff(out, weights)
        print(f"{src} -> {out}  (min {weights.min():.3g}, max {weights.max():.3g})")
    return 0
