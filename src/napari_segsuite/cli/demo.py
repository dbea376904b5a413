"""``segsuite demo``: napari with the sample data and every widget docked, or every backend headless."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import CLIError


def register(sub):
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
