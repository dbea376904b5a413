"""Pixel clustering widget: an Image layer -> a Labels layer of clusters (k-means, GMM or mean shift).

Parameters preview live on a downsampled copy of the shown plane; "Cluster" runs the whole image in a
worker; "to instances" splits one cluster into connected components. Algorithms live in core.cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, Label, PushButton, SpinBox

from ._base import JobWidget
from ._layers import labels_data, layers_of_type, prediction_input, set_role

if TYPE_CHECKING:
    import napari

METHODS = ("kmeans", "gmm", "meanshift")
#: the preview clusters a strided copy of the shown plane with at most this many pixels per side
PREVIEW_SIDE = 256
#: the preview waits this long after the last parameter change
PREVIEW_DELAY_MS = 150


class ClusterWidget(JobWidget):
    """Cluster an image's pixels by intensity/colour (and optionally position) into a Labels layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Image (and mask Labels) layers are offered.
    """

    idle_status = "pick an Image layer"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.result_layer = None
        self.preview_layer = None
        self._timer = None
        self._last_key = None
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)
        self.instances_button.changed.connect(self.to_instances)
        # the preview follows the parameters the user moves; a new image only drops a stale preview (the
        # image choice also changes when layers are added, and a layer nobody asked for would appear)
        for w in (self.method, self.n_clusters, self.bandwidth, self.spatial_weight, self.mask, self.preview):
            w.changed.connect(self._schedule_preview)
        self.image.changed.connect(self._drop_preview)
        self.method.changed.connect(self._update_visibility)
        self._last_key = self._preview_key()

    def _build(self) -> list:
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.method = ComboBox(label="method", choices=METHODS, value="kmeans",
                               tooltip="kmeans: K round clusters; gmm: K Gaussian clusters of any shape; "
                                       "meanshift: finds the number of clusters from the bandwidth")
        self.n_clusters = SpinBox(label="clusters (K)", value=3, min=1, max=64,
                                  tooltip="number of clusters for kmeans and gmm")
        self.bandwidth = FloatSpinBox(label="bandwidth", value=0.0, min=0.0, max=1e9, step=1.0,
                                      tooltip="mean-shift radius in intensity units; 0 = estimate it")
        self.spatial_weight = FloatSpinBox(label="spatial weight", value=0.0, min=0.0, max=1e3, step=0.5,
                                           tooltip="0: intensity only; higher: position counts too, giving "
                                                   "compact regions (1 = crossing the image weighs one "
                                                   "intensity standard deviation)")
        self.mask = ComboBox(label="mask", choices=self._mask_layers, nullable=True, value=None,
                             tooltip="optional Labels layer: only its nonzero pixels are clustered")
        self.mask.null_string = "none (whole image)"
        self.preview = CheckBox(text="live preview (downsampled, shown plane)", value=True)
        self.run_button = PushButton(text="Cluster")
        self.cluster_id = SpinBox(label="cluster", value=1, min=1, max=64,
                                  tooltip="cluster id to split into instances (1 = darkest)")
        self.instances_button = PushButton(text="Cluster -> instances (connected components)")
        self.info = Label(value="")
        return [self.image, self.method, self.n_clusters, self.bandwidth, self.spatial_weight, self.mask,
                self.preview, self.run_button, self.jobs, self.cluster_id, self.instances_button, self.info]

    def _busy_buttons(self) -> tuple:
        return (self.run_button, self.instances_button)

    def _layer_choices(self) -> tuple:
        return (self.image, self.mask)

    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def _mask_layers(self, _widget=None):
        return [lay for lay in layers_of_type(self._viewer, "Labels")
                if not self._is_ours(lay)]

    def _is_ours(self, layer) -> bool:
        from ._layers import unwrap

        return any(mine is not None and unwrap(mine) is unwrap(layer)
                   for mine in (self.__dict__.get("result_layer"), self.__dict__.get("preview_layer")))

    def _refresh(self, *_):
        super()._refresh()
        self._update_visibility()

    def _update_visibility(self, *_):
        shift = self.method.value == "meanshift"
        self.n_clusters.visible = not shift
        self.bandwidth.visible = shift

    def parameters(self) -> dict:
        """Keyword arguments for :func:`napari_segsuite.core.cluster.iter_cluster_pixels` (no image, mask)."""
        bandwidth = float(self.bandwidth.value)
        return {"method": self.method.value, "n_clusters": int(self.n_clusters.value),
                "spatial_weight": float(self.spatial_weight.value),
                "bandwidth": bandwidth if bandwidth > 0 else None}

    def _inputs(self, whole_stack: bool):
        """``(image, channel_axis, place, mask)`` for the chosen layers; ValueError for a bad choice."""
        layer = self.image.value
        image, channel_axis, place = prediction_input(self._viewer, layer, whole_stack=whole_stack)
        spatial = tuple(n for i, n in enumerate(image.shape) if channel_axis is None or i != image.ndim - 1)
        mask = None
        if self.mask.value is not None:
            m = labels_data(self.mask.value)
            if not whole_stack and m.ndim > len(spatial):  # preview of one plane: that plane of the mask
                m = m[self._plane_index(m.ndim - len(spatial))]
            if m.shape != spatial:
                raise ValueError(f"mask {self.mask.value.name!r} has shape {m.shape} but image {layer.name!r} "
                                 f"has the spatial shape {spatial}; choose a mask of the image's shape.")
            mask = np.asarray(m) != 0
        return image, channel_axis, place, mask

    def _plane_index(self, n_lead: int) -> tuple:
        from ._layers import current_plane

        return current_plane(self._viewer, self.image.value)[:n_lead]

    # -- preview -----------------------------------------------------------------------------------------
    def _preview_key(self) -> tuple:
        from ._layers import unwrap

        return (*self.parameters().values(), id(unwrap(self.mask.value)), self.preview.value)

    def _schedule_preview(self, *_):
        """Preview 150 ms after the last parameter change (a re-emitted unchanged value is no change)."""
        from qtpy.QtCore import QTimer

        key = self._preview_key()
        if key == self._last_key:
            return
        self._last_key = key
        if self._timer is None:
            self._timer = QTimer(self.native)  # a child: deleted with the dock, never fires after it
            self._timer.setSingleShot(True)
            self._timer.setInterval(PREVIEW_DELAY_MS)
            self._timer.timeout.connect(self.update_preview)
        self._timer.start()

    def update_preview(self, *_):
        """Cluster a strided copy (at most 256 px a side) of the shown plane into the preview layer."""
        from napari_segsuite.core.cluster import cluster_pixels

        if not self.preview.value or self.image.value is None:
            self._drop_preview()
            return None
        if self.jobs.running:  # the full result is on its way and replaces any preview
            return None
        try:
            image, channel_axis, place, mask = self._inputs(whole_stack=False)
            rows, cols = image.shape[:2]
            step = max(1, int(np.ceil(max(rows, cols) / PREVIEW_SIDE)))
            small = image[::step, ::step]
            small_mask = None if mask is None else mask[::step, ::step]
            labels = cluster_pixels(small, channel_axis=channel_axis, mask=small_mask, **self.parameters())
        except ValueError as exc:
            self.say(f"preview: {exc}")
            return None
        data, kwargs = place(labels)
        kwargs["scale"] = (*kwargs["scale"][:-2], *(s * step for s in kwargs["scale"][-2:]))
        name = f"{self.image.value.name} clusters (preview)"
        if self.preview_layer is not None and self.in_viewer(self.preview_layer):
            self.preview_layer.data = data
            for key, value in kwargs.items():
                setattr(self.preview_layer, key, value)
            self.preview_layer.name = name
        else:
            self.preview_layer = set_role(self._viewer.add_labels(data, name=name, opacity=0.5, **kwargs), "preview")
        self.info.value = f"preview: {int(labels.max())} cluster(s), 1 pixel in {step} per side"
        return labels

    def _drop_preview(self, *_):
        if self.preview_layer is not None and self.in_viewer(self.preview_layer):
            self._viewer.layers.remove(self.preview_layer)
        self.preview_layer = None

    # -- full run ----------------------------------------------------------------------------------------
    def run(self, *_):
        """Cluster the whole image in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.cluster import iter_cluster_pixels

        layer = self.image.value
        try:
            if layer is None:
                raise ValueError("choose an Image layer first.")
            image, channel_axis, place, mask = self._inputs(whole_stack=True)
            params = self.parameters()
        except ValueError as exc:
            self.report(exc)
            return None
        if self._timer is not None:
            self._timer.stop()  # a pending preview is superseded by the full result
        info = {}

        def done(labels):
            if not self.in_viewer(layer):
                raise ValueError(f"the image {layer.name!r} was removed; the clusters were not added.")
            self._show(labels, layer, place, info)

        return self.jobs.start(iter_cluster_pixels, image, channel_axis=channel_axis, mask=mask, **params,
                               on_returned=done, on_yielded=lambda event: info.update(event.info))

    def _show(self, labels, source, place, info) -> None:
        data, kwargs = place(labels)
        name = f"{source.name} clusters"
        self._drop_preview()
        if self.result_layer is not None and self.in_viewer(self.result_layer) \
                and self.result_layer.data.shape == data.shape:
            self.result_layer.data = data
            for key, value in kwargs.items():
                setattr(self.result_layer, key, value)
            self.result_layer.name = name
        else:
            self.result_layer = self._viewer.add_labels(data, name=name, **kwargs)
        n = int(labels.max())
        self.cluster_id.max = max(1, n)
        extra = f", bandwidth {info['bandwidth']:.4g}" if "bandwidth" in info else ""
        self.info.value = f"{n} cluster(s){extra}; 1 = darkest"

    def to_instances(self, *_):
        """Split the chosen cluster of the last result into connected components (a new Labels layer)."""
        from napari_segsuite.core.cluster import cluster_instances

        try:
            if self.result_layer is None or not self.in_viewer(self.result_layer):
                raise ValueError("run 'Cluster' first: there is no cluster layer to split.")
            cid = int(self.cluster_id.value)
            inst = cluster_instances(np.asarray(self.result_layer.data), cid)
        except ValueError as exc:
            self.report(exc)
            return None
        layer = self._viewer.add_labels(inst, name=f"{self.result_layer.name} {cid} instances",
                                        scale=tuple(self.result_layer.scale),
                                        translate=tuple(self.result_layer.translate))
        self.info.value = f"cluster {cid}: {int(inst.max())} instance(s)"
        return layer
