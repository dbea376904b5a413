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
    # What a user sees after one click on "Predict": the shipped U-Net's instances over the image.
    from napari_segsuite.core.predict import predict_checkpoint
    from napari_segsuite.core.samples import sample_path

    image_layer = viewer.layers["nuclei"]
    labels = predict_checkpoint(sample_path("unet_nuclei.pt"), image_layer.data)
    pred = viewer.add_labels(labels, name="U-Net prediction", opacity=0.6)
    pred.contour = 2
    widget_name = args.widget or "U-Net"
    from qtpy.QtWidgets import QDockWidget

    native = getattr(docked.get(widget_name), "native", docked.get(widget_name))
    while native is not None and not isinstance(native, QDockWidget):
        native = native.parent()
    if native is not None:
        native.raise_()
    for _ in range(20):
        QApplication.processEvents()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(args.out, canvas_only=False)
    print(f"wrote {args.out}")
    viewer.close()


if __name__ == "__main__":
    main()
