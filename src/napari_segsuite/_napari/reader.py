"""npe2 reader: a training-dataset folder -> Image + Labels (+ weights) layers per item.

Reads what :func:`napari_segsuite.core.dataset.load_dataset` reads: a napari-segsuite dataset (TIFF,
OME-Zarr or COCO layout, recognised by its ``dataset.json``) or a cellpose-style folder of
``NAME.tif`` + ``NAME_masks.tif`` pairs. Pixel sizes recorded at export become the layers' scale.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["get_dataset_reader", "read_dataset", "is_dataset_folder"]

_MASK_SUFFIXES = (".tif", ".tiff", ".png")


def is_dataset_folder(path) -> bool:
    """True for a napari-segsuite dataset folder or a folder holding cellpose-style pairs."""
    path = Path(path)
    if not path.is_dir():
        return False
    manifest = path / "dataset.json"
    if manifest.exists():
        try:
            return json.loads(manifest.read_text()).get("format") == "segsuite-dataset"
        except (OSError, ValueError, AttributeError):
            return False
    try:
        for f in path.iterdir():
            if f.suffix.lower() in _MASK_SUFFIXES and f.stem.endswith("_masks"):
                stem = f.stem[: -len("_masks")]
                if any((path / f"{base}{ext}").exists() for base in (stem, f"{stem}_img")
                       for ext in (".tif", ".tiff", ".png", ".jpg", ".jpeg")):
                    return True
    except OSError:
        return False
    return False


def get_dataset_reader(path):
    """npe2 ``get_reader`` hook: return :func:`read_dataset` for dataset folders, else None."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    return read_dataset if is_dataset_folder(path) else None


def _layer_kwargs(item, name: str) -> tuple[dict, dict]:
    meta = item.meta
    spatial = {}
    if meta.get("pixel_size") is not None and len(meta["pixel_size"]) == item.mask.ndim:
        spatial["scale"] = tuple(float(s) for s in meta["pixel_size"])
    image_kw = {"name": name, **spatial}
    axes = meta.get("axes") or ("YXC" if item.image.ndim == item.mask.ndim + 1 else "")
    if axes.endswith("C"):
        if item.image.shape[-1] in (3, 4) and item.image.dtype.kind == "u":
            image_kw["rgb"] = True
        else:
            image_kw["channel_axis"] = item.image.ndim - 1
            image_kw["name"] = [f"{name} [{c}]" for c in range(item.image.shape[-1])]
    else:
        image_kw["rgb"] = False
        image_kw["colormap"] = "gray"
    return image_kw, spatial


def read_dataset(path) -> list[tuple]:
    """Load every item of a dataset folder as napari layer data tuples.

    Each item gives an Image layer named after the item, a Labels layer ``"NAME labels"``, for an item
    with a region mask (partial labels) a translucent Labels layer ``"NAME region"`` (1 = the labels
    there are complete; ``metadata["segsuite_role"] == "region"``) and, when the dataset has weight maps,
    a hidden Image layer ``"NAME weights"``. The Labels layers' ``metadata`` records the dataset folder
    and item name, so File > Save (napari-segsuite writer) can write the corrected labels (and region)
    back into the same item.
    """
    from napari_segsuite.core.dataset import load_dataset

    if isinstance(path, (list, tuple)):
        path = path[0]
    path = Path(path)
    layers = []
    for item in load_dataset(path):
        image_kw, spatial = _layer_kwargs(item, item.name)
        layers.append((item.image, image_kw, "image"))
        metadata = {"segsuite_dataset": str(path), "segsuite_item": item.name,
                    "segsuite_source_image": item.name}
        layers.append((item.mask, {"name": f"{item.name} labels", "metadata": metadata, **spatial}, "labels"))
        if item.region is not None:
            layers.append((item.region, {"name": f"{item.name} region", "opacity": 0.25, **spatial,
                                         "metadata": {**metadata, "segsuite_role": "region"}}, "labels"))
        if item.weights is not None:
            layers.append((item.weights, {"name": f"{item.name} weights", "colormap": "magma",
                                          "visible": False, **spatial}, "image"))
    return layers
