"""The training-data format: ``export_dataset`` writes it, ``load_dataset`` reads it back.

Layout (``format="tiff"``, the default)::

    DATASET/
      dataset.json        {"format": "segsuite-dataset", "version": 1, "axes": "YX", "items": [...],
                           "created_by": "napari-segsuite X.Y", "parameters": {...}}
      images/NAME.tif     the image, original dtype and axes
      masks/NAME.tif      instance labels, 0 = background, smallest unsigned dtype that holds them
      weights/NAME.tif    float32 border weight map (optional)

``dataset.json`` also records ``"layout"``, each item's axes, shape, dtype and source metadata, the
software version, the creation time and the export ``parameters`` (weight-map settings, source layers,
pixel size). ``load_dataset`` also reads a cellpose-style folder of ``NAME.tif`` + ``NAME_masks.tif`` pairs,
and the OME-Zarr and COCO layouts (:mod:`.export_omezarr`, :mod:`.export_coco`, dispatched by
:mod:`.export_formats`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._staging import StagedWrite, friendly_os_error
from .io import read_image, write_tiff
from .labels import as_labels, smallest_uint_dtype
from .progress import Progress, run


def _write_json(path: Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2))

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
    """One training example, as :func:`load_dataset` returns it.

    Attributes
    ----------
    name : str
        Item name (file stem).
    image : numpy.ndarray
        The image in its original dtype; ``YX``, ``YXC`` (channels last) or ``ZYX``.
    mask : numpy.ndarray
        Instance labels (0 = background) in the smallest unsigned dtype holding the largest id.
    weights : numpy.ndarray or None
        float32 border weight map, or None when the dataset has none.
    meta : dict
        The item's other ``dataset.json`` fields (axes, shape, source layers, pixel size, ...).
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    weights: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def safe_item_name(text: str) -> str:
    """``text`` made into a usable item name: runs of other characters become ``_`` (``"my image"`` ->
    ``"my_image"``), leading/trailing ``._-`` are dropped; ``"item"`` if nothing is left."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text).strip()).strip("._-")
    return safe[:200] or "item"


def check_item_name(name: str) -> str:
    """Return ``name`` if it is a safe file stem, else raise a ValueError saying what is allowed."""
    name = str(name)
    if not _NAME_RE.match(name) or name.endswith((".tif", ".tiff")) or len(name) > 200:
        raise ValueError(
            f"item name {name!r} is not usable as a file name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (no extension)."
        )
    return name


def _image_axes(image: np.ndarray, mask: np.ndarray, name: str) -> str:
    if image.shape == mask.shape:
        return "YX" if image.ndim == 2 else "ZYX"
    if image.ndim == mask.ndim + 1 and image.shape[:-1] == mask.shape:
        return "YXC" if mask.ndim == 2 else "ZYXC"
    raise ValueError(
        f"{name}: image shape {image.shape} does not match labels shape {mask.shape}: the image must have "
        "the labels' shape, optionally with a trailing channel axis (RGB)."
    )


def _prepare_items(items) -> list[tuple[str, np.ndarray, np.ndarray, str, dict]]:
    """Check ``(name, image, labels[, meta])`` entries; return ``(name, image, mask, axes, meta)`` tuples."""
    prepared, seen = [], set()
    for entry in items:
        try:
            name, image, labels, *rest = entry
        except (TypeError, ValueError) as exc:
            raise ValueError("each item must be a (name, image, labels) tuple") from exc
        if len(rest) > 1 or (rest and not isinstance(rest[0], dict)):
            raise ValueError("each item must be (name, image, labels) or (name, image, labels, meta dict).")
        meta = dict(rest[0]) if rest else {}
        name = check_item_name(name)
        if name in seen:
            raise ValueError(f"item name {name!r} is given twice.")
        seen.add(name)
        image = np.asarray(image)
        if image.dtype.kind not in "iuf":
            raise ValueError(f"{name}: images must be integer or float, got dtype {image.dtype}.")
        if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
            raise ValueError(f"{name}: the image contains NaN or infinite values.")
        mask = as_labels(labels, name=f"{name} labels")
        axes = _image_axes(image, mask, name)
        prepared.append((name, image, mask, axes, meta))
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
    if not isinstance(data, dict) or data.get("format") != DATASET_FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"{manifest}: not a napari-segsuite dataset (format {fmt!r}).")
    if data.get("version", 0) > DATASET_VERSION:
        raise ValueError(f"{manifest}: dataset version {data['version']} is newer than this software reads.")
    return data


def open_destination(path: Path, layout: str, names: list[str], overwrite: bool) -> dict | None:
    """Check that ``path`` can take items ``names`` in ``layout``; return its manifest (None if new).

    Raises ValueError for a file in the way, a foreign non-empty folder, a dataset of another layout, or
    items that exist already (unless ``overwrite``).
    """
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder; choose a folder for the dataset.")
    manifest = _read_manifest(path) if path.exists() else None
    if manifest is None and path.exists() and any(not p.name.startswith(".") for p in path.iterdir()):
        if not overwrite:
            raise ValueError(
                f"{path}: the folder already holds files that are not a napari-segsuite dataset; "
                "choose an empty or new folder (or allow overwriting)."
            )
    if manifest is not None and manifest.get("layout", "tiff") != layout:
        raise ValueError(
            f"{path}: holds a {manifest.get('layout', 'tiff')!r} dataset; a folder holds one layout only. "
            f"Choose another folder for the {layout!r} export."
        )
    existing = {it["name"] for it in (manifest or {}).get("items", [])}
    clashes = [name for name in names if name in existing]
    if clashes and not overwrite:
        raise ValueError(
            f"{path}: already holds item(s) {', '.join(clashes)}; rename them or allow overwriting."
        )
    return manifest


def build_manifest(layout: str, entries: list[dict], old: dict | None, parameters: dict | None,
                   weight_map: dict | None, extra: dict | None = None) -> dict:
    """The ``dataset.json`` content: layout, items, provenance (software, time, parameters)."""
    from napari_segsuite import __version__

    axes = {e.get("axes") for e in entries}
    params = dict((old or {}).get("parameters", {}))
    params.update(parameters or {})
    if weight_map is not None:
        params["weight_map"] = dict(weight_map)
    data = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "layout": layout,
        "axes": axes.pop() if len(axes) == 1 else "mixed",
        "items": entries,
        "created_by": f"napari-segsuite {__version__}",
        "software": {"name": "napari-segsuite", "version": __version__,
                     "numpy": np.__version__},
        "created": (old or {}).get("created") or _now(),
        "modified": _now(),
        "parameters": _jsonable(params),
    }
    data.update(extra or {})
    return data


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _jsonable(value):
    """Convert numpy scalars/arrays and tuples in provenance dicts to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def item_entry(name: str, image: np.ndarray, mask: np.ndarray, axes: str, meta: dict) -> dict:
    """The manifest entry fields every layout shares (paths are added by the writer)."""
    entry = {"name": name, "axes": axes, "shape": list(image.shape), "dtype": image.dtype.str,
             "mask_dtype": mask_disk_dtype(mask).name, "n_instances": int(np.count_nonzero(np.unique(mask)))}
    entry.update(_jsonable(meta))
    return entry


