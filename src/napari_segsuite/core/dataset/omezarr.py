"""OME-Zarr dataset layout: one OME-NGFF 0.5 image (zarr v3) per item, with its labels in ``labels/``.

Layout::

    DATASET/
      dataset.json                 {"layout": "ome-zarr", "ngff_version": "0.5", "zarr_format": 3, ...}
      NAME.ome.zarr/               NGFF image: multiscale levels s0, s1, ... (axes [c,] [z,] y, x)
        labels/                    {"ome": {"version": "0.5", "labels": ["masks"]}}  (+ "regions")
          masks/                   NGFF label image: integer, same levels as the image, "image-label"
          regions/                 region mask as a second NGFF label image, uint8 1 = labels complete
                                   (optional, item key "region")
      weights/NAME.ome.zarr/       float32 border weight map as its own NGFF image (optional)

The region is a second label image of the item's image (not an extra array) because NGFF readers (napari
with napari-ome-zarr, ome-zarr-py) list label images and show them, and it lives inside the item's folder,
so the image, its labels and its region are renamed into place together. Subsampled levels keep it 0/1.

Channels (RGB) are stored first (``c, y, x``), as NGFF orders axes; the labels have no channel axis.
Stacks are written as ``z, y, x``. A ``pixel_size`` (and ``unit``) in an item's meta goes into the scale.
NGFF details (levels, metadata) are in :mod:`.ngff`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .items import DatasetItem, PreparedItem
from .layout import read_region
from .manifest import entry_meta, mask_disk_dtype
from .ngff import NGFF_VERSION, ZARR_FORMAT, pyramid_levels, read_ngff_image, write_ngff_image

__all__ = ["OmeZarrLayout", "LABEL_NAME", "REGION_NAME"]

LABEL_NAME = "masks"
REGION_NAME = "regions"


class OmeZarrLayout:
    """:class:`.layout.DatasetLayout` of one NGFF image folder per item (+ a weights folder)."""

    name = "ome-zarr"

    def check(self, items: list[PreparedItem]) -> None:
        """Every item the export accepts (2D, RGB/multichannel, stacks) is fine for OME-Zarr."""

    def begin(self, root: Path, manifest: dict | None) -> None:
        """Nothing is shared between OME-Zarr items."""

    def item_paths(self, item: PreparedItem, has_weights: bool) -> dict[str, str]:
        folder = f"{item.name}.ome.zarr"
        paths = {"image": folder, "mask": f"{folder}/labels/{LABEL_NAME}"}
        if has_weights:
            paths["weights"] = f"weights/{item.name}.ome.zarr"
        if item.region is not None:
            paths["region"] = f"{folder}/labels/{REGION_NAME}"
        return paths

    def write_item(self, stage, root: Path, entry: dict, item: PreparedItem, weights) -> None:
        """Write the item's NGFF image (+ label images) and optional weights into staged folders."""
        image, mask = item.image, item.mask
        spatial = item.axes.replace("C", "").lower()
        if item.axes.endswith("C"):
            stored, stored_axes = np.moveaxis(image, -1, 0), "c" + spatial
        else:
            stored, stored_axes = image, spatial
        levels = pyramid_levels(mask.shape)
        entry["levels"] = levels
        kwargs = {"pixel_size": entry.get("pixel_size"), "unit": entry.get("unit")}
        labels = {LABEL_NAME: (mask.astype(mask_disk_dtype(mask)), spatial)}
        if item.region is not None:
            labels[REGION_NAME] = (item.region, spatial)
        write_ngff_image(stage.folder(root / entry["image"]), stored, stored_axes, levels, name=item.name,
                         labels=labels, **kwargs)
        if weights is not None:
            write_ngff_image(stage.folder(root / entry["weights"]), weights.astype(np.float32), spatial,
                             levels, name=f"{item.name} weights", **kwargs)

    def owned_files(self, entry: dict) -> set[str]:
        # mask and region live inside the image folder, which is replaced as a whole
        return {entry[key] for key in ("image", "weights") if entry.get(key)}

    def manifest_extra(self) -> dict:
        return {"ngff_version": NGFF_VERSION, "zarr_format": ZARR_FORMAT}

    def load(self, root: Path, manifest: dict) -> list[DatasetItem]:
        """Read every item (level 0), restoring the channel-last image layout."""
        items = []
        for entry in manifest.get("items", []):
            image_path = root / entry["image"]
            if not image_path.exists():
                raise FileNotFoundError(f"{image_path}: listed in dataset.json but missing.")
            image, axes, _ = read_ngff_image(image_path)
            if axes.startswith("c"):
                image = np.moveaxis(image, 0, -1)
            mask, _, _ = read_ngff_image(root / entry["mask"])
            weights = read_ngff_image(root / entry["weights"])[0] if entry.get("weights") else None
            region = read_ngff_image(root / entry["region"])[0] if entry.get("region") else None
            region = read_region(region, mask.shape, root / str(entry.get("region")))
            items.append(DatasetItem(entry["name"], np.ascontiguousarray(image), mask, weights,
                                     entry_meta(entry), region))
        return items
