"""``export_dataset``: the one item loop that writes every layout (TIFF, OME-Zarr, COCO).

Per item: compute the weight map (if asked), ask the layout for the item's paths, stage its files
(:class:`.staging.StagedWrite`), schedule the deletion of the files of the replaced item that the new one
does not own again (:meth:`.layout.DatasetLayout.owned_files`), stage the updated ``dataset.json`` and
rename everything into place together. An interrupted or failed export leaves the dataset as it was after
the last complete item.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..progress import Progress, run
from .items import prepare_items
from .manifest import build_manifest, item_entry, open_destination, write_json
from .registry import make_layout
from .staging import StagedWrite, friendly_os_error

__all__ = ["export_dataset", "iter_export_dataset", "iter_compute_weights"]


def iter_compute_weights(name: str, mask: np.ndarray, weight_map: dict | None, step: int, total: int):
    """The float32 border weight map of ``mask`` (None when ``weight_map`` is None), as a generator.

    ``weight_map`` holds :func:`napari_segsuite.core.weightmap.iter_unet_weight_map` keyword arguments
    (``w0``, ``sigma``, ``class_weights``, ``spacing``, ``plane_by_plane``); ``sigma`` is in pixels unless
    ``spacing`` is given. Progress events keep the export's ``step``/``total`` (so the bar does not jump)
    and say which item is being weighted, and a cancel takes effect inside a long weight map.
    """
    if weight_map is None:
        return None
    from ..weightmap import iter_unet_weight_map

    gen = iter_unet_weight_map(mask, **weight_map)
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return np.asarray(stop.value, dtype=np.float32)
        yield Progress(step, total, f"{name}: weight map {event.message}".rstrip())


def _check_options(weight_map, parameters) -> None:
    """Refuse a ``weight_map`` that is not None or a dict of ``iter_unet_weight_map`` keyword names."""
    if parameters is not None and not isinstance(parameters, dict):
        raise ValueError("parameters must be None or a dict.")
    if weight_map is None:
        return
    if not isinstance(weight_map, dict):
        raise ValueError("weight_map must be None or a dict of unet_weight_map keyword arguments.")
    from ..weightmap import iter_unet_weight_map

    known = list(inspect.signature(iter_unet_weight_map).parameters)[1:]
    unknown = sorted(set(map(str, weight_map)) - set(known))
    if unknown:
        raise ValueError(f"weight_map: unknown option(s) {', '.join(unknown)}; use {', '.join(known)}.")


def iter_export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                        overwrite: bool = False, parameters: dict | None = None):
    """Generator form of :func:`export_dataset`: yields :class:`Progress`, returns the dataset path."""
    layout = make_layout(format)
    _check_options(weight_map, parameters)
    path = Path(path)
    prepared = prepare_items(items)
    layout.check(prepared)
    manifest = open_destination(path, layout.name, [it.name for it in prepared], overwrite)
    layout.begin(path, manifest)
    entries = {it["name"]: it for it in (manifest or {}).get("items", [])}
    total = len(prepared)
    for i, item in enumerate(prepared):
        weights = yield from iter_compute_weights(item.name, item.mask, weight_map, i, total)
        entry = item_entry(item)
        entry.update(layout.item_paths(item, weights is not None))
        old = entries.get(item.name)
        try:
            with StagedWrite(replace=overwrite) as stage:
                layout.write_item(stage, path, entry, item, weights)
                if old is not None:
                    for stale in sorted(layout.owned_files(old) - layout.owned_files(entry)):
                        stage.remove_on_commit(path / stale)
                new_entries = {**entries, item.name: entry}
                data = build_manifest(layout.name, list(new_entries.values()), manifest, parameters,
                                      weight_map, layout.manifest_extra())
                write_json(stage.file(path / "dataset.json", replace=True), data)
                stage.commit()
        except OSError as exc:
            raise friendly_os_error(exc, path, item.name) from exc
        entries, manifest = new_entries, data
        yield Progress(i + 1, total, f"wrote {item.name}")
    return path


def export_dataset(path, items: Iterable, format: str = "tiff", weight_map: dict | None = None,
                   overwrite: bool = False, parameters: dict | None = None, progress=None) -> Path:
    """Write image/label pairs (optionally with region masks) as a training dataset.

    Parameters
    ----------
    path : str or Path
        Dataset folder (created if needed). An existing dataset is added to.
    items : iterable of tuples
        ``(name, image, labels)``, ``(name, image, labels, region)``, ``(name, image, labels, meta)`` or
        ``(name, image, labels, region, meta)``. ``name`` is a file stem; ``image`` (uint8, uint16,
        float32, ... any numeric dtype, kept exactly) has the labels' shape, optionally with a trailing
        channel axis (RGB); ``labels`` are 2D or 3D instance labels (0 = background; ids up to
        2**32 - 1). ``region`` (partial labels) is None (the whole image is labelled) or a boolean or
        integer array of the labels' shape, nonzero where the labels are complete; it is stored as uint8
        0/1 and must not be empty. ``meta`` is an optional dict recorded in the item's ``dataset.json``
        entry, e.g. ``{"source_image": "nuclei", "source_labels": "nuclei labels", "pixel_size": [0.65,
        0.65], "unit": "micrometer", "plane": 3}``; ``pixel_size`` (one value per label axis) also
        becomes the OME-Zarr scale.
    format : {"tiff", "ome-zarr", "coco"}
        Layout to write: ``"tiff"`` (:mod:`.tiff`: ``images/``, ``masks/``, ``weights/``, ``regions/``),
        ``"ome-zarr"`` (OME-NGFF 0.5, zarr v3, the region as a second label image, see :mod:`.omezarr`)
        or ``"coco"`` (COCO instances JSON with RLE masks, images beside it, the region as the image's
        ``segsuite_region`` RLE, 2D only, see :mod:`.coco`). A folder holds one layout.
    weight_map : dict or None
        If given, keyword arguments of :func:`unet_weight_map` (``w0``, ``sigma`` in pixels unless
        ``spacing`` is given, ``class_weights``, ``spacing``; also ``plane_by_plane`` for stacks); float32
        weight maps are then written beside the masks and the arguments recorded in ``dataset.json``.
    overwrite : bool
        Replace items of the same name (and write into a non-empty foreign folder). Default False.
        A replaced item's files that the new item does not have (weights, region, an image of another
        file type) are deleted.
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
        Bad names, shapes, dtypes, labels or regions; items that exist already (without ``overwrite``); a
        folder holding other files or another layout; stacks for COCO. Checked before anything is written.
    PermissionError
        The folder is not writable. Nothing half-written is left.
    OSError
        The disk is full or a file is in the way of a folder; the failed item is not written.

    Notes
    -----
    Each item's files and the updated ``dataset.json`` are written under temporary names and renamed
    into place together; if that fails, what was renamed is undone. Items written before a failure or a
    cancel stay complete and listed. Masks are stored in the smallest unsigned dtype holding the largest
    id, and :func:`load_dataset` returns them in that dtype with identical values (regions as uint8 0/1).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from napari_segsuite.core import export_dataset, load_dataset
    >>> img = np.zeros((32, 32), np.uint16); lab = np.zeros((32, 32), np.int32); lab[4:9, 4:9] = 1
    >>> region = np.zeros((32, 32), bool); region[:16] = True  # only the top half was checked
    >>> out = export_dataset(tempfile.mkdtemp() + "/ds", [("a", img, lab, region)])
    >>> item = load_dataset(out)[0]
    >>> item.name, item.region.dtype.name, int(item.region.sum())
    ('a', 'uint8', 512)
    """
    return run(iter_export_dataset(path, items, format, weight_map, overwrite, parameters), progress)