def mask_disk_dtype(mask: np.ndarray) -> np.dtype:
    """The on-disk label dtype: the smallest unsigned type holding the largest id."""
    return smallest_uint_dtype(int(mask.max()))


def tiff_photometric(image: np.ndarray, axes: str) -> str:
    """``"rgb"`` for 3-channel 8/16-bit images, else ``"minisblack"`` (stacks are planes, never colours)."""
    if axes.endswith("C") and image.shape[-1] == 3 and image.dtype in (np.uint8, np.uint16):
        return "rgb"
    return "minisblack"


def iter_compute_weights(name: str, mask: np.ndarray, weight_map: dict | None, step: int, total: int):
    """The float32 border weight map of ``mask`` (None when ``weight_map`` is None), as a generator.

    ``weight_map`` holds :func:`napari_segsuite.core.weightmap.iter_unet_weight_map` keyword arguments
    (``w0``, ``sigma``, ``class_weights``, ``spacing``, ``plane_by_plane``); ``sigma`` is in pixels unless
    ``spacing`` is given. Progress events keep the export's ``step``/``total`` (so the bar does not jump)
    and say which item is being weighted, and a cancel takes effect inside a long weight map.
    """
    if weight_map is None:
        return None
    from .weightmap import iter_unet_weight_map

    gen = iter_unet_weight_map(mask, **weight_map)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return np.asarray(stop.value, dtype=np.float32)
        yield Progress(step, total, f"{name}: weight map {event.message}".rstrip())


