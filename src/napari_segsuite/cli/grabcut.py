"""``segsuite grabcut``: one instance per box. Calls core only."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError, add_channel_axis_argument, channel_axis_arg, refuse_overwriting_inputs


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


def register(sub):
    from napari_segsuite.core.graphcut.boxes import DEFAULT_PARAMS

    p = sub.add_parser("grabcut", help="GrabCut: one instance per box (r0,c0,r1,c1 in pixels, end exclusive)")
    p.add_argument("image", type=Path, help="image file (gray, RGB or multichannel; channels last)")
    p.add_argument("--box", type=_parse_box, action="append", required=True, metavar="R0,C0,R1,C1",
                   help="a box, end exclusive; repeat for more boxes (later boxes win overlaps). On a stack "
                        "give the plane first: Z,R0,C0,R1,C1")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label image (.tif)")
    add_channel_axis_argument(p)
    p.add_argument("--trimap", type=Path, default=None,
                   help="label image of scribbles: 1 = foreground, 2 = background (hard constraints)")
    p.add_argument("--n-iter", type=int, default=5, help="model/cut rounds per box")
    p.add_argument("--gamma", type=float, default=DEFAULT_PARAMS["gamma"], help="smoothness weight")
    p.add_argument("--margin", type=int, default=DEFAULT_PARAMS["margin"],
                   help="background margin around each box in px")
    p.add_argument("--min-contrast", type=float, default=DEFAULT_PARAMS["min_contrast"],
                   help="a box whose cut stands out from its surroundings by fewer noise levels stays empty "
                        "(0 keeps every box)")
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
    from napari_segsuite.core.graphcut.boxes import iter_grabcut_boxes
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress

    refuse_overwriting_inputs([args.image, args.trimap], [args.output])
    image = read_image(args.image)
    channel_axis = channel_axis_arg(args.channel_axis, image)
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
