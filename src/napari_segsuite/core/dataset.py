"""The training-data format: ``export_dataset`` writes it, ``load_dataset`` reads it back.

Layout (``format="tiff"``)::

    DATASET/
      dataset.json        {"format": "segsuite-dataset", "version": 1, "axes": "YX", "items": [...],
                           "created_by": "napari-segsuite X.Y", "parameters": {...}}
      images/NAME.tif     the image, original dtype and axes
      masks/NAME.tif      instance labels, 0 = background, smallest unsigned dtype that holds them
      weights/NAME.tif    float32 border weight map (optional)

``load_dataset`` also reads a cellpose-style folder of ``NAME.tif`` + ``NAME_masks.tif`` pairs, and the
OME-Zarr and COCO layouts that :mod:`napari_segsuite.core.export_formats` writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .io import atomic_path, read_image, write_tiff
from .labels import as_labels, smallest_uint_dtype
from .progress import Progress, run

__all__ = [
    "DatasetItem",
    "export_dataset",
    "iter_export_dataset",
    "load_dataset",
    "check_item_name",
    "DATASET_FORMAT",
    "DATASET_VERSION",
]

DATASET_FORMAT = "segsuite-dataset"
DATASET_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class DatasetItem:
    """One training example."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    weights: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def check_item_name(name: str) -> str:
    """Return ``name`` if it is a safe file stem, else raise a ValueError saying what is allowed."""
    name = str(name)
    if not _NAME_RE.match(name) or name.endswith((".tif", ".tiff")) or len(name) > 200:
        raise ValueError(
            f"item name {name!r} is not usable as a file name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (no extension)."
        )
    return name


def _image_axes(image: np.ndarray, mask: np.ndarray) -> str:
    if image.shape == mask.shape:
        return "YX" if image.ndim == 2 else "ZYX"
    if image.shape[:-1] == mask.shape:
        return ("YXC" if mask.ndim == 2 else "ZYXC")
    raise ValueError(
        f"image shape {image.shape} does not match labels shape {mask.shape}: the image must have the "
        "labels' shape, optionally with a trailing channel axis."
    )


def _prepare_items(items) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    prepared, seen = [], set()
    for entry in items:
        try:
            name, image, labels = entry
        except (TypeError, ValueError) as exc:
            raise ValueError("each item must be a (name, image, labels) tuple") from exc
        name = check_item_name(name)
        if name in seen:
            raise ValueError(f"item name {name!r} is given twice.")
        seen.add(name)
        image = np.asarray(image)
        if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
            raise ValueError(f"{name}: the image contains NaN or infinite values.")
        mask = as_labels(labels, name=f"{name} labels")
        axes = _image_axes(image, mask)
        prepared.append((name, image, mask, axes))
    if not prepared:
        raise ValueError("nothing to export: no items were given.")
    return prepared


def _read_manifest(path: Path) -> dict | None:
    manifest = path / "dataset.json"
    if not manifest.exists():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{manifest}: not readable JSON ({exc}).") from exc
    if data.get("format") != DATASET_FORMAT:
        raise ValueError(f"{manifest}: not a napari-segsuite dataset (format {data.get('format')!r}).")
    if data.get("version", 0) > DATASET_VERSION:
        raise ValueError(f"{manifest}: dataset version {data['version']} is newer than this software reads.")
    return data


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))


