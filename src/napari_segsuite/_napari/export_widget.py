"""Export training data: Image + Labels layer pairs -> a TIFF, OME-Zarr or COCO dataset folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, Label, LineEdit, PushButton, Select

from ._base import JobWidget
from ._jobs import short_list
from ._layers import NOT_DATA_ROLES, current_plane, layer_role
from .writer import is_region_layer, item_name_from_layer

if TYPE_CHECKING:
    import napari

__all__ = ["ExportWidget", "PLANES", "OVERWRITE"]

PLANES = {"whole image / stack": "all", "current plane": "current", "every plane (one item each)": "each"}
OVERWRITE = {"never: stop if an item exists": "never", "skip items that exist": "skip",
             "replace items of the same name": "replace"}
FORMATS = {"TIFF (images/ masks/ weights/)": "tiff", "OME-Zarr (NGFF 0.5, labels/)": "ome-zarr",
           "COCO instances JSON + images": "coco"}


_AUTO = "auto: the pair's own region layer, if any"
#: names of layers other tools add that are not training data (for layers made before roles were recorded)
_NOT_DATA_NAMES = ("false positives", "false negatives", "superpixels")
_NOT_DATA_SUFFIXES = (" weights", " probability", " weight map")


def is_data_layer(layer) -> bool:
    """False for the plugin's own diagnostic / derived layers and for region masks (not an image or labels)."""
    name = layer.name.lower()
    return not (layer_role(layer) in NOT_DATA_ROLES or is_region_layer(layer.name, layer.metadata)
                or name.startswith(_NOT_DATA_NAMES) or name.endswith(_NOT_DATA_SUFFIXES))


def _own_region(lab, regions):
    """The region layer of the same dataset item as ``lab`` (reader metadata) or named ``<item> region``."""
    item = (lab.metadata or {}).get("segsuite_item")
    stem = lab.name[: -len(" labels")] if lab.name.endswith(" labels") else lab.name
    for reg in regions:
        meta = reg.metadata or {}
        if (item is not None and meta.get("segsuite_item") == item) or reg.name == f"{stem} region":
            return reg
    return None


def _spatial_shape(layer) -> tuple:
    shape = tuple(layer.data[0].shape if getattr(layer, "multiscale", False) else layer.data.shape)
    return shape[:-1] if getattr(layer, "rgb", False) else shape


