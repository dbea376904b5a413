"""Cellpose-style folders: ``NAME.ext`` (or ``NAME_img.ext``) + ``NAME_masks.ext`` pairs, read as items."""

from __future__ import annotations

from pathlib import Path

from ..io import read_image
from ..labels import as_labels, smallest_uint_dtype
from .items import DatasetItem, image_axes

__all__ = ["load_cellpose", "MASK_SUFFIXES", "IMAGE_SUFFIXES"]

MASK_SUFFIXES = (".tif", ".tiff", ".png")
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def load_cellpose(path: Path) -> list[DatasetItem]:
    """Every ``NAME_masks`` file of ``path`` with its image, as cellpose trains from and saves them.

    Masks without an image (and images without masks) are skipped; non-integer masks are converted when
    they hold whole numbers, else refused with the file's name. No item has weights or a region.
    """
    path = Path(path)
    out = []
    for mask_path in sorted(path.iterdir()):
        if mask_path.name.startswith(".") or mask_path.suffix.lower() not in MASK_SUFFIXES:
            continue
        if not mask_path.stem.endswith("_masks"):
            continue
        stem = mask_path.stem[: -len("_masks")]
        candidates = [path / f"{base}{ext}" for base in (stem, f"{stem}_img") for ext in IMAGE_SUFFIXES]
        image_path = next((c for c in candidates if c.exists()), None)
        if image_path is None:
            continue
        image, mask = read_image(image_path), read_image(mask_path)
        checked = as_labels(mask, name=str(mask_path))
        if mask.dtype.kind not in "iu":
            mask = checked.astype(smallest_uint_dtype(int(checked.max())))
        image_axes(image, mask, str(image_path))
        meta = {"layout": "cellpose", "image_file": image_path.name, "mask_file": mask_path.name}
        out.append(DatasetItem(stem, image, mask, None, meta))
    return out
