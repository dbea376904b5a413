"""Choosing training data in a dock widget: (Image, Labels) layer pairs of the viewer, or a dataset folder.

One :class:`TrainingPairs` container serves every widget that trains a model (U-Net, Mask R-CNN).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton, RadioButtons

from ._layers import (image_data, is_prediction, labels_data, layer_in_viewer, layers_of_type, reset_layer_choices,
                      unwrap)

if TYPE_CHECKING:
    import napari

__all__ = ["TrainingPairs", "LAYER_PAIRS", "DATASET_FOLDER"]

LAYER_PAIRS = "layer pairs"
DATASET_FOLDER = "dataset folder"
_NO_PAIRS = "pairs: none (the selected image + labels are used)"


def _show_error(exc: BaseException) -> None:
    from napari.utils.notifications import show_error

    show_error(str(exc))


class TrainingPairs(Container):
    """Training data of a model widget: layer pairs added one by one, or a dataset folder.

    "Add pair" stores the selected (Image, Labels) layers; with no pair added, the selected image and
    labels are the one pair. Pairs whose layers leave the viewer are dropped, and the layer choices keep
    their selection when layers are added, removed or renamed.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers are offered.
    report : callable, optional
        Called with a ``ValueError`` for a user mistake found by "Add pair" (the hosting widget's
        ``JobControls.report``); default: a napari error notification.
    """

    def __init__(self, viewer: napari.viewer.Viewer, report: Callable[[Exception], None] | None = None):
        self._viewer = viewer
        self._report = report if report is not None else _show_error
        self.pairs: list[tuple] = []  # (Image layer, Labels layer)
        self.pair_regions: list = []  # the region layer (or None) of each pair
        self.source = RadioButtons(label="train on", choices=[LAYER_PAIRS, DATASET_FOLDER], value=LAYER_PAIRS,
                                   orientation="horizontal")
        self.train_image = ComboBox(label="image", choices=self._image_layers)
        # nullable: with only model predictions in the viewer nothing is preselected (training a model on its own
        # output teaches it nothing); the user may still pick one, after correcting it
        self.train_labels = ComboBox(label="labels", choices=self._labels_layers, nullable=True)
        self.train_labels.tooltip = ("The corrected instances to learn from. A model's prediction layer is never "
                                     "chosen for you: correct it first, then pick it here.")
        self.train_region = ComboBox(label="complete in", choices=self._region_layers, nullable=True, value=None)
        self.train_region.null_string = "the whole image"
        self.train_region.tooltip = ("Partial labels: a Shapes layer (rectangles, polygons) or a Labels layer marking "
                                     "where the labels are complete; training learns only there.")
        self._picked_labels = None  # the Labels layer the user chose (a prediction is kept only if chosen)
        self._refreshing = False
        self.add_pair_button = PushButton(text="Add pair")
        self.clear_pairs_button = PushButton(text="Clear pairs")
        self.pairs_label = Label(value=_NO_PAIRS)
        self.dataset = FileEdit(label="dataset folder", mode="d")
        self._buttons = Container(widgets=[self.add_pair_button, self.clear_pairs_button], layout="horizontal",
                                  labels=False)
        self._buttons.margins = (0, 0, 0, 0)
        super().__init__(widgets=[self.source, self.train_image, self.train_labels, self.train_region, self._buttons,
                                  self.pairs_label,
                                  self.dataset])
        self.margins = (0, 0, 0, 0)
        for widget in (self._buttons, self.pairs_label):
            _hide_empty_row_label(widget)
        self.pairs_label.native.setWordWrap(True)  # a long list wraps instead of widening the dock
        self.train_labels.changed.connect(self._labels_picked)
        self.source.changed.connect(self._source_changed)
        self.add_pair_button.changed.connect(self.add_pair)
        self.clear_pairs_button.changed.connect(self.clear_pairs)
        viewer.layers.events.inserted.connect(self.refresh)
        viewer.layers.events.removed.connect(self.refresh)
        self._source_changed()
        self.refresh()

    def fill_row(self) -> None:
        """Take the whole width of the hosting widget's row (call after adding this to a labelled Container)."""
        _hide_empty_row_label(self)

    # --- layer choices -------------------------------------------------------------------------------
    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def _labels_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Labels")

    def _region_layers(self, _widget=None):
        return [lay for lay in layers_of_type(self._viewer, "Shapes") + layers_of_type(self._viewer, "Labels")
                if not is_prediction(lay)]

    def _labels_picked(self, value):
        if not self._refreshing:
            self._picked_labels = value

    def _default_labels(self) -> None:
        """Never leave a prediction layer selected unless the user picked it: the first other Labels layer, or none."""
        current = self.train_labels.value
        if current is not None and (not is_prediction(current) or unwrap(current) is unwrap(self._picked_labels)):
            return
        others = [lay for lay in self.train_labels.choices if lay is not None and not is_prediction(lay)]
        self.train_labels.value = others[0] if others else None

    def refresh(self, *_):
        """Refresh the layer choices (keeping renamed selections) and drop pairs whose layers are gone."""
        self._refreshing = True
        try:
            reset_layer_choices(self.train_image, self.train_labels, self.train_region)
            self._default_labels()
        finally:
            self._refreshing = False
        kept = [(pair, reg) for pair, reg in zip(self.pairs, self.pair_regions)
                if all(layer_in_viewer(self._viewer, lay) for lay in (*pair, reg) if lay is not None)]
        self.pairs, self.pair_regions = [p for p, _ in kept], [r for _, r in kept]
        self._show_pairs()

    def _source_changed(self, *_):
        from_layers = self.source.value == LAYER_PAIRS
        for widget in (self.train_image, self.train_labels, self.train_region, self._buttons, self.pairs_label):
            widget.visible = from_layers
        self.dataset.visible = not from_layers

    def _show_pairs(self):
        if self.pairs:
            self.pairs_label.value = "pairs: " + "; ".join(
                f"{i.name} + {lab.name}" + (f" (in {reg.name})" if reg is not None else "")
                for (i, lab), reg in zip(self.pairs, self.pair_regions))
        else:
            self.pairs_label.value = _NO_PAIRS

    # --- actions -------------------------------------------------------------------------------------
    def add_pair(self, *_):
        """Add the selected Image and Labels layers to the training pairs (once)."""
        image, labels, region = self.train_image.value, self.train_labels.value, self.train_region.value
        if image is None or labels is None:
            self._report(ValueError("choose an Image and a Labels layer to add as a pair."))
            return
        if not any(i is image and lab is labels and reg is region
                   for (i, lab), reg in zip(self.pairs, self.pair_regions)):
            self.pairs.append((image, labels))
            self.pair_regions.append(region)
        self._show_pairs()

    def clear_pairs(self, *_):
        """Forget the added pairs."""
        self.pairs, self.pair_regions = [], []
        self._show_pairs()

    def training_data(self, with_features: bool = False):
        """The chosen training data, read on the main thread before a job starts.

        Parameters
        ----------
        with_features : bool
            Give each pair a third item: the Labels layer's features as a dict of columns when it has a
            ``class`` column (per-instance classes for Mask R-CNN), else None.

        Returns
        -------
        data : pathlib.Path or list
            The dataset folder, or copies of each pair's ``(image, labels[, features])`` arrays (the user
            may keep painting while the job runs); a pair with a region is a
            :class:`~napari_segsuite.core.training.TrainingItem` carrying it (uint8, 1 where labels are complete).
        channel_axis : int or None
            ``-1`` if the pairs hold RGB images, None for a dataset folder or gray images.

        Raises
        ------
        ValueError
            No dataset folder chosen, no pair, a layer of the wrong kind, or an image and labels of
            different spatial shapes.
        """
        if self.source.value == DATASET_FOLDER:
            folder = Path(self.dataset.value)
            if str(self.dataset.value).strip() in ("", ".") or not folder.is_dir():  # "." is FileEdit's unset
                raise ValueError("choose an existing dataset folder (a napari-segsuite export or "
                                 "NAME.tif + NAME_masks.tif pairs).")
            return folder, None
        pairs = [(*p, r) for p, r in zip(self.pairs, self.pair_regions)]
        if not pairs and self.train_image.value is not None and self.train_labels.value is not None:
            pairs = [(self.train_image.value, self.train_labels.value, self.train_region.value)]
        if not pairs:
            raise ValueError("add at least one (Image, Labels) training pair, or train from a dataset folder.")
        data, channel_axis = [], None
        for image_layer, labels_layer, region_layer in pairs:
            image, ch = image_data(image_layer)
            labels = labels_data(labels_layer)
            spatial = image.shape if ch is None else image.shape[:-1]
            if spatial != labels.shape:
                raise ValueError(f"image {image_layer.name!r} {image.shape} and labels {labels_layer.name!r} "
                                 f"{labels.shape} do not have the same shape; pick a matching pair.")
            channel_axis = ch if ch is not None else channel_axis
            item = (image.copy(), labels.copy())
            if with_features:
                item += (_class_features(labels_layer),)
            if region_layer is not None:
                from napari_segsuite.core.training import TrainingItem

                item = TrainingItem(item[0], item[1], region=region_mask(region_layer, labels.shape),
                                    features=item[2] if with_features else None, name=labels_layer.name)
            data.append(item)
        return data, channel_axis