def _check_weight_map_options(weight_map) -> None:
    """Refuse a ``weight_map`` that is not None or a dict of ``iter_unet_weight_map`` keyword names."""
    if weight_map is None:
        return
    if not isinstance(weight_map, dict):
        raise ValueError("weight_map must be None or a dict of unet_weight_map keyword arguments.")
    import inspect

    from .weightmap import iter_unet_weight_map

    known = list(inspect.signature(iter_unet_weight_map).parameters)[1:]
    unknown = sorted(set(map(str, weight_map)) - set(known))
    if unknown:
        raise ValueError(f"weight_map: unknown option(s) {', '.join(unknown)}; use {', '.join(known)}.")


def iter_export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                        overwrite: bool = False, parameters: dict | None = None):
    """Generator form of :func:`export_dataset`: yields :class:`Progress`, returns the dataset path."""
    fmt = str(format).lower().replace("_", "-")
    fmt = {"omezarr": "ome-zarr", "zarr": "ome-zarr", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in ("tiff", "ome-zarr", "coco"):
        raise ValueError(f"unknown dataset format {format!r}; use 'tiff', 'ome-zarr' or 'coco'.")
    _check_weight_map_options(weight_map)
    if parameters is not None and not isinstance(parameters, dict):
        raise ValueError("parameters must be None or a dict.")
    path = Path(path)
    prepared = _prepare_items(items)
    if fmt != "tiff":
        from . import export_formats

        result = yield from export_formats.iter_export(path, prepared, fmt, weight_map, overwrite, parameters)
        return result
    manifest = open_destination(path, "tiff", [p[0] for p in prepared], overwrite)
    entries = {it["name"]: it for it in (manifest or {}).get("items", [])}
    total = len(prepared)
    for i, (name, image, mask, axes, meta) in enumerate(prepared):
        weights = yield from iter_compute_weights(name, mask, weight_map, i, total)
        entry = item_entry(name, image, mask, axes, meta)
        entry.update(image=f"images/{name}.tif", mask=f"masks/{name}.tif")
        if weights is not None:
            entry["weights"] = f"weights/{name}.tif"
        old = entries.get(name)
        entries[name] = entry
        data = build_manifest("tiff", list(entries.values()), manifest, parameters, weight_map)
        try:
            with StagedWrite(replace=overwrite) as stage:
                write_tiff(stage.file(path / entry["image"]), image, photometric=tiff_photometric(image, axes))
                write_tiff(stage.file(path / entry["mask"]), mask.astype(mask_disk_dtype(mask)),
                           photometric="minisblack")
                if weights is not None:
                    write_tiff(stage.file(path / entry["weights"]), weights, photometric="minisblack")
                if old is not None:
                    for key in ("image", "mask", "weights"):
                        if old.get(key) and old[key] != entry.get(key):
                            stage.remove_on_commit(path / old[key])
                _write_json(stage.file(path / "dataset.json", replace=True), data)
                stage.commit()
        except OSError as exc:
            raise friendly_os_error(exc, path, name) from exc
        manifest = data
        yield Progress(i + 1, total, f"wrote {name}")
    return path


def export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                   overwrite: bool = False, parameters: dict | None = None, progress=None) -> Path:
    """Write image/label pairs as a training dataset.

    Parameters
    ----------
    path : str or Path
        Dataset folder (created if needed). An existing dataset is added to.
    items : iterable of (name, image, labels) or (name, image, labels, meta)
        ``name`` is a file stem; ``image`` (uint8, uint16, float32, ... any numeric dtype, kept exactly)
        has the labels' shape, optionally with a trailing channel axis (RGB); ``labels`` are 2D or 3D
        instance labels (0 = background; ids up to 2**32 - 1). ``meta`` is an optional dict recorded in
        the item's ``dataset.json`` entry, e.g. ``{"source_image": "nuclei", "source_labels": "nuclei
        labels", "pixel_size": [0.65, 0.65], "unit": "micrometer", "plane": 3}``; ``pixel_size`` (one value
        per label axis) also becomes the OME-Zarr scale.
    format : {"tiff", "ome-zarr", "coco"}
        Layout to write: ``"tiff"`` (module docstring), ``"ome-zarr"`` (OME-NGFF 0.5, zarr v3, see
        :mod:`.export_omezarr`) or ``"coco"`` (COCO instances JSON with RLE masks, images beside it, 2D only,
        see :mod:`.export_coco`). A folder holds one layout.
    weight_map : dict or None
        If given, keyword arguments of :func:`unet_weight_map` (``w0``, ``sigma`` in pixels unless
        ``spacing`` is given, ``class_weights``, ``spacing``; also ``plane_by_plane`` for stacks); float32
        weight maps are then written beside the masks and the arguments recorded in ``dataset.json``.
    overwrite : bool
        Replace items of the same name (and write into a non-empty foreign folder). Default False.
    parameters : dict, optional
        Provenance recorded in ``dataset.json`` under ``"parameters"`` (merged with earlier exports),
        beside the software name and version and the time.
    progress : callable, optional
        Called with each :class:`Progress` event; returning False cancels after the current item.

    Returns
    -------
    Path
        The dataset folder.

    Raises
    ------
    ValueError
        Bad names, shapes, dtypes or labels; items that exist already (without ``overwrite``); a folder
        holding other files or another layout; stacks for COCO. Checked before anything is written.
    PermissionError
        The folder is not writable. Nothing half-written is left.
    OSError
        The disk is full or a file is in the way of a folder; the failed item is not written.

    Notes
    -----
    Each item's files and the updated ``dataset.json`` are written under temporary names and renamed
    into place together; if that fails, what was renamed is undone. Items written before a failure or a
    cancel stay complete and listed. Masks are stored in the smallest unsigned dtype holding the largest
    id, and :func:`load_dataset` returns them in that dtype with identical values.

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


_CELLPOSE_MASK_SUFFIXES = (".tif", ".tiff", ".png")
_CELLPOSE_IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def _load_cellpose(path: Path) -> list[DatasetItem]:
    """Pairs ``NAME.ext`` (or ``NAME_img.ext``) + ``NAME_masks.ext``, as cellpose trains from and saves."""
    out = []
    for mask_path in sorted(path.iterdir()):
        if mask_path.name.startswith(".") or mask_path.suffix.lower() not in _CELLPOSE_MASK_SUFFIXES:
            continue
        if not mask_path.stem.endswith("_masks"):
            continue
        stem = mask_path.stem[: -len("_masks")]
        candidates = [path / f"{base}{ext}" for base in (stem, f"{stem}_img") for ext in _CELLPOSE_IMAGE_SUFFIXES]
        image_path = next((c for c in candidates if c.exists()), None)
        if image_path is None:
            continue
        image, mask = read_image(image_path), read_image(mask_path)
        checked = as_labels(mask, name=str(mask_path))
        if mask.dtype.kind not in "iu":
            mask = checked.astype(smallest_uint_dtype(int(checked.max())))
        _image_axes(image, mask, str(image_path))
        out.append(DatasetItem(stem, image, mask, None,
                               {"layout": "cellpose", "image_file": image_path.name, "mask_file": mask_path.name}))
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
