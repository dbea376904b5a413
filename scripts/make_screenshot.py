"""Make docs/screenshot.png: the demo viewer (sample data, every widget docked) as a user sees it.

    xvfb-run -a python scripts/make_screenshot.py [--widget NAME] [--out docs/screenshot.png]
"""

import argparse
from pathlib import Path

from qtpy.QtWidgets import QApplication


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"))
    parser.add_argument("--widget", default=None, help="display name of the widget tab to bring to front")
    args = parser.parse_args()

    import napari

    from napari_segsuite._napari.demo import open_demo_viewer

    viewer = napari.Viewer(title="napari-segsuite demo", show=True)
    viewer.window.resize(1500, 950)
    viewer, docked = open_demo_viewer(viewer=viewer)
    viewer.layers[-1].visible = True
    viewer.layers[-1].contour = 2
    if args.widget:
        dock = viewer.window.dock_widgets.get(f"{args.widget} (napari-segsuite)") if hasattr(
            viewer.window, "dock_widgets") else None
        if dock is not None:
            dock.raise_()
    for _ in range(20):
        QApplication.processEvents()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(args.out, canvas_only=False)
    print(f"wrote {args.out}")
    viewer.close()


if __name__ == "__main__":
    main()