class ExportWidget(JobWidget):
    """Write Image + Labels pairs as training data, with optional border weight maps.

    Pick one or more pairs (an Image and a Labels layer of the same shape), whether to export the whole
    image or stack, the current plane, or every plane as its own item, the item names (comma-separated,
    one per pair; empty = the image layer's name), the output folder, the layout, weight maps (w0, sigma)
    and what to do with items that exist. The export runs in a worker with progress and Cancel and ends
    with a notice of what was written.
    """

    idle_status = "pick Image + Labels pairs and a folder"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.result: dict | None = None
        super().__init__(viewer)
        self.weights.changed.connect(self._sync_weights)
        self._sync_weights()
        self.run_button.changed.connect(self.run)

    def _build(self):
        self.pairs = Select(label="Image + Labels", choices=self._pair_choices, allow_multiple=True)
        self.region = ComboBox(label="region", choices=self._region_choices)
        self.region.tooltip = ("Partial labels: a Labels layer, nonzero where the labels are complete (training "
                               "learns only there). 'auto' takes each pair's own region layer (same dataset "
                               "item, or named '<item> region'); a layer applies to the pairs of its shape.")
        self.planes = ComboBox(label="planes", choices=list(PLANES), value="whole image / stack")
        self.names = LineEdit(label="item names", value="")
        self.names.tooltip = "comma-separated, one per selected pair; empty: the image layer names"
        self.folder = FileEdit(label="output folder", mode="d", value="")
        self.format = ComboBox(label="format", choices=list(FORMATS), value=list(FORMATS)[0])
        self.weights = CheckBox(text="write border weight maps (U-Net)", value=False)
        self.w0 = FloatSpinBox(label="w0", value=10.0, min=0.0, max=1000.0, step=1.0)
        self.sigma = FloatSpinBox(label="sigma (px)", value=5.0, min=0.1, max=1000.0, step=0.5)
        self.overwrite = ComboBox(label="existing items", choices=list(OVERWRITE), value=list(OVERWRITE)[0])
        self.run_button = PushButton(text="Export")
        self.summary = Label(value="")
        self.pairs.min_height = 70
        self.pairs.max_height = 120
        self.summary.native.setWordWrap(True)  # long folder paths wrap instead of widening the dock
        return [self.pairs, self.region, self.planes, self.names, self.folder, self.format, self.weights, self.w0,
                self.sigma,
                self.overwrite, self.run_button, self.jobs, self.summary]

    def _busy_buttons(self):
        return (self.run_button,)

    # ------------------------------------------------------------------ choices
    def _pair_choices(self, _widget=None):
        from napari.layers import Image, Labels

        layers = list(self._viewer.layers)
        choices = []
        for lab in (lay for lay in layers if isinstance(lay, Labels) and is_data_layer(lay)):
            for img in (lay for lay in layers if isinstance(lay, Image) and is_data_layer(lay)):
                if _spatial_shape(img) == _spatial_shape(lab):
                    choices.append((f"{img.name}  +  {lab.name}", (img, lab)))
        return choices

    def _region_layers(self):
        from napari.layers import Labels

        return [lay for lay in self._viewer.layers
                if isinstance(lay, Labels) and is_region_layer(lay.name, lay.metadata)]

    def _region_choices(self, _widget=None):
        return [("none: the whole image is labelled", None), (_AUTO, _AUTO)] + [
            (lay.name, lay) for lay in self._region_layers()]

    def _pair_region(self, img, lab):
        """The region array of one pair (None: no region), from the region choice."""
        choice = self.region.value
        reg = _own_region(lab, self._region_layers()) if choice == _AUTO else choice
        if reg is None or (choice == _AUTO and _spatial_shape(reg) != _spatial_shape(lab)):
            return None
        if _spatial_shape(reg) != _spatial_shape(lab):
            raise ValueError(f"region {reg.name!r} has shape {_spatial_shape(reg)}, labels {lab.name!r} "
                             f"{_spatial_shape(lab)}: choose a region of the labels' shape, 'auto' or none.")
        return np.asarray(reg.data[0] if reg.multiscale else reg.data) != 0

    def _refresh(self, *_):
        self.region.reset_choices()
        before = list(self.pairs.value)
        self.pairs.reset_choices()
        keep = [v for v in before if v in [c for c in self.pairs.choices]]
        if not keep and self.pairs.choices:
            keep = [self.pairs.choices[0]]
        self.pairs.value = keep

    def _sync_weights(self, *_):
        self.w0.enabled = self.sigma.enabled = bool(self.weights.value)

    # ------------------------------------------------------------------ items
    def build_items(self) -> tuple[list[tuple], dict]:
        """Read the chosen layers (main thread) into ``(name, image, labels, region, meta)`` items + parameters.

        Raises
        ------
        ValueError
            No pair chosen, names that do not match the pairs, or layers that are not usable.
        """
        from napari_segsuite.core.dataset import check_item_name

        pairs = list(self.pairs.value)
        if not pairs:
            raise ValueError("choose at least one Image + Labels pair (layers of the same shape).")
        given = [n.strip() for n in self.names.value.split(",") if n.strip()]
        if given and len(given) != len(pairs):
            raise ValueError(f"give one item name per selected pair ({len(pairs)}), comma-separated, "
                             f"or leave the names empty; got {len(given)}.")
        if given:
            names = [check_item_name(n) for n in given]
        else:
            names = [item_name_from_layer(img.name) for img, _ in pairs]
            if len(set(names)) < len(names):
                names = [item_name_from_layer(f"{img.name}_{lab.name}") for img, lab in pairs]
        mode = PLANES[self.planes.value]
        items, sources = [], []
        for name, (img, lab) in zip(names, pairs):
            image = np.asarray(img.data[0] if img.multiscale else img.data)
            labels = np.asarray(lab.data[0] if lab.multiscale else lab.data)
            meta = {"source_image": img.name, "source_labels": lab.name}
            region = self._pair_region(img, lab)
            scale = [float(s) for s in lab.scale]
            sources.append({"item": name, "image": img.name, "labels": lab.name, "scale": scale})
            if labels.ndim == 2 or mode == "all":
                if labels.ndim > 3:
                    raise ValueError(f"{lab.name}: {labels.ndim}D labels; export one plane or every plane.")
                items.append((name, image, labels, region, {**meta, "pixel_size": scale[-labels.ndim:]}))
                continue
            lead = labels.ndim - 2
            if mode == "current":
                idx = current_plane(self._viewer, lab)[:lead]
                suffix = "_".join(f"{i:03d}" for i in idx)
                items.append((f"{name}_z{suffix}", image[idx], labels[idx],
                              None if region is None else region[idx],
                              {**meta, "plane": list(idx), "pixel_size": scale[-2:]}))
            else:
                for idx in np.ndindex(*labels.shape[:lead]):
                    suffix = "_".join(f"{i:03d}" for i in idx)
                    items.append((f"{name}_z{suffix}", image[idx], labels[idx],
                                  None if region is None else region[idx],
                                  {**meta, "plane": list(idx), "pixel_size": scale[-2:]}))
        parameters = {"source_layers": sources, "planes": mode}
        return items, parameters

    # ------------------------------------------------------------------ run
    def run(self, *_):
        """Start the export in a worker; returns the worker (None when the input is not usable)."""
        from napari_segsuite.core.dataset import iter_export_dataset, open_destination

        fmt = FORMATS[self.format.value]
        try:
            folder = str(self.folder.line_edit.value or "").strip()  # .value turns "" into "."
            if folder in ("", "."):
                raise ValueError("choose an output folder.")
            folder = Path(folder)
            items, parameters = self.build_items()
            policy = OVERWRITE[self.overwrite.value]
            skipped = []
            if policy == "skip":
                existing = _existing_names(folder)
                skipped = [it[0] for it in items if it[0] in existing]
                items = [it for it in items if it[0] not in existing]
                if not items:
                    raise ValueError(f"{folder}: every item exists already ({', '.join(skipped)}); "
                                     "nothing to export.")
            weight_map = ({"w0": float(self.w0.value), "sigma": float(self.sigma.value)}
                          if self.weights.value else None)
            # the folder checks (existing items, foreign files, another layout) answer at once
            open_destination(folder, fmt, [it[0] for it in items], policy == "replace")
        except ValueError as exc:
            self.report(exc)
            return None
        names = [it[0] for it in items]

        def done(path):
            from napari.utils.notifications import show_info

            self.result = {"path": Path(path), "items": names, "skipped": skipped, "format": fmt}
            text = (f"Wrote {len(names)} item(s) ({short_list(names)}) to {path} as {fmt}"
                    + (" with weight maps" if weight_map else "")
                    + (f"; skipped existing: {short_list(skipped)}" if skipped else "") + ".")
            self.summary.value = text
            show_info(text)

        return self.jobs.start(iter_export_dataset, folder, items, format=fmt, weight_map=weight_map,
                               overwrite=policy == "replace", parameters=parameters, on_returned=done)


def _existing_names(folder: Path) -> set:
    manifest = folder / "dataset.json"
    if not manifest.is_file():
        return set()
    try:
        return {it.get("name") for it in json.loads(manifest.read_text()).get("items", [])}
    except (OSError, ValueError):
        return set()