def _hide_empty_row_label(widget) -> None:
    """Give a nested container the whole row: hide the empty label a labelled Container puts before it.

    A labelled magicgui Container shows every non-button widget in a row "label | widget"; for a nested
    container the label is empty but still takes the label column's width, which indents the container.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QLabel

    row = widget.native.parentWidget()
    if row is None:
        return
    for label in row.findChildren(QLabel, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not label.text():
            label.hide()


def _class_features(labels_layer) -> dict | None:
    """The layer's features table as ``{column: array}`` if it has a ``class`` column, else None."""
    table = labels_layer.features
    if "class" not in getattr(table, "columns", []):
        return None
    return {c: table[c].to_numpy() for c in table.columns}


def region_mask(layer, shape) -> np.ndarray:
    """uint8 mask of ``shape`` (the labels' rows and columns): 1 inside a Shapes layer's shapes or where a Labels
    layer is nonzero. Raises ValueError for a mask of another shape or an empty one."""
    if hasattr(layer, "to_masks"):  # Shapes: rasterised in data coordinates, one mask per shape
        masks = layer.to_masks(mask_shape=shape) if len(layer.data) else np.zeros((0, *shape), bool)
        mask = np.asarray(masks).any(axis=0) if len(masks) else np.zeros(shape, bool)
    else:
        mask = np.asarray(labels_data(layer)) != 0
    if mask.shape != tuple(shape):
        raise ValueError(f"region layer {layer.name!r} has shape {mask.shape}, the labels {tuple(shape)}; "
                         "draw the region over the same image.")
    if not mask.any():
        raise ValueError(f"region layer {layer.name!r} marks nothing: draw where the labels are complete, or "
                         "choose 'the whole image'.")
    return mask.astype(np.uint8)
