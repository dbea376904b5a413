"""``segsuite demo``: napari with the sample data and every widget docked, or every backend headless."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import CLIError

#: Qt platform plugins that draw without a display server (napari's canvas needs a GL context, so
#: "offscreen" and "minimal" crash as soon as an image is shown).
_HEADLESS_QT_PLATFORMS = ("offscreen", "minimal", "minimalegl")


def no_display_reason(environ=None, platform: str | None = None) -> str | None:
    """Why the napari window cannot open here, or None if a display looks available.

    On Linux (and other X11/Wayland systems) a window needs ``DISPLAY`` or ``WAYLAND_DISPLAY``, unless
    ``QT_QPA_PLATFORM`` names another usable platform plugin (``eglfs``, ``vnc``...). macOS and Windows
    always have one. Checked before Qt is imported: Qt aborts the process (exit 134) without a display.
    """
    import os

    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin")):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if qpa in _HEADLESS_QT_PLATFORMS:
        return f"QT_QPA_PLATFORM={qpa} cannot show the napari canvas"
    if qpa and qpa not in ("xcb", "wayland", "wayland-egl"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"


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
    reason = no_display_reason()
    if reason is not None:
        raise CLIError(f"{reason}. Run the backends without a window: "
                       "segsuite demo --headless OUT_DIR, or give napari a virtual display: "
                       "xvfb-run -a segsuite demo")
    from napari_segsuite._napari.demo import open_demo_viewer

    open_demo_viewer(run=True)
    return 0
