"""COCO instances layout: ``annotations.json`` with one RLE annotation per instance, the images beside it.

Layout::

    DATASET/
      dataset.json          {"layout": "coco", "annotations": "annotations.json", ...}
      annotations.json      COCO instances: info, licenses, images, categories, annotations
      images/NAME.png       uint8 gray/RGB/RGBA and uint16 gray images (what COCO trainers read)
      images/NAME.tif       any other dtype or channel count (float32, uint32, 2 channels, ...)
      weights/NAME.tif      float32 border weight map (optional)

``file_name`` in ``annotations.json`` is relative to ``DATASET/images`` (detectron2's ``image_root``).
One category, ``{"id": 1, "name": "cell"}``. Each instance is one annotation with ``bbox`` ``[x, y, w, h]``
(pixels, as pycocotools' ``toBbox``), ``area`` (pixel count), ``iscrowd`` 0 and ``segmentation`` as a
compressed RLE (``{"size": [h, w], "counts": str}``, the encoding of pycocotools' ``mask.encode``, see
:mod:`.rle`), plus ``label_id``, the instance's id in the label image. Instances of a label image never
overlap, so the RLEs give back the label image exactly. COCO is 2D: stacks are refused (export every
plane as its own item).

Region mask (partial labels): the COCO image entry of such an item holds ``segsuite_region``, the region
(1 = the labels there are complete) as a compressed RLE of the image's size; the item's ``"region"`` key
in ``dataset.json`` is ``"annotations.json"`` (like its ``"mask"``). COCO tools ignore the extra key.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import read_image, write_tiff
from ..labels import smallest_uint_dtype
from .items import DatasetItem, PreparedItem
from .layout import read_region, tiff_photometric
from .manifest import entry_meta, now
from .rle import COCO_CATEGORY, decode_rle, encode_rle, instances_to_coco, paint_rle

__all__ = ["CocoLayout", "ANNOTATIONS", "REGION_KEY"]

ANNOTATIONS = "annotations.json"
REGION_KEY = "segsuite_region"


def _png_ok(image: np.ndarray, axes: str) -> bool:
    if axes == "YX":
        return image.dtype in (np.uint8, np.uint16)
    return axes == "YXC" and image.dtype == np.uint8 and image.shape[-1] in (3, 4)


def _write_image(target: Path, image: np.ndarray, axes: str) -> None:
    if _png_ok(image, axes):
        import imageio.v3 as iio

        # zlib level 3: 4x faster than Pillow's default 6 on 16-bit images, files ~3% larger
        iio.imwrite(target, image, extension=".png", compress_level=3)
    else:
        write_tiff(target, image, photometric=tiff_photometric(image, axes))


class CocoLayout:
    """:class:`.layout.DatasetLayout` of one COCO ``annotations.json`` shared by all items + image files."""

    name = "coco"

    def __init__(self):
        self.coco = {"images": [], "annotations": []}

    def check(self, items: list[PreparedItem]) -> None:
        """COCO images are 2D: refuse stacks with a message saying what to do."""
        for item in items:
            if item.axes.startswith("Z"):
                raise ValueError(
                    f"{item.name}: COCO holds 2D images only, got a stack of shape {item.mask.shape}; export "
                    "every plane as its own item (the widget's 'every plane' option) or use the TIFF or "
                    "OME-Zarr layout."
                )

    def begin(self, root: Path, manifest: dict | None) -> None:
        """Load the existing COCO file when adding to a dataset."""
        if manifest is not None:
            file = root / manifest.get("annotations", ANNOTATIONS)
            if file.exists():
                self.coco = json.loads(file.read_text())

    def item_paths(self, item: PreparedItem, has_weights: bool) -> dict[str, str]:
        ext = "png" if _png_ok(item.image, item.axes) else "tif"
        paths = {"image": f"images/{item.name}.{ext}", "mask": ANNOTATIONS}
        if has_weights:
            paths["weights"] = f"weights/{item.name}.tif"
        if item.region is not None:
            paths["region"] = ANNOTATIONS
        return paths

    def write_item(self, stage, root: Path, entry: dict, item: PreparedItem, weights) -> None:
        """Stage the image (+ weights) files and a new ``annotations.json`` holding this item."""
        from napari_segsuite import __version__

        _write_image(stage.file(root / entry["image"]), item.image, item.axes)
        if weights is not None:
            write_tiff(stage.file(root / entry["weights"]), weights, photometric="minisblack")
        coco, mask = self.coco, item.mask
        old_ids = {im["id"] for im in coco["images"] if Path(im["file_name"]).stem == item.name}
        images = [im for im in coco["images"] if im["id"] not in old_ids]
        annotations = [a for a in coco["annotations"] if a["image_id"] not in old_ids]
        image_id = min(old_ids) if old_ids else 1 + max((im["id"] for im in images), default=0)
        next_ann = 1 + max((a["id"] for a in annotations), default=0)
        info = {"id": image_id, "file_name": Path(entry["image"]).name, "height": int(mask.shape[0]),
                "width": int(mask.shape[1])}
        if item.region is not None:
            info[REGION_KEY] = encode_rle(item.region)
        images.append(info)
        annotations.extend(instances_to_coco(mask, image_id, next_ann))
        new = {
            "info": {"description": "napari-segsuite training data", "version": "1.0",
                     "contributor": f"napari-segsuite {__version__}", "date_created": now()},
            "licenses": coco.get("licenses", []),
            "images": sorted(images, key=lambda im: im["id"]),
            "categories": [dict(COCO_CATEGORY)],
            "annotations": annotations,
        }
        stage.file(root / ANNOTATIONS, replace=True).write_text(json.dumps(new))
        entry["coco_image_id"] = image_id
        self.coco = new  # only used for the next item once this one is staged; a failed item raises

    def owned_files(self, entry: dict) -> set[str]:
        # annotations.json is shared by every item: rewritten, never deleted
        return {entry[key] for key in ("image", "weights") if entry.get(key)}

    def manifest_extra(self) -> dict:
        return {"annotations": ANNOTATIONS, "image_root": "images"}

    def load(self, root: Path, manifest: dict) -> list[DatasetItem]:
        """Rebuild each item's label image from its RLE annotations (painted with ``label_id``)."""
        file = root / manifest.get("annotations", ANNOTATIONS)
        if not file.exists():
            raise FileNotFoundError(f"{file}: the COCO annotations listed in dataset.json are missing.")
        coco = json.loads(file.read_text())
        by_image: dict[int, list[dict]] = {}
        for ann in coco.get("annotations", []):
            by_image.setdefault(ann["image_id"], []).append(ann)
        images = {im["id"]: im for im in coco.get("images", [])}
        items = []
        for entry in manifest.get("items", []):
            info = images.get(entry.get("coco_image_id"))
            if info is None:
                raise ValueError(f"{file}: no COCO image for item {entry['name']!r}.")
            mask = _paint_mask(info, by_image.get(info["id"], []), entry.get("mask_dtype"), file)
            region = None
            if entry.get("region"):
                if REGION_KEY not in info:
                    raise ValueError(f"{file}: image {info['id']} has no {REGION_KEY!r}, but dataset.json "
                                     f"lists a region for item {entry['name']!r}.")
                region = read_region(decode_rle(info[REGION_KEY]), mask.shape, file)
            weights = read_image(root / entry["weights"]) if entry.get("weights") else None
            items.append(DatasetItem(entry["name"], read_image(root / entry["image"]), mask, weights,
                                     entry_meta(entry), region))
        return items


def _paint_mask(info: dict, anns: list[dict], mask_dtype, file) -> np.ndarray:
    """The label image of one COCO image: every annotation's RLE painted with its ``label_id``."""
    ids = [a.get("label_id", k + 1) for k, a in enumerate(anns)]
    dtype = np.dtype(mask_dtype or smallest_uint_dtype(max(ids, default=0)))
    h, w = int(info["height"]), int(info["width"])
    flat = np.zeros(h * w, dtype=dtype)
    for label_id, ann in zip(ids, anns):
        if [int(v) for v in ann["segmentation"]["size"]] != [h, w]:
            raise ValueError(f"{file}: annotation {ann.get('id')} has size {ann['segmentation']['size']}, "
                             f"its image is {h}x{w}.")
        paint_rle(flat, ann["segmentation"], label_id)
    return np.ascontiguousarray(flat.reshape((w, h)).T)
