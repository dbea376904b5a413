"""``segsuite cluster``: pixel clustering (k-means, Gaussian mixture, mean shift) to a label TIFF.

Calls core only. ``register(subparsers)`` adds the verb to the ``segsuite`` parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError, add_channel_axis_argument, channel_axis_arg, refuse_overwriting_inputs

__all__ = ["cmd_cluster", "register"]


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``cluster`` verb to ``subparsers`` (from ``ArgumentParser.add_subparsers``); return its parser."""
    p = subparsers.add_parser(
        "cluster", help="segment by clustering pixel intensities/colours (k-means, GMM, mean shift)",
        description="Cluster the pixels of IMAGE by intensity or colour (optionally position) and write the "
                    "cluster ids 1..K, ordered by mean intensity (1 = darkest), as a label TIFF.")
    p.add_argument("image", type=Path, help="image file (YX, ZYX, or colour YXC)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output label image (.tif)")
    p.add_argument("--method", choices=["kmeans", "gmm", "meanshift"], default="kmeans",
                   help="clustering method")
    p.add_argument("--k", type=int, default=3, help="number of clusters for kmeans and gmm")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="mean-shift kernel radius in intensity units (default: estimated from the image)")
    p.add_argument("--spatial-weight", type=float, default=0.0,
                   help="weight of pixel position; 0 = intensity only, 1 = crossing the image weighs one "
                        "intensity standard deviation")
    p.add_argument("--seed", type=int, default=0, help="random seed of the fit")
    add_channel_axis_argument(p)
    p.add_argument("--mask", type=Path, default=None,
                   help="label/mask image; only its nonzero pixels are clustered (default: none, all pixels)")
    p.set_defaults(func=cmd_cluster)
    return p


def cmd_cluster(args) -> int:
    """Run the ``cluster`` verb for parsed ``args``; returns the exit code."""
    import numpy as np

    from napari_segsuite.core.cluster import iter_cluster_pixels
    from napari_segsuite.core.io import read_image, write_tiff
    from napari_segsuite.core.labels import smallest_uint_dtype
    from napari_segsuite.core.progress import run, terminal_progress

    refuse_overwriting_inputs([args.image, args.mask], [args.output])
    if args.output.suffix.lower() not in (".tif", ".tiff"):
        raise CLIError(f"the output must be a .tif file, got {args.output}.")
    image = read_image(args.image)
    axis = channel_axis_arg(args.channel_axis, image)
    mask = None
    if args.mask is not None:
        mask = np.asarray(read_image(args.mask)) != 0
    info = {}

    def progress(event):
        info.update(event.info)
        bar(event)

    bar = terminal_progress()
    labels = run(iter_cluster_pixels(image, method=args.method, n_clusters=args.k, channel_axis=axis,
                                     spatial_weight=args.spatial_weight, bandwidth=args.bandwidth,
                                     seed=args.seed, mask=mask), progress=progress)
    write_tiff(args.output, labels.astype(smallest_uint_dtype(int(labels.max()))))
    sizes = np.bincount(labels.ravel())[1:]
    extra = f", bandwidth {info['bandwidth']:.4g}" if "bandwidth" in info else ""
    print(f"{len(sizes)} cluster(s) ({args.method}{extra}); pixels per cluster, darkest first: "
          f"{', '.join(map(str, sizes))}; wrote {args.output}")
    return 0
