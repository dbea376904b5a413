"""``segsuite grabcut``, ``superpixels``, ``weightmap`` and ``export`` verbs. Calls core only."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_segsuite.cli import CLIError, read_label_file, refuse_overwriting_inputs


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
    p.add_argument("--min-contrast", type=float, default=None,
                   help="a box whose cut stands out from its surroundings by fewer noise levels stays empty "
                        "(default 1.6; 0 keeps every box)")
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
    from napari_segsuite.core.layout import looks_channels_last
    from napari_segsuite.core.progress import run, terminal_progress

    refuse_overwriting_inputs([args.image, args.trimap], [args.output])
    image = read_image(args.image)
    channel_axis = args.channel_axis
    if channel_axis is None and image.ndim == 3 and (image.shape[-1] in (3, 4)
                                                     or looks_channels_last(image.shape)):
        channel_axis = -1
    trimap = read_image(args.trimap) if args.trimap is not None else None
    if args.output.suffix.lower() not in (".tif", ".tiff"):
        raise CLIError(f"the output must be a .tif file, got {args.output}.")
    _check_boxes_inside(args.box, image.shape, channel_axis)
    params = {k: v for k, v in (("gamma", args.gamma), ("margin", args.margin),
                                ("min_contrast", args.min_contrast)) if v is not None}
    labels = run(iter_grabcut_boxes(image, args.box, args.n_iter, channel_axis, trimap, **params),
                 progress=terminal_progress())
    write_tiff(args.output, labels.astype(smallest_uint_dtype(int(labels.max()))))
    sizes = [int((labels == i + 1).sum()) for i in range(len(args.box))]
    print(f"{len(args.box)} box(es) -> {args.output} (pixels per instance: {', '.join(map(str, sizes))})")
    empty = [str(i + 1) for i, n in enumerate(sizes) if n == 0]
    if empty:
        print(f"box(es) {', '.join(empty)}: nothing stands out from the surroundings, left empty "
              "(--trimap foreground or --min-contrast 0 to force)")
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
    from napari_segsuite.core.layout import looks_channels_last

    if value == "auto":
        return -1 if image.ndim == 3 and looks_channels_last(image.shape) else None
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

    refuse_overwriting_inputs([args.image], [args.output])
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
    from napari_segsuite.core.io import write_tiff
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
    from napari_segsuite.core.dataset import export_dataset, load_dataset, safe_item_name
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
        name = args.name or safe_item_name(image_path.name.split(".")[0])  # "my image.tif" -> my_image
        items = [(name, read_image(image_path), read_label_file(mask_path),
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
