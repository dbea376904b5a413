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
    # What a user sees after "Load sample model" and "Predict" in the U-Net widget (its real thread worker).
    import time

    unet = docked["U-Net"]
    unet.load_sample_model()
    unet.predict_image.value = viewer.layers["nuclei"]
    unet.predict()
    deadline = time.time() + 300
    while unet.jobs.running and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    pred = viewer.layers["nuclei U-Net"]
    pred.opacity, pred.contour = 0.6, 2
    widget_name = args.widget or "U-Net"
    from qtpy.QtWidgets import QDockWidget

    # Bring the widget's tab to the front: the dock is the QDockWidget whose widget contains ours.
    native = getattr(docked.get(widget_name), "native", docked.get(widget_name))
    docks = [w for w in QApplication.allWidgets() if isinstance(w, QDockWidget)] if native is not None else []
    for dock in docks:
        if dock.widget() is not None and (dock.widget() is native or dock.widget().isAncestorOf(native)):
            dock.raise_()
            break
    for _ in range(20):
        QApplication.processEvents()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(args.out, canvas_only=False)
    print(f"wrote {args.out}")
    viewer.close()


if __name__ == "__main__":
    main()
