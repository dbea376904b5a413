"""``load_dataset``: any dataset layout (by its ``dataset.json``) or a cellpose-style folder, as items."""

from __future__ import annotations

from pathlib import Path

from .cellpose import load_cellpose
from .items import DatasetItem
from .manifest import read_manifest
from .registry import make_layout

__all__ = ["load_dataset"]


def load_dataset(path) -> list[DatasetItem]:
    """Read a dataset written by :func:`export_dataset`, or a cellpose-style folder.

    Parameters
    ----------
    path : str or Path
        A dataset folder (``dataset.json``; TIFF, OME-Zarr or COCO layout), or a folder of
        ``NAME.tif`` + ``NAME_masks.tif`` pairs.

    Returns
    -------
    list of DatasetItem
        With ``.name``, ``.image``, ``.mask``, ``.weights`` (None when absent), ``.region`` (uint8,
        1 where the labels are complete; None when the whole image is labelled) and ``.meta``.

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    ValueError
        The folder is not a dataset of any known layout, or holds no items.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from napari_segsuite.core.dataset import export_dataset
    >>> image = np.zeros((8, 8), np.uint16); mask = np.zeros((8, 8), np.uint16); mask[2:5, 2:5] = 1
    >>> region = np.zeros((8, 8), bool); region[:, :4] = True   # labels complete in the left half only
    >>> folder = export_dataset(tempfile.mkdtemp() + "/ds", [("field", image, mask, region)])
    >>> item = load_dataset(folder)[0]
    >>> item.name, int(item.mask.max()), item.mask.dtype.name, int(item.region.sum())  # smallest dtype on disk
    ('field', 1, 'uint8', 32)
    >>> keep = item.region if item.region is not None else 1  # where a trainer may learn
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dataset folder.")
    if not path.is_dir():
        raise ValueError(f"{path}: expected a dataset folder, got a file.")
    manifest = read_manifest(path)
    if manifest is not None:
        items = make_layout(manifest.get("layout", "tiff"), where=path).load(path, manifest)
    else:
        items = load_cellpose(path)
    if not items:
        raise ValueError(
            f"{path}: no training items found. Expected dataset.json (napari-segsuite export) or "
            "NAME.tif + NAME_masks.tif pairs (cellpose convention)."
        )
    return items
