"""npe2 writer: File > Save of a Labels layer (with or without its Image) writes a dataset item.

The path chosen in the save dialog is the dataset folder. The item is named after the Labels layer
(a layer opened from a dataset keeps its item name). With an Image layer selected too, the item gets
that image. With the Labels layer alone, the item must already exist in the dataset (for example the
dataset was opened with the napari-segsuite reader and the labels corrected): its image is kept and
its mask replaced. Saving onto an existing item replaces it, since the user chose that folder and that
layer explicitly. A new folder gets the TIFF layout; an existing dataset keeps its layout.

Partial labels: a second Labels layer marked as the item's region mask (named ``"... region"``, or the
region layer the napari-segsuite reader opens, ``metadata["segsuite_role"] == "region"``) is saved as the
item's region (nonzero = the labels there are complete). Saving Labels alone keeps the item's region.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["write_dataset_item", "item_name_from_layer", "is_region_layer"]


def is_region_layer(name: str, metadata: dict | None = None) -> bool:
    """True for a Labels layer that is an item's region mask (reader metadata, or a name ending "region")."""
    if metadata and metadata.get("segsuite_role") == "region":
        return True
    return re.search(r"(^|\s)region$", str(name).strip(), flags=re.IGNORECASE) is not None


def _labels_and_region(labels: list[tuple]) -> tuple[tuple, tuple | None]:
    """The labels layer tuple and the region layer tuple (or None) among the selected Labels layers."""
    if len(labels) == 1:
        return labels[0], None
    if len(labels) == 2:
        marked = [d for d in labels if (d[1].get("metadata") or {}).get("segsuite_role") == "region"]
        if len(marked) != 1:  # no reader-marked region: go by the layer names
            marked = [d for d in labels if is_region_layer(d[1].get("name", ""))]
        if len(marked) == 1:
            return next(d for d in labels if d is not marked[0]), marked[0]
    raise ValueError("select one Labels layer, optionally with one Image layer and one Labels layer named "
                     "'... region' (where the labels are complete), to save a dataset item.")


def item_name_from_layer(name: str, metadata: dict | None = None) -> str:
    """The dataset item name for a layer: its recorded item name, else the layer name made file-safe."""
    if metadata and metadata.get("segsuite_item"):
        return str(metadata["segsuite_item"])
    from napari_segsuite.core.dataset import safe_item_name

    return safe_item_name(re.sub(r"\s+labels$|\s+ground truth$", "", str(name).strip()))


def _existing(path: Path) -> tuple[str, set]:
    """Layout and item names of the dataset at ``path`` (``"tiff"`` and none for a new folder)."""
    import json

    manifest = path / "dataset.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        return data.get("layout", "tiff"), {it.get("name") for it in data.get("items", [])}
    return "tiff", set()


def write_dataset_item(path: str, layer_data: list[tuple]) -> list[str]:
    """npe2 multi-layer writer for one Labels layer and at most one Image layer.

    Parameters
    ----------
    path : str
        Dataset folder (created if needed).
    layer_data : list of (data, meta, layer_type)
        One ``"labels"`` tuple, optionally one ``"image"`` tuple, and optionally a second ``"labels"``
        tuple that is the item's region mask (see :func:`is_region_layer`).

    Returns
    -------
    list of str
        The dataset folder, when written.

    Raises
    ------
    ValueError
        No Labels layer, two Labels layers of which not exactly one is a region, labels alone for an
        item the dataset does not hold, shapes that differ, an empty region, or any
        check of :func:`napari_segsuite.core.dataset.export_dataset`.
    """
    from napari_segsuite.core.dataset import export_dataset, load_dataset

    path = Path(path)
    labels = [d for d in layer_data if d[2] == "labels"]
    images = [d for d in layer_data if d[2] == "image"]
    if len(images) > 1:
        raise ValueError("select one Labels layer, optionally with one Image layer, to save a dataset item.")
    (mask, mask_meta, _), region_layer = _labels_and_region(labels)
    name = item_name_from_layer(mask_meta.get("name", "item"), mask_meta.get("metadata"))
    meta = {"source_labels": mask_meta.get("name")}
    scale = mask_meta.get("scale")
    if scale is not None and not np.allclose(scale, 1.0):
        meta["pixel_size"] = [float(s) for s in scale]
    region = None
    if images:
        image, image_meta, _ = images[0]
        image = np.asarray(image[0] if image_meta.get("multiscale") else image)
        meta["source_image"] = image_meta.get("name")
    else:
        if not (path / "dataset.json").exists():
            raise ValueError(
                f"{path}: saving Labels alone updates an item of an existing dataset; select the Image "
                "layer together with the Labels layer to create a new item."
            )
        existing = {it.name: it for it in load_dataset(path)}
        if name not in existing:
            raise ValueError(
                f"{path}: the dataset has no item {name!r}; select the Image layer too to add it."
            )
        image = existing[name].image
        meta["source_image"] = existing[name].meta.get("source_image", name)
        region = existing[name].region
    mask = np.asarray(mask[0] if mask_meta.get("multiscale") else mask)
    if region_layer is not None:
        region_data, region_meta, _ = region_layer
        region = np.asarray(region_data[0] if region_meta.get("multiscale") else region_data)
        meta["source_region"] = region_meta.get("name")
    layout, names = _existing(path)
    # replacing the item of this name is what saving it here means; anything else is never overwritten
    export_dataset(path, [(name, image, mask, region, meta)], format=layout, overwrite=name in names,
                   parameters={"written_by": "napari File > Save (napari-segsuite writer)"})
    return [str(path)]
