"""Superpixels widget: SLIC superpixels + live RAG merging, and assisted labeling by clicks and strokes.

Workflow: pick an Image layer (and optionally a mask: a Labels layer, nonzero = inside; superpixels are 0
outside it), compute superpixels (worker thread). A Labels layer of merged regions
appears in contour view; the threshold slider re-merges live (debounced, on the cached graph). With
"assist" on, clicking a merged region on that layer writes it into the target Labels layer with the
current label id, a drag writes every superpixel the stroke touches, and Shift-click/drag removes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, FloatSlider, FloatSpinBox, Label, PushButton, SpinBox

from ._base import JobWidget
from ._layers import image_data, labels_data, layers_of_type, set_role, spatial_kwargs
from .superpixels_assist import AssistedLabeling

if TYPE_CHECKING:
    import napari

CLUSTER = "cluster (k-means)"
_MODES = ["hierarchical", "threshold", "boundary", "ncut", CLUSTER]
#: above this many pixels a re-merge runs in the worker: the relabeling takes ~1 s per 67 Mpx
_MAIN_THREAD_MERGE_PIXELS = 1 << 22


def _superpixels_job(data, mode, **kwargs):
    """Superpixels, their graph and the first merge (at the bottom of ``mode``'s range), all off the GUI thread."""
    from napari_segsuite.core.superpixels import iter_superpixels

    _, graph, _ = yield from iter_superpixels(data, **kwargs)
    lo, _ = graph.threshold_range(mode)
    return graph, graph.merge(lo, mode)


def _cluster_job(image, channel_axis, superpixels, k):
    """Cluster the superpixels' mean colours into ``k`` classes, then one region per connected part of a class."""
    from napari_segsuite.core.cluster import cluster_instances, cluster_superpixel_means
    from napari_segsuite.core.progress import Progress

    yield Progress(0, 2, f"k-means of the superpixel means (K={k})...")
    classes = cluster_superpixel_means(np.asarray(image), superpixels, n_clusters=k, channel_axis=channel_axis)
    yield Progress(1, 2, "connected parts of each class...")
    regions = np.zeros(superpixels.shape, np.int32)
    for c in np.unique(classes[classes > 0]):
        inst = cluster_instances(classes, int(c))
        regions[inst > 0] = inst[inst > 0] + regions.max()
    yield Progress(2, 2, f"{int(regions.max())} regions")
    return regions


def _merge_job(graph, threshold, mode):
    from napari_segsuite.core.progress import Progress

    yield Progress(0, 1, f"merging ({mode})...")
    merged = graph.merge(threshold, mode)
    yield Progress(1, 1, f"{int(merged.max())} regions")
    return merged


class SuperpixelsWidget(AssistedLabeling, JobWidget):
    """SLIC superpixels, live merging by a threshold, and click/stroke labeling into a Labels layer."""

    idle_status = "choose an image and compute superpixels"

    def __init__(self, viewer: napari.viewer.Viewer):  # a string under `from __future__ import annotations`
        self.graph = None  # SuperpixelGraph of the last computation
        self.superpixel_layer = None  # Labels layer showing merged regions (contours)
        self.merged = None  # current merged labels
        self._timer = None
        super().__init__(viewer)
        self.compute_button.changed.connect(self.compute)
        self.threshold.changed.connect(self._schedule_remerge)
        self.mode.changed.connect(self._mode_changed)
        self.k.changed.connect(lambda *_: self.remerge())
        self._image_source = None  # (image data, channel_axis) of the last computation, for the cluster mode
        self._connect_assist()

    def _build(self):
        self.image = ComboBox(label="image", choices=self._image_layers)
        self.mask = ComboBox(label="mask", choices=self._target_layers, nullable=True, value=None,
                             tooltip="optional Labels layer of the image's shape: superpixels only where it is "
                                     "nonzero (0 outside)")
        self.mask.null_string = "none (whole image)"  # instead of "-----": no mask is a choice, not a gap
        self.n_segments = SpinBox(label="superpixels", value=1000, min=1, max=200_000, step=100,
                                  tooltip="approximate number of superpixels")
        self.compactness = FloatSpinBox(label="compactness", value=10.0, min=0.01, max=1000.0, step=1.0,
                                        tooltip="higher: more regular superpixels; lower: follow the image")
        self.compute_button = PushButton(text="Compute superpixels")
        self.mode = ComboBox(label="merge mode", choices=_MODES, value="hierarchical")
        self.threshold = FloatSlider(label="merge threshold", value=0.0, min=0.0, max=1.0, step=0.001,
                                     tooltip="regions closer than this merge (0 = superpixels)")
        self.k = SpinBox(label="K (classes)", value=3, min=2, max=64, enabled=False,
                         tooltip=f"'{CLUSTER}': number of classes of the superpixels' mean colours; each "
                                 "connected part of a class is one region")
        self.status = Label(value="")
        return [self.image, self.mask, self.n_segments, self.compactness, self.compute_button, self.jobs,
                self.mode, self.threshold, self.k, *self._build_assist(), self.status]

    def _busy_buttons(self):
        return (self.compute_button,)

    def _layer_choices(self):
        return (self.image, self.mask, self.target)

    def _image_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Image")

    def say(self, text: str) -> None:
        """Results and mistakes of this widget go to its own line under the labeling controls."""
        self.status.value = text

    # -- computing --------------------------------------------------------------------------------
    def compute(self, *_):
        """Compute superpixels and their graph for the chosen image in a worker; returns the worker."""
        layer = self.image.value
        try:
            data, channel_axis = image_data(layer)
            spatial_shape = data.shape[:-1] if channel_axis is not None else data.shape
            mask = self._mask_array(layer, spatial_shape)
        except ValueError as exc:
            self.report(exc)
            return None
        spatial_ndim = len(spatial_shape)

        mode = self.mode.value if self.mode.value != CLUSTER else "hierarchical"
        self._image_source = (data, channel_axis)

        def done(result):
            graph, merged = result
            self.show_graph(graph, layer, spatial_ndim, merged=merged if self.mode.value == mode else None)

        def failed(exc):  # the job line and a notification say why; the result line must not say "N regions"
            self.say(f"no superpixels: {exc}")

        return self.jobs.start(_superpixels_job, data, mode, n_segments=self.n_segments.value,
                               compactness=self.compactness.value, channel_axis=channel_axis, mask=mask,
                               on_returned=done, on_errored=failed)

    def _mask_array(self, image_layer, spatial_shape: tuple) -> np.ndarray | None:
        """The chosen mask as a boolean array (nonzero = inside), None for no mask.

        Raises
        ------
        ValueError
            If the mask layer is not a Labels layer, has another shape than the image, or is empty.
        """
        layer = self.mask.value
        if layer is None:
            return None
        labels = labels_data(layer)
        if labels.shape != tuple(spatial_shape):
            raise ValueError(f"mask {layer.name!r} has shape {labels.shape} but image {image_layer.name!r} has "
                             f"the spatial shape {tuple(spatial_shape)}; choose a mask of the image's shape, "
                             "or no mask.")
        inside = labels != 0  # a copy: painting the mask while the job runs changes nothing
        if not inside.any():
            raise ValueError(f"mask {layer.name!r} is empty: paint the region to cut into superpixels "
                             "(nonzero = inside), or choose no mask.")
        return inside

    def show_graph(self, graph, image_layer, spatial_ndim: int, merged: np.ndarray | None = None) -> None:
        """Show a computed :class:`~napari_segsuite.core.superpixels.graph.SuperpixelGraph` (main thread).

        ``merged``: the graph merged at the bottom of the current mode's threshold range, if already
        computed (in the worker); computed here otherwise.
        """
        self.graph = graph
        cluster = self.mode.value == CLUSTER
        lo, hi = graph.threshold_range("hierarchical" if cluster else self.mode.value)
        self.threshold.changed.disconnect(self._schedule_remerge)
        self.threshold.max = hi
        self.threshold.min = lo
        self.threshold.step = max(hi / 1000.0, 1e-6)
        self.threshold.value = lo
        self.threshold.changed.connect(self._schedule_remerge)
        if merged is None or cluster:  # the cluster mode's regions are computed below, in a worker
            merged = graph.merge(self.threshold.value, "hierarchical" if cluster else self.mode.value)
        kw = spatial_kwargs(image_layer, spatial_ndim) if self.in_viewer(image_layer) else {}
        if self.superpixel_layer is not None and self.in_viewer(self.superpixel_layer) \
                and self.superpixel_layer.data.shape == merged.shape:
            self.superpixel_layer.data = merged
            for key, value in kw.items():
                setattr(self.superpixel_layer, key, value)
        else:
            from napari.layers import Labels

            # built hidden and shown once: napari then draws (and contours) the whole plane once instead of
            # three times, seconds of main-thread time on a big image
            layer = set_role(Labels(merged, name="superpixels", visible=False, **kw), "superpixels")
            layer.contour = 1
            layer.mouse_drag_callbacks.append(self._on_mouse)
            self.superpixel_layer = self._viewer.add_layer(layer)
            self.superpixel_layer.visible = True
        self.merged = merged
        self.superpixel_layer.mouse_pan = not self.assist.value
        if self.target.value is None:
            self.new_target()
        self._refresh()
        self.say(f"{graph.n_regions} superpixels -> {int(merged.max())} regions")
        if cluster:
            self.remerge()

    def _mode_changed(self, *_):
        cluster = self.mode.value == CLUSTER
        self.k.enabled, self.threshold.enabled = cluster, not cluster
        if self.graph is None:
            return
        if cluster:
            self.remerge()
            return
        lo, hi = self.graph.threshold_range(self.mode.value)
        self.threshold.changed.disconnect(self._schedule_remerge)
        value = min(self.threshold.value, hi)
        self.threshold.min, self.threshold.max = lo, hi
        self.threshold.step = max(hi / 1000.0, 1e-6)
        self.threshold.value = value
        self.threshold.changed.connect(self._schedule_remerge)
        self.remerge()

    def _schedule_remerge(self, *_):
        """Debounce: re-merge 60 ms after the slider stops moving."""
        from qtpy.QtCore import QTimer

        if self._timer is None:
            self._timer = QTimer()
            self._timer.setSingleShot(True)
            self._timer.setInterval(60)
            self._timer.timeout.connect(self.remerge)
        self._timer.start()

    def remerge(self, *_):
        """Re-merge the cached graph at the slider's threshold and update the superpixel layer.

        The fast modes on images up to 4 Mpx run here (milliseconds); ``"ncut"`` may compute new
        splits and a big image takes ~1 s per 67 Mpx to relabel, so those run in the worker. Returns the
        worker when one was started, else None.
        """
        if self.graph is None or not self.in_viewer(self.superpixel_layer):
            return None
        mode = self.mode.value
        if mode == CLUSTER:
            if self.jobs.running:
                self._schedule_remerge()
                return None
            if self._image_source is None:
                self.report("compute superpixels first: the cluster mode reads the image they were made from.")
                return None
            image, channel_axis = self._image_source
            return self.jobs.start(_cluster_job, image, channel_axis, self.graph.superpixels, int(self.k.value),
                                   on_returned=self._show_merged)
        if mode == "ncut" or self.superpixel_layer.data.size > _MAIN_THREAD_MERGE_PIXELS:
            if self.jobs.running:  # try again once the running job is done
                self._schedule_remerge()
                return None
            return self.jobs.start(_merge_job, self.graph, self.threshold.value, mode, on_returned=self._show_merged)
        try:
            merged = self.graph.merge(self.threshold.value, self.mode.value)
        except ValueError as exc:
            self.report(exc)
            return None
        self._show_merged(merged)
        return None

    def _show_merged(self, merged):
        if not self.in_viewer(self.superpixel_layer) or merged.shape != self.superpixel_layer.data.shape:
            return
        self.merged = merged
        self.superpixel_layer.data = merged
        self.say(f"{self.graph.n_regions} superpixels -> {int(merged.max())} regions")

