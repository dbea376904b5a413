"""``dataset.json``: reading it, checking a destination folder against it, and building its content.

The manifest lists every item (name, the paths of its files relative to the dataset folder, axes, shape,
dtype, source metadata) and records the layout, the software version, the times and the export
parameters. An item's path keys are ``image``, ``mask`` and the optional ``weights`` and ``region``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..labels import smallest_uint_dtype
from .items import PreparedItem

__all__ = ["DATASET_FORMAT", "DATASET_VERSION", "PATH_KEYS", "read_manifest", "write_json",
           "open_destination", "build_manifest", "item_entry", "entry_meta", "mask_disk_dtype", "now"]

DATASET_FORMAT = "segsuite-dataset"
DATASET_VERSION = 1
#: the manifest keys of an item that name its files
PATH_KEYS = ("image", "mask", "weights", "region")


def write_json(path: Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2))


def read_manifest(path: Path) -> dict | None:
    """The checked ``dataset.json`` of folder ``path``, or None when there is none."""
    manifest = Path(path) / "dataset.json"
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
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder; choose a folder for the dataset.")
    manifest = read_manifest(path) if path.exists() else None
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
        "created": (old or {}).get("created") or now(),
        "modified": now(),
        "parameters": _jsonable(params),
    }
    data.update(extra or {})
    return data


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
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


def item_entry(item: PreparedItem) -> dict:
    """The manifest entry fields every layout shares (the layout adds the paths)."""
    image, mask = item.image, item.mask
    entry = {"name": item.name, "axes": item.axes, "shape": list(image.shape), "dtype": image.dtype.str,
             "mask_dtype": mask_disk_dtype(mask).name, "n_instances": int(np.count_nonzero(np.unique(mask)))}
    if item.region is not None:
        entry["region_fraction"] = round(float(np.count_nonzero(item.region)) / item.region.size, 6)
    entry.update(_jsonable({k: v for k, v in item.meta.items() if k not in PATH_KEYS and k != "name"}))
    return entry


def entry_meta(entry: dict) -> dict:
    """An entry's fields other than its name and file paths (what ``DatasetItem.meta`` holds)."""
    return {k: v for k, v in entry.items() if k != "name" and k not in PATH_KEYS}


def mask_disk_dtype(mask: np.ndarray) -> np.dtype:
    """The on-disk label dtype: the smallest unsigned type holding the largest id."""
    return smallest_uint_dtype(int(mask.max()))
