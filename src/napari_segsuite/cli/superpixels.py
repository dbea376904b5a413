"""``segsuite superpixels``: SLIC superpixels, optionally merged into regions. Calls core only."""

from __future__ import annotations

from pathlib import Path

from .common import CLIError, add_channel_axis_argument, channel_axis_arg, refuse_overwriting_inputs


def register(sub):
    from napari_segsuite.core.superpixels import COMPACTNESS, MERGE_MODES, N_SEGMENTS

    p = sub.add_parser("superpixels", help="SLIC superpixels, optionally merged into regions (labels TIFF)")
    p.add_argument("image", type=Path, help="image file (YX, ZYX, or RGB YXC)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label TIFF")
    p.add_argument("--n-segments", type=int, default=N_SEGMENTS, help="approximate number of superpixels")
    p.add_argument("--compactness", type=float, default=COMPACTNESS,
                   help="colour vs space balance, > 0; higher = more regular")
    p.add_argument("--merge-threshold", type=float, default=None,
                   help="merge superpixels below this distance (image units; ncut: 0..2); default: no merging")
    p.add_argument("--mode", choices=MERGE_MODES, default=MERGE_MODES[0], help="merging mode")
    add_channel_axis_argument(p)
    p.add_argument("--spacing", default=None,
                   help="pixel spacing per spatial axis, e.g. 2,1,1 for ZYX (default: 1 on every axis)")
    p.set_defaults(func=_cmd_superpixels)


def _cmd_superpixels(args) -> int:
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress
    from napari_segsuite.core.superpixels import iter_superpixels

    refuse_overwriting_inputs([args.image], [args.output])
    image = read_image(args.image)
    axis = channel_axis_arg(args.channel_axis, image)
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
