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


def _parse_point(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a point is r,c (integers), got {text!r}") from None
    if len(vals) < 2:
        raise argparse.ArgumentTypeError(f"a point is r,c (plane index first on a stack), got {text!r}")
    return vals


def register(sub):
    from napari_segsuite.core.graphcut.boxes import DEFAULT_PARAMS

    p = sub.add_parser("grabcut", help="GrabCut: one instance per box (r0,c0,r1,c1 in pixels, end exclusive) "
                                       "or per point (r,c)")
    p.add_argument("image", type=Path, help="image file (gray, RGB or multichannel; channels last)")
    p.add_argument("--box", type=_parse_box, action="append", default=[], metavar="R0,C0,R1,C1",
                   help="a box, end exclusive; repeat for more boxes (later boxes win overlaps). On a stack "
                        "give the plane first: Z,R0,C0,R1,C1")
    p.add_argument("--point", type=_parse_point, action="append", default=[], metavar="R,C",
                   help="a point on an object (its box is found from the object's scale); repeat for more. "
                        "Points are numbered after the boxes")
    p.add_argument("--model", type=Path, default=None, metavar="MODEL.pt",
                   help="U-Net or Mask R-CNN checkpoint whose foreground probability is used as a learned "
                        "prior (computed for the boxes' and points' crops only)")
    p.add_argument("--prior", type=Path, default=None, metavar="PROB.tif",
                   help="foreground probability image in [0, 1] (e.g. from segsuite predict --probabilities), "
                        "used as the learned prior")
    p.add_argument("--prior-weight", type=float, default=None,
                   help="how much the prior of --model/--prior counts against the colour models (0 ignores it; "
                        f"default {DEFAULT_PARAMS['prior_weight']:g}; stronger suits a model fine-tuned on this kind "
                        "of image)")
    p.add_argument("--device", default="auto", help="device for --model (auto, cpu, cuda, ...)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label image (.tif)")
    add_channel_axis_argument(p)
    p.add_argument("--trimap", type=Path, default=None,
                   help="label image of scribbles: 1 = foreground, 2 = background (hard constraints)")
    p.add_argument("--n-iter", type=int, default=5, help="model/cut rounds per box")
    p.add_argument("--gamma", type=float, default=None,
                   help=f"smoothness weight (default {DEFAULT_PARAMS['gamma']:g}; 10 with --nucleus-channel)")
    p.add_argument("--margin", type=int, default=DEFAULT_PARAMS["margin"],
                   help="background margin around each box in px")
    p.add_argument("--min-contrast", type=float, default=None,
                   help="a box whose cut stands out from its surroundings by fewer noise levels stays empty "
                        f"(0 keeps every box; default {DEFAULT_PARAMS['min_contrast']:g}, 0 with --nucleus-channel)")
    p.add_argument("--features", choices=("auto", "raw", "stain"), default="auto",
                   help="what the colour models see: stain = hematoxylin optical density (H&E nuclei); "
                        "auto = stain for brightfield RGB, raw channels otherwise")
    p.add_argument("--nucleus-channel", type=int, default=None, metavar="C",
                   help="multichannel whole cells: the channel marking the nucleus; each box keeps to the cell "
                        "of the nucleus nearest its centre (other nuclei mark other cells)")
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


def _prior(args, image, channel_axis):
    if args.model is not None and args.prior is not None:
        raise CLIError("give either --model or --prior, not both.")
    if args.prior is not None:
        from napari_segsuite.core.io import read_image

        return read_image(args.prior)
    if args.model is None:
        return None
    from napari_segsuite.core.graphcut.prior import model_prior, points_regions

    if image.ndim - (channel_axis is not None) != 2:
        raise CLIError("--model works on a 2D image (rows, cols[, channels]); for a stack, compute "
                       "probabilities with segsuite predict --probabilities and pass them as --prior.")
    regions = [b[-4:] for b in args.box] + points_regions([p[-2:] for p in args.point])
    return model_prior(args.model, image, regions, channel_axis=channel_axis, margin=args.margin,
                       device=args.device)


def _cmd_grabcut(args) -> int:
    import numpy as np

    from napari_segsuite.core.graphcut.boxes import iter_grabcut_masks, paint_box_masks
    from napari_segsuite.core.graphcut.points import iter_grabcut_points
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress

    if not args.box and not args.point:
        raise CLIError("give at least one --box R0,C0,R1,C1 or --point R,C.")
    refuse_overwriting_inputs([args.image, args.trimap, args.model, args.prior], [args.output])
    image = read_image(args.image)
    channel_axis = channel_axis_arg(args.channel_axis, image)
    trimap = read_image(args.trimap) if args.trimap is not None else None
    if args.output.suffix.lower() not in (".tif", ".tiff"):
        raise CLIError(f"the output must be a .tif file, got {args.output}.")
    _check_boxes_inside(args.box, image.shape, channel_axis)
    prior = _prior(args, image, channel_axis)
    params = {k: v for k, v in (("gamma", args.gamma), ("margin", args.margin),
                                ("min_contrast", args.min_contrast), ("features", args.features),
                                ("nucleus_channel", args.nucleus_channel), ("prior_weight", args.prior_weight))
              if v is not None}
    masks = []
    if args.box:
        masks = run(iter_grabcut_masks(image, args.box, args.n_iter, channel_axis, trimap, prior=prior, **params),
                    progress=terminal_progress())
    labels = paint_box_masks(_spatial_shape(image, channel_axis), masks)
    if args.point:
        point_labels = run(iter_grabcut_points(image, args.point, args.n_iter, channel_axis, trimap, prior=prior,
                                               **params), progress=terminal_progress())
        n_boxes = len(args.box)
        labels = np.where(point_labels > 0, point_labels + n_boxes, labels).astype(np.int32)
    write_tiff(args.output, labels.astype(smallest_uint_dtype(int(labels.max()))))
    n = len(args.box) + len(args.point)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:n + 1].tolist()
    what = ", ".join(f"{k} {name}(s)" for k, name in ((len(args.box), "box"), (len(args.point), "point")) if k)
    prior_note = f", prior from {args.model or args.prior}" if prior is not None else ""
    print(f"{len(args.box)} box(es) -> {args.output} (pixels per instance: {', '.join(map(str, sizes))})"
          if not args.point else
          f"{what} -> {args.output}{prior_note} (pixels per instance: {', '.join(map(str, sizes))})")
    empty_boxes = [str(i + 1) for i, k in enumerate(sizes[:len(args.box)]) if k == 0]
    if empty_boxes:
        print(f"box(es) {', '.join(empty_boxes)}: nothing stands out from the surroundings, left empty "
              "(--trimap foreground or --min-contrast 0 to force)")
    empty_points = [",".join(map(str, p)) for p, k in zip(args.point, sizes[len(args.box):]) if k == 0]
    if empty_points:
        print(f"point(s) {'; '.join(empty_points)}: no object found under the point, left empty")
    return 0


def _spatial_shape(image, channel_axis):
    shape = image.shape
    if channel_axis is not None:
        shape = tuple(n for i, n in enumerate(shape) if i != channel_axis % image.ndim)
    return shape
