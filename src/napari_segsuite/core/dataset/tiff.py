"""The TIFF layout (the default): one TIFF per item and role.

Layout::

    DATASET/
      dataset.json        {"format": "segsuite-dataset", "version": 1, "layout": "tiff", "items": [...]}
      images/NAME.tif     the image, original dtype and axes
      masks/NAME.tif      instance labels, 0 = background, smallest unsigned dtype that holds them
      weights/NAME.tif    float32 border weight map (optional, item key "weights")
      regions/NAME.tif    uint8 region mask, 1 = the labels there are complete (optional, item key "region")
"""

from __future__ import annotations

from pathlib import Path

from ..io import read_image, write_tiff
from .items import DatasetItem, PreparedItem
from .layout import read_region, tiff_photometric
from .manifest import PATH_KEYS, entry_meta, mask_disk_dtype

__all__ = ["TiffLayout"]


class TiffLayout:
    """:class:`.layout.DatasetLayout` of ``images/``, ``masks/``, ``weights/`` and ``regions/`` TIFFs."""

    name = "tiff"

    def check(self, items: list[PreparedItem]) -> None:
        """Every item the export accepts fits in TIFF files."""

    def begin(self, root: Path, manifest: dict | None) -> None:
        """Nothing is shared between TIFF items."""

    def item_paths(self, item: PreparedItem, has_weights: bool) -> dict[str, str]:
        paths = {"image": f"images/{item.name}.tif", "mask": f"masks/{item.name}.tif"}
        if has_weights:
            paths["weights"] = f"weights/{item.name}.tif"
        if item.region is not None:
            paths["region"] = f"regions/{item.name}.tif"
        return paths

    def write_item(self, stage, root: Path, entry: dict, item: PreparedItem, weights) -> None:
        write_tiff(stage.file(root / entry["image"]), item.image, photometric=tiff_photometric(item.image,
                                                                                                 item.axes))
        write_tiff(stage.file(root / entry["mask"]), item.mask.astype(mask_disk_dtype(item.mask)),
                   photometric="minisblack")
        if weights is not None:
            write_tiff(stage.file(root / entry["weights"]), weights, photometric="minisblack")
        if item.region is not None:
            write_tiff(stage.file(root / entry["region"]), item.region, photometric="minisblack")

    def owned_files(self, entry: dict) -> set[str]:
        return {entry[key] for key in PATH_KEYS if entry.get(key)}

    def manifest_extra(self) -> dict:
        return {}

    def load(self, root: Path, manifest: dict) -> list[DatasetItem]:
        out = []
        for entry in manifest.get("items", []):
            image = read_image(root / entry["image"])
            mask = read_image(root / entry["mask"])
            weights = read_image(root / entry["weights"]) if entry.get("weights") else None
            region = read_image(root / entry["region"]) if entry.get("region") else None
            region = read_region(region, mask.shape, root / str(entry.get("region")))
            out.append(DatasetItem(entry["name"], image, mask, weights, entry_meta(entry), region))
        return out
