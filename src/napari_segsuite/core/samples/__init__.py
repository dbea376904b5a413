"""Locating the shipped sample data (images with ground truth, small trained models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["sample_dir", "sample_path", "load_sample", "SAMPLES"]

#: sample name -> description
SAMPLES = {
    "nuclei_train": "fluorescence nuclei, 512x512 uint16 (training field)",
    "nuclei_test": "fluorescence nuclei, 512x512 uint16 (test field)",
    "histology": "H&E-like RGB, 256x256x3 uint8",
    "nuclei_3d": "fluorescence nuclei stack, 24x128x128 uint16",
}


def sample_dir() -> Path:
    """The sample_data folder: inside the installed package (wheel) or at the repository root."""
    pkg = Path(__file__).resolve().parents[2]  # the napari_segsuite package
    for cand in (pkg / "sample_data", pkg.parent.parent / "sample_data"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("the napari-segsuite sample_data folder was not found; reinstall the package.")


def sample_path(name: str) -> Path:
    """Path of a shipped file, e.g. ``sample_path("nuclei_train.tif")`` or a model ``"unet_nuclei.pt"``."""
    path = sample_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"sample file {name!r} is not in {sample_dir()}.")
    return path


def load_sample(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load a sample image and its ground-truth instance labels (int32)."""
    from ..io import read_image

    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}.")
    image = read_image(sample_path(f"{name}.tif"))
    labels = read_image(sample_path(f"{name}_masks.tif")).astype(np.int32)
    return image, labels
