"""What one on-disk dataset layout provides (:class:`DatasetLayout`), and helpers the layouts share.

The layouts are :class:`.tiff.TiffLayout`, :class:`.omezarr.OmeZarrLayout` and :class:`.coco.CocoLayout`,
looked up by name in :mod:`.registry`. :func:`.export.iter_export_dataset` is the one item loop for all
of them: per item it asks the layout for the item's paths, stages the files through
:meth:`DatasetLayout.write_item`, schedules the removal of the replaced item's files that the new item
no longer has (:meth:`DatasetLayout.owned_files`), writes ``dataset.json`` and commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .items import DatasetItem, PreparedItem
from .staging import StagedWrite

__all__ = ["DatasetLayout", "tiff_photometric", "read_region"]


@runtime_checkable
class DatasetLayout(Protocol):
    """One on-disk layout of a dataset. A new instance is made for every export or load.

    Attributes
    ----------
    name : str
        The layout's name, recorded as ``"layout"`` in ``dataset.json`` (``"tiff"``, ``"ome-zarr"``, ...).
    """

    name: str

    def check(self, items: list[PreparedItem]) -> None:
        """Raise ValueError for items this layout cannot hold (called before anything is written)."""

    def begin(self, root: Path, manifest: dict | None) -> None:
        """Read what the layout keeps across items of an existing dataset (e.g. COCO's annotations)."""

    def item_paths(self, item: PreparedItem, has_weights: bool) -> dict[str, str]:
        """The manifest path keys of ``item`` (``image``, ``mask``, optional ``weights``, ``region``),
        relative to the dataset folder."""

    def write_item(self, stage: StagedWrite, root: Path, entry: dict, item: PreparedItem,
                   weights: np.ndarray | None) -> None:
        """Stage every file of ``item`` (paths as in ``entry``); may add layout fields to ``entry``."""

    def owned_files(self, entry: dict) -> set[str]:
        """The files and folders (relative paths) that belong to this item alone: those of a replaced
        item that the new item does not own again are deleted when the new item is committed. Files
        shared by all items (COCO's ``annotations.json``) are not listed."""

    def manifest_extra(self) -> dict:
        """Layout fields added to ``dataset.json`` (e.g. the NGFF version)."""

    def load(self, root: Path, manifest: dict) -> list[DatasetItem]:
        """Read every item listed in ``manifest``."""


def tiff_photometric(image: np.ndarray, axes: str) -> str:
    """``"rgb"`` for 3-channel 8/16-bit images, else ``"minisblack"`` (stacks are planes, never colours)."""
    if axes.endswith("C") and image.shape[-1] == 3 and image.dtype in (np.uint8, np.uint16):
        return "rgb"
    return "minisblack"


def read_region(region: np.ndarray | None, mask_shape: tuple, where) -> np.ndarray | None:
    """A region read from disk as uint8 0/1, checked against the labels' shape (None stays None)."""
    if region is None:
        return None
    region = np.asarray(region)
    if region.shape != tuple(mask_shape):
        raise ValueError(f"{where}: region mask shape {region.shape} does not match the labels' "
                         f"{tuple(mask_shape)}.")
    return (region != 0).astype(np.uint8)
