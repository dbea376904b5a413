"""``segsuite export``: image + mask (+ region) files into a training dataset (TIFF, OME-Zarr or COCO).

Calls core only.
"""

from __future__ import annotations

from pathlib import Path

from .common import CLIError, read_label_file


def register(sub):
    from napari_segsuite.core.weightmap import SIGMA, W0

    p = sub.add_parser(
        "export", help="write training data as a TIFF, OME-Zarr or COCO dataset (or convert between them)",
        description="Write SOURCE as a training dataset. SOURCE is IMAGE MASK (two files; the item is named "
                    "after the image; --region REGION.tif marks where the labels are complete), or a "
                    "dataset folder of any layout, or a cellpose-style folder (NAME.tif + NAME_masks.tif) "
                    "to convert. Existing items are kept unless --overwrite.")
    p.add_argument("source", type=Path, nargs="+", help="IMAGE MASK, or a dataset / cellpose folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="dataset folder to write (or add to)")
    p.add_argument("--format", choices=["tiff", "ome-zarr", "coco"], default="tiff", help="layout")
    p.add_argument("--name", default=None, help="item name for IMAGE MASK (default: the image file's stem)")
    p.add_argument("--region", type=Path, default=None, metavar="REGION.tif",
                   help="with IMAGE MASK: region mask of the mask's shape, nonzero where the labels are "
                        "complete (partial labels; default: the whole image is labelled)")
    p.add_argument("--weight-maps", action="store_true", help="also write U-Net border weight maps")
    p.add_argument("--w0", type=float, default=W0, help="weight-map border height")
    p.add_argument("--sigma", type=float, default=SIGMA, help="weight-map border width in pixels")
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
    if args.region is not None and not args.region.exists():
        raise FileNotFoundError(f"{args.region}: no such region file.")
    if len(sources) == 1 and sources[0].is_dir():
        if args.region is not None:
            raise CLIError("--region goes with IMAGE MASK; a dataset folder carries its items' regions.")
        keep = ("source_image", "source_labels", "source_region", "pixel_size", "unit")
        items = [(it.name, it.image, it.mask, it.region, {k: v for k, v in it.meta.items() if k in keep})
                 for it in load_dataset(sources[0])]
        parameters = {"converted_from": str(sources[0])}
    elif len(sources) == 2 and not any(s.is_dir() for s in sources):
        image_path, mask_path = sources
        name = args.name or safe_item_name(image_path.name.split(".")[0])  # "my image.tif" -> my_image
        meta = {"source_image": image_path.name, "source_labels": mask_path.name}
        region = None
        if args.region is not None:
            region = read_image(args.region)
            meta["source_region"] = args.region.name
        items = [(name, read_image(image_path), read_label_file(mask_path), region, meta)]
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