def iter_export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                        overwrite: bool = False, parameters: dict | None = None):
    """Generator form of :func:`export_dataset`: yields :class:`Progress`, returns the dataset path."""
    from napari_segsuite import __version__

    fmt = format.lower().replace("_", "-")
    if fmt not in ("tiff", "ome-zarr", "coco"):
        raise ValueError(f"unknown dataset format {format!r}; use 'tiff', 'ome-zarr' or 'coco'.")
    if weight_map is not None and not isinstance(weight_map, dict):
        raise ValueError("weight_map must be None or a dict of unet_weight_map keyword arguments.")
    path = Path(path)
    prepared = _prepare_items(items)
    if fmt != "tiff":
        from . import export_formats

        result = yield from export_formats.iter_export(path, prepared, fmt, weight_map, overwrite, parameters)
        return result
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder.")
    manifest = _read_manifest(path) if path.exists() else None
    if manifest is None and path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
        if not overwrite:
            raise ValueError(
                f"{path}: the folder already holds files that are not a napari-segsuite dataset; "
                "choose an empty or new folder (or allow overwriting)."
            )
    existing = {it["name"]: it for it in (manifest or {}).get("items", [])}
    clashes = [name for name, *_ in prepared if name in existing]
    if clashes and not overwrite:
        raise ValueError(
            f"{path}: already holds item(s) {', '.join(clashes)}; rename them or allow overwriting."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise PermissionError(f"{path}: cannot create the folder ({exc.strerror}).") from exc
    total = len(prepared)
    axes_seen = set()
    for i, (name, image, mask, axes) in enumerate(prepared):
        axes_seen.add(axes)
        entry = {"name": name, "image": f"images/{name}.tif", "mask": f"masks/{name}.tif", "axes": axes}
        weights = None
        if weight_map is not None:
            from .weightmap import unet_weight_map

            weights = unet_weight_map(mask, **weight_map)
            entry["weights"] = f"weights/{name}.tif"
        # Write everything for this item, then record it: an interrupted export never lists a partial item.
        write_tiff(path / entry["image"], image)
        write_tiff(path / entry["mask"], mask.astype(smallest_uint_dtype(int(mask.max()))))
        if weights is not None:
            write_tiff(path / entry["weights"], weights.astype(np.float32))
        elif name in existing and existing[name].get("weights"):
            old = path / existing[name]["weights"]
            if old.exists():
                old.unlink()
        existing[name] = entry
        data = {
            "format": DATASET_FORMAT,
            "version": DATASET_VERSION,
            "axes": axes if len(axes_seen) == 1 and (manifest is None or manifest.get("axes") == axes) else "mixed",
            "items": list(existing.values()),
            "created_by": f"napari-segsuite {__version__}",
            "parameters": {**(manifest or {}).get("parameters", {}), **(parameters or {}),
                           **({"weight_map": weight_map} if weight_map is not None else {})},
        }
        _write_json(path / "dataset.json", data)
        yield Progress(i + 1, total, f"wrote {name}")
    return path


def export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                   overwrite: bool = False, parameters: dict | None = None, progress=None) -> Path:
    """Write image/label pairs as a training dataset.

    Parameters
    ----------
    path : str or Path
        Dataset folder (created if needed). An existing dataset is added to.
    items : iterable of (name, image, labels)
        ``name`` is a file stem; ``image`` has the labels' shape, optionally with a trailing channel
        axis; ``labels`` are instance labels (0 = background).
    format : {"tiff", "ome-zarr", "coco"}
        Layout to write (see the module docstring and DESIGN.md).
    weight_map : dict or None
        If given, keyword arguments of :func:`unet_weight_map`; weight maps are written beside the masks.
    overwrite : bool
        Replace items of the same name (and write into a non-empty foreign folder). Default False.
    parameters : dict, optional
        Provenance recorded in ``dataset.json`` (source layer names, pixel size, ...).
    progress : callable, optional
        Called with each :class:`Progress` event.

    Returns
    -------
    Path
        The dataset folder.

    Raises
    ------
    ValueError
        Bad names, shapes or labels; items that exist already (without ``overwrite``).
    PermissionError
        The folder is not writable. Nothing half-written is left.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> img = np.zeros((32, 32), np.uint16); lab = np.zeros((32, 32), np.int32); lab[4:9, 4:9] = 1
    >>> out = export_dataset(tempfile.mkdtemp() + "/ds", [("a", img, lab)])
    >>> load_dataset(out)[0].name
    'a'
    """
    return run(iter_export_dataset(path, items, format, weight_map, overwrite, parameters), progress)


def _load_segsuite_tiff(path: Path, manifest: dict) -> list[DatasetItem]:
    out = []
    for entry in manifest.get("items", []):
        image = read_image(path / entry["image"])
        mask = read_image(path / entry["mask"])
        weights = read_image(path / entry["weights"]) if entry.get("weights") else None
        meta = {k: v for k, v in entry.items() if k not in ("name", "image", "mask", "weights")}
        out.append(DatasetItem(entry["name"], image, mask, weights, meta))
    return out


def _load_cellpose(path: Path) -> list[DatasetItem]:
    out = []
    for mask_path in sorted(path.glob("*_masks.tif*")):
        stem = mask_path.name.split("_masks.")[0]
        candidates = [path / f"{stem}{ext}" for ext in (".tif", ".tiff", ".png")]
        image_path = next((c for c in candidates if c.exists()), None)
        if image_path is None:
            continue
        out.append(DatasetItem(stem, read_image(image_path), read_image(mask_path), None, {"layout": "cellpose"}))
    return out


def load_dataset(path) -> list[DatasetItem]:
    """Read a dataset written by :func:`export_dataset`, or a cellpose-style folder.

    Parameters
    ----------
    path : str or Path
        A dataset folder (``dataset.json``), an OME-Zarr or COCO export, or a folder of
        ``NAME.tif`` + ``NAME_masks.tif`` pairs.

    Returns
    -------
    list of DatasetItem
        With ``.name``, ``.image``, ``.mask`` and ``.weights`` (None when absent).

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    ValueError
        The folder is not a dataset of any known layout, or holds no items.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such dataset folder.")
    if not path.is_dir():
        raise ValueError(f"{path}: expected a dataset folder, got a file.")
    manifest = _read_manifest(path)
    if manifest is not None and manifest.get("layout", "tiff") == "tiff":
        items = _load_segsuite_tiff(path, manifest)
    elif manifest is not None:
        from . import export_formats

        items = export_formats.load(path, manifest)
    else:
        items = _load_cellpose(path)
    if not items:
        raise ValueError(
            f"{path}: no training items found. Expected dataset.json (napari-segsuite export) or "
            "NAME.tif + NAME_masks.tif pairs (cellpose convention)."
        )
    return items
