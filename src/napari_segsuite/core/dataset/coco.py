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
compressed RLE (``{"size": [h, w], "counts": str}``, the encoding of pycocotools' ``mask.encode``), plus
``label_id``, the instance's id in the label image. Instances of a label image never overlap, so the RLEs
give back the label image exactly. COCO is 2D: stacks are refused (export every plane as its own item).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["encode_rle", "decode_rle", "paint_rle", "rle_to_string", "rle_from_string", "instances_to_coco",
           "COCO_CATEGORY"]

COCO_CATEGORY = {"id": 1, "name": "cell", "supercategory": "cell"}
ANNOTATIONS = "annotations.json"


# --------------------------------------------------------------------------------------------- RLE
def rle_to_string(counts) -> str:
    """Compress RLE run lengths to COCO's string form (5-bit groups, offset 48, delta to counts[i-2])."""
    out = []
    counts = [int(c) for c in counts]
    for i, value in enumerate(counts):
        x = value - counts[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift: negative deltas keep their sign
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def rle_from_string(text: str) -> list[int]:
    """Inverse of :func:`rle_to_string`."""
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _runs(column_major_bits: np.ndarray, offset: int, total: int) -> list[int]:
    """Run lengths (starting with a run of zeros) of a flat 0/1 vector placed at ``offset`` in ``total``."""
    bits = column_major_bits.astype(np.int8)
    change = np.flatnonzero(np.diff(bits)) + 1
    starts = np.concatenate(([0], change)) + offset
    ends = np.concatenate((change, [bits.size])) + offset
    counts: list[int] = []
    pos = 0
    for s, e, v in zip(starts, ends, bits[np.concatenate(([0], change))]):
        if v:
            counts.append(int(s - pos))
            counts.append(int(e - s))
            pos = int(e)
    counts.append(int(total - pos))
    return counts


def encode_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a 2D boolean mask (column-major runs, first run = zeros)."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    counts = _runs(mask.ravel(order="F"), 0, h * w)
    return {"size": [int(h), int(w)], "counts": rle_to_string(_trim(counts))}


def _trim(counts: list[int]) -> list[int]:
    # pycocotools never ends with a zero-length run of zeros unless the mask is empty
    if len(counts) > 1 and counts[-1] == 0:
        counts = counts[:-1]
    return counts


def _foreground_runs(rle: dict) -> tuple[int, int, np.ndarray, np.ndarray]:
    """``(h, w, starts, ends)`` of the runs of ones of an RLE, as column-major flat indices."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = rle_from_string(counts)
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    if counts.size == 0 or ends[-1] != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts do not describe a {h}x{w} mask.")
    starts = ends - counts
    return h, w, starts[1::2], ends[1::2]


def decode_rle(rle: dict) -> np.ndarray:
    """Boolean mask of a COCO RLE (compressed string or uncompressed list of counts)."""
    h, w, starts, ends = _foreground_runs(rle)
    flat = np.zeros(h * w, dtype=bool)
    for s, e in zip(starts, ends):
        flat[s:e] = True
    return flat.reshape((w, h)).T


def paint_rle(column_major: np.ndarray, rle: dict, value) -> None:
    """Set the pixels of an RLE to ``value`` in a flat column-major label buffer (no full-size mask)."""
    _, _, starts, ends = _foreground_runs(rle)
    for s, e in zip(starts, ends):
        column_major[s:e] = value


def instances_to_coco(labels: np.ndarray, image_id: int, first_annotation_id: int = 1) -> list[dict]:
    """One COCO annotation per instance of a 2D label image (ids in increasing order).

    Each annotation holds ``id``, ``image_id``, ``category_id`` (1), ``segmentation`` (compressed RLE),
    ``area`` (pixels), ``bbox`` ``[x, y, w, h]``, ``iscrowd`` (0) and ``label_id`` (the instance's id).
    Only the columns an instance spans are scanned, so this is fast for many small cells.
    """
    from scipy import ndimage

    labels = np.asarray(labels)
    h, w = labels.shape
    ids, inverse = np.unique(labels, return_inverse=True)
    seq = inverse.reshape(labels.shape)
    if ids[0] != 0:
        seq = seq + 1
        ids = np.concatenate(([0], ids))
    annotations = []
    for k, slc in enumerate(ndimage.find_objects(seq), start=1):
        if slc is None:
            continue
        ys, xs = slc
        strip = seq[:, xs] == k
        counts = _trim(_runs(strip.ravel(order="F"), xs.start * h, h * w))
        area = int(np.count_nonzero(strip))
        annotations.append({
            "id": first_annotation_id + len(annotations),
            "image_id": int(image_id),
            "category_id": COCO_CATEGORY["id"],
            "segmentation": {"size": [int(h), int(w)], "counts": rle_to_string(counts)},
            "area": area,
            "bbox": [float(xs.start), float(ys.start), float(xs.stop - xs.start), float(ys.stop - ys.start)],
            "iscrowd": 0,
            "label_id": int(ids[k]),
        })
    return annotations


# -------------------------------------------------------------------------------------- the layout
def _png_ok(image: np.ndarray, axes: str) -> bool:
    if axes == "YX":
        return image.dtype in (np.uint8, np.uint16)
    return axes == "YXC" and image.dtype == np.uint8 and image.shape[-1] in (3, 4)


def check(prepared) -> None:
    """COCO images are 2D: refuse stacks with a message saying what to do."""
    for name, image, mask, axes, meta in prepared:
        if axes.startswith("Z"):
            raise ValueError(
                f"{name}: COCO holds 2D images only, got a stack of shape {mask.shape}; export every plane "
                "as its own item (the widget's 'every plane' option) or use the TIFF or OME-Zarr layout."
            )


def begin(path: Path, manifest: dict | None) -> dict:
    """Load the existing COCO file when adding to a dataset."""
    coco = None
    if manifest is not None:
        file = path / manifest.get("annotations", ANNOTATIONS)
        if file.exists():
            coco = json.loads(file.read_text())
    if coco is None:
        coco = {"images": [], "annotations": []}
    return {"coco": coco}


def manifest_extra(state: dict) -> dict:
    return {"annotations": ANNOTATIONS, "image_root": "images"}


def _write_image(target: Path, image: np.ndarray, axes: str, png: bool) -> None:
    if png:
        import imageio.v3 as iio

        # zlib level 3: 4x faster than Pillow's default 6 on 16-bit images, files ~3% larger
        iio.imwrite(target, image, extension=".png", compress_level=3)
    else:
        from .dataset import tiff_photometric
        from .io import write_tiff

        write_tiff(target, image, photometric=tiff_photometric(image, axes))


def stage_item(stage, path: Path, entry: dict, image, mask, weights, state) -> None:
    """Stage the image (+ weights) files and a new ``annotations.json`` holding this item."""
    from napari_segsuite import __version__

    name, axes = entry["name"], entry["axes"]
    png = _png_ok(image, axes)
    file_name = f"{name}.png" if png else f"{name}.tif"
    entry.update(image=f"images/{file_name}", mask=ANNOTATIONS)
    _write_image(stage.file(path / entry["image"]), image, axes, png)
    if weights is not None:
        from .io import write_tiff

        entry["weights"] = f"weights/{name}.tif"
        write_tiff(stage.file(path / entry["weights"]), weights, photometric="minisblack")
    coco = state["coco"]
    old_ids = {im["id"] for im in coco["images"] if Path(im["file_name"]).stem == name}
    images = [im for im in coco["images"] if im["id"] not in old_ids]
    annotations = [a for a in coco["annotations"] if a["image_id"] not in old_ids]
    image_id = min(old_ids) if old_ids else 1 + max((im["id"] for im in images), default=0)
    next_ann = 1 + max((a["id"] for a in annotations), default=0)
    images.append({"id": image_id, "file_name": file_name, "height": int(mask.shape[0]),
                   "width": int(mask.shape[1])})
    annotations.extend(instances_to_coco(mask, image_id, next_ann))
    from .dataset import _now

    new = {
        "info": {"description": "napari-segsuite training data", "version": "1.0",
                 "contributor": f"napari-segsuite {__version__}", "date_created": _now()},
        "licenses": coco.get("licenses", []),
        "images": sorted(images, key=lambda im: im["id"]),
        "categories": [dict(COCO_CATEGORY)],
        "annotations": annotations,
    }
    stage.file(path / ANNOTATIONS, replace=True).write_text(json.dumps(new))
    entry["coco_image_id"] = image_id
    state["coco"] = new


def load(path: Path, manifest: dict):
    """Rebuild each item's label image from its RLE annotations (painted with ``label_id``)."""
    from .dataset import DatasetItem
    from .io import read_image
    from .labels import smallest_uint_dtype

    file = path / manifest.get("annotations", ANNOTATIONS)
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
        image = read_image(path / entry["image"])
        anns = by_image.get(info["id"], [])
        ids = [a.get("label_id", k + 1) for k, a in enumerate(anns)]
        dtype = np.dtype(entry.get("mask_dtype") or smallest_uint_dtype(max(ids, default=0)))
        h, w = int(info["height"]), int(info["width"])
        flat = np.zeros(h * w, dtype=dtype)
        for label_id, ann in zip(ids, anns):
            if [int(v) for v in ann["segmentation"]["size"]] != [h, w]:
                raise ValueError(f"{file}: annotation {ann.get('id')} has size {ann['segmentation']['size']}, "
                                 f"its image is {h}x{w}.")
            paint_rle(flat, ann["segmentation"], label_id)
        mask = np.ascontiguousarray(flat.reshape((w, h)).T)
        weights = read_image(path / entry["weights"]) if entry.get("weights") else None
        meta = {k: v for k, v in entry.items() if k not in ("name", "image", "mask", "weights")}
        items.append(DatasetItem(entry["name"], image, mask, weights, meta))
    return items
