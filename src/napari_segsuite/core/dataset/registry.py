"""The dataset layouts by name: ``make_layout("tiff" | "ome-zarr" | "coco")`` gives a fresh layout object."""

from __future__ import annotations

from .coco import CocoLayout
from .layout import DatasetLayout
from .omezarr import OmeZarrLayout
from .tiff import TiffLayout

__all__ = ["LAYOUTS", "layout_name", "make_layout"]

#: layout name -> class implementing :class:`.layout.DatasetLayout`
LAYOUTS = {"tiff": TiffLayout, "ome-zarr": OmeZarrLayout, "coco": CocoLayout}
_ALIASES = {"omezarr": "ome-zarr", "zarr": "ome-zarr", "tif": "tiff"}


def layout_name(format: str) -> str:
    """The layout name for ``format`` (case, ``_`` and the aliases ``tif``, ``zarr``, ``omezarr`` allowed)."""
    fmt = str(format).lower().replace("_", "-")
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in LAYOUTS:
        raise ValueError(f"unknown dataset format {format!r}; use 'tiff', 'ome-zarr' or 'coco'.")
    return fmt


def make_layout(format: str, where=None) -> DatasetLayout:
    """A new layout object for ``format``; ``where`` (a path) makes the error name a dataset.json's folder."""
    try:
        return LAYOUTS[layout_name(format)]()
    except ValueError:
        if where is None:
            raise
        raise ValueError(f"{where}: unknown dataset layout {format!r} in dataset.json.") from None
