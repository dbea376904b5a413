"""The training-data backend: ``export_dataset`` writes a dataset, ``load_dataset`` reads it back.

Modules, one job each:

- :mod:`.items`: :class:`DatasetItem`, item names, the checks an item passes before export (region too)
- :mod:`.manifest`: ``dataset.json`` (read, check a destination, build)
- :mod:`.staging`: :class:`StagedWrite`, all-or-nothing writing of one item's files
- :mod:`.layout`: :class:`DatasetLayout`, what one on-disk layout provides
- :mod:`.tiff`, :mod:`.omezarr` (+ :mod:`.ngff`), :mod:`.coco` (+ :mod:`.rle`): the layouts;
  :mod:`.registry` finds them by name
- :mod:`.export`: the one item loop for every layout; :mod:`.load`: ``load_dataset``;
  :mod:`.cellpose`: ``NAME.tif`` + ``NAME_masks.tif`` folders

Layout of the default (TIFF) format::

    DATASET/
      dataset.json        {"format": "segsuite-dataset", "version": 1, "axes": "YX", "items": [...],
                           "created_by": "napari-segsuite X.Y", "parameters": {...}}
      images/NAME.tif     the image, original dtype and axes
      masks/NAME.tif      instance labels, 0 = background, smallest unsigned dtype that holds them
      weights/NAME.tif    float32 border weight map (optional)
      regions/NAME.tif    uint8, 1 = the labels there are complete (optional, item key "region")
"""

from __future__ import annotations

from .export import export_dataset, iter_compute_weights, iter_export_dataset
from .items import DatasetItem, check_item_name, safe_item_name
from .layout import DatasetLayout
from .load import load_dataset
from .manifest import DATASET_FORMAT, DATASET_VERSION, open_destination
from .staging import StagedWrite, friendly_os_error

__all__ = [
    "DatasetItem",
    "DatasetLayout",
    "export_dataset",
    "iter_export_dataset",
    "iter_compute_weights",
    "load_dataset",
    "check_item_name",
    "safe_item_name",
    "open_destination",
    "StagedWrite",
    "friendly_os_error",
    "DATASET_FORMAT",
    "DATASET_VERSION",
]
