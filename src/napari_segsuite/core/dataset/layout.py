"""Dataset layouts besides the TIFF one: OME-Zarr and COCO (dispatch and the shared item loop).

:func:`napari_segsuite.core.dataset.iter_export_dataset` checks the items and hands ``"ome-zarr"`` and
``"coco"`` exports to :func:`iter_export`; :func:`napari_segsuite.core.dataset.load_dataset` hands their
manifests to :func:`load`. The layouts themselves live in :mod:`.export_omezarr` and :mod:`.export_coco`.

Every layout is written item by item. The files of one item and the updated ``dataset.json`` are staged
under temporary names and renamed into place together (:class:`._staging.StagedWrite`), so an interrupted
or failed export leaves the dataset as it was after the last complete item.
"""

from __future__ import annotations

from pathlib import Path

from ._staging import StagedWrite, friendly_os_error
from .progress import Progress

__all__ = ["iter_export", "load", "LAYOUTS"]

#: layout name -> module implementing ``check(prepared)``, ``begin(path, manifest)``,
#: ``stage_item(stage, path, entry, image, mask, weights, state)``, ``manifest_extra(state)`` and
#: ``load(path, manifest)``.
LAYOUTS = {"ome-zarr": "export_omezarr", "coco": "export_coco"}


def _layout(fmt: str):
    import importlib

    try:
        return importlib.import_module(f"{__package__}.{LAYOUTS[fmt]}")
    except KeyError:
        raise ValueError(f"unknown dataset layout {fmt!r}; use one of {sorted(LAYOUTS)} or 'tiff'.") from None


def iter_export(path, prepared_items, fmt, weight_map, overwrite, parameters):
    """Write checked items in the ``fmt`` layout; yields :class:`Progress`, returns the dataset path.

    Parameters
    ----------
    path : Path
        Dataset folder.
    prepared_items : list of (name, image, mask, axes, meta)
        As made by ``dataset._prepare_items``.
    fmt : {"ome-zarr", "coco"}
    weight_map : dict or None
        ``unet_weight_map`` keyword arguments, or None for no weight maps.
    overwrite : bool
        Replace items of the same name.
    parameters : dict or None
        Provenance recorded in ``dataset.json``.
    """
    from .dataset import _write_json, build_manifest, item_entry, iter_compute_weights, open_destination

    path = Path(path)
    module = _layout(fmt)
    module.check(prepared_items)
    manifest = open_destination(path, fmt, [p[0] for p in prepared_items], overwrite)
    state = module.begin(path, manifest)
    entries = {it["name"]: it for it in (manifest or {}).get("items", [])}
    total = len(prepared_items)
    for i, (name, image, mask, axes, meta) in enumerate(prepared_items):
        weights = yield from iter_compute_weights(name, mask, weight_map, i, total)
        entry = item_entry(name, image, mask, axes, meta)
        old = entries.get(name)
        try:
            with StagedWrite(replace=overwrite) as stage:
                module.stage_item(stage, path, entry, image, mask, weights, state)
                if old is not None:
                    for key in ("image", "mask", "weights"):
                        if old.get(key) and old[key] not in (entry.get("image"), entry.get("mask"),
                                                             entry.get("weights")):
                            stage.remove_on_commit(path / old[key])
                new_entries = {**entries, name: entry}
                data = build_manifest(fmt, list(new_entries.values()), manifest, parameters, weight_map,
                                      module.manifest_extra(state))
                _write_json(stage.file(path / "dataset.json", replace=True), data)
                stage.commit()
        except OSError as exc:
            raise friendly_os_error(exc, path, name) from exc
        entries, manifest = new_entries, data
        yield Progress(i + 1, total, f"wrote {name}")
    return path


def load(path, manifest: dict):
    """Read the items of a non-TIFF dataset described by ``manifest``; returns a list of DatasetItem."""
    layout = manifest.get("layout")
    if layout not in LAYOUTS:
        raise ValueError(f"{path}: unknown dataset layout {layout!r} in dataset.json.")
    return _layout(layout).load(Path(path), manifest)
