"""npe2 sample data: each sample image opens with its ground truth as a Labels layer."""

from __future__ import annotations

from napari_segsuite.core.samples import load_sample


def _sample(name: str, title: str, rgb: bool = False):
    image, labels = load_sample(name)
    return [
        (image, {"name": title, "rgb": rgb, **({} if rgb else {"colormap": "gray"})}, "image"),
        (labels, {"name": f"{title} ground truth", "opacity": 0.5, "visible": False}, "labels"),
    ]


def nuclei_sample():
    """Synthetic 16-bit fluorescence nuclei (512x512) with ground-truth instances."""
    return _sample("nuclei_test", "nuclei")


def nuclei_train_sample():
    """A second field of nuclei (512x512), the one the shipped models were trained on."""
    return _sample("nuclei_train", "nuclei (train)")


def histology_sample():
    """Synthetic H&E-like RGB tissue (256x256x3) with ground-truth nuclei."""
    return _sample("histology", "histology", rgb=True)


def nuclei_3d_sample():
    """Synthetic 3D stack of nuclei (24x128x128) with ground-truth instances."""
    return _sample("nuclei_3d", "nuclei 3D")
