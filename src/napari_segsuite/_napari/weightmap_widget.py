"""Weight map widget: a Labels layer -> an Image layer of U-Net border weights (Ronneberger 2015)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, Label, PushButton

from ._base import JobWidget
from ._layers import labels_data, layers_of_type, reset_layer_choices, set_role, spatial_kwargs

if TYPE_CHECKING:
    import napari

CLASS_WEIGHT_CHOICES = ("balanced", "none", "custom")
STACK_CHOICES = ("as a 3D volume", "plane by plane (2D)")
#: Colormap for the result: dark background and cell weights, bright thin borders.
COLORMAP = "inferno"


class WeightMapWidget(JobWidget):
    """Compute the border weight map ``w = w_c + w0 * exp(-(d1 + d2)**2 / (2 * sigma**2))`` of a Labels layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose Labels layers are offered.
    """

    idle_status = "pick a Labels layer"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.result_layer = None
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)
        self.class_weights.changed.connect(self._update_visibility)
        self.labels_layer.changed.connect(self._update_visibility)

    def _build(self):
        self.labels_layer = ComboBox(label="labels", choices=self._labels_layers,
                               tooltip="instance labels (0 = background); touching cells must have different ids")
        self.w0 = FloatSpinBox(label="w0", value=10.0, min=0.0, max=1e4, step=1.0,
                               tooltip="height of the border term")
        self.sigma = FloatSpinBox(label="sigma", value=5.0, min=0.1, max=1e3, step=0.5,
                                  tooltip="width of the border term (pixels, or layer units with 'use layer scale')")
        self.class_weights = ComboBox(label="class weights", choices=CLASS_WEIGHT_CHOICES, value="balanced",
                                      tooltip="balanced: N / (2 N_k) per class; none: 1; custom: the two values below")
        self.w_background = FloatSpinBox(label="background weight", value=1.0, min=0.0, max=1e4, step=0.1)
        self.w_foreground = FloatSpinBox(label="foreground weight", value=1.0, min=0.0, max=1e4, step=0.1)
        self.use_scale = CheckBox(text="use layer scale as pixel spacing (sigma in layer units)", value=False)
        self.stack_mode = ComboBox(label="stack", choices=STACK_CHOICES, value=STACK_CHOICES[0],
                                   tooltip="3D labels: one 3D weight map, or each plane as its own 2D image")
        self.info = Label(value="")
        self.run_button = PushButton(text="Compute weight map")
        return [self.labels_layer, self.w0, self.sigma, self.class_weights, self.w_background, self.w_foreground,
                self.use_scale, self.stack_mode, self.run_button, self.jobs, self.info]

    def _busy_buttons(self):
        return (self.run_button,)

    def _labels_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Labels")

    def _refresh(self, *_):
        reset_layer_choices(self.labels_layer)
        self._update_visibility()

    def _update_visibility(self, *_):
        custom = self.class_weights.value == "custom"
        self.w_background.visible = custom
        self.w_foreground.visible = custom
        layer = self.labels_layer.value
        self.stack_mode.visible = layer is not None and layer.ndim == 3

    def parameters(self) -> dict:
        """The keyword arguments for :func:`napari_segsuite.core.weightmap.iter_unet_weight_map`."""
        layer = self.labels_layer.value
        choice = self.class_weights.value
        class_weights = {"balanced": "balanced", "none": None}.get(
            choice, (self.w_background.value, self.w_foreground.value))
        spacing = None
        if self.use_scale.value and layer is not None:
            spacing = tuple(float(s) for s in np.asarray(layer.scale)[-min(layer.ndim, 3):])
        return {"w0": float(self.w0.value), "sigma": float(self.sigma.value), "class_weights": class_weights,
                "spacing": spacing,
                "plane_by_plane": bool(layer is not None and layer.ndim == 3
                                       and self.stack_mode.value == STACK_CHOICES[1])}

    def run(self, *_):
        """Start the computation in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.labels import as_labels
        from napari_segsuite.core.weightmap import iter_unet_weight_map

        layer = self.labels_layer.value
        try:
            if layer is None:
                raise ValueError("choose a Labels layer first.")
            labels = as_labels(labels_data(layer), name=layer.name, ndim=(2, 3))
            params = self.parameters()
        except ValueError as exc:
            self.report(exc)
            return None

        def done(weights):
            if not self.in_viewer(layer):
                raise ValueError(f"the Labels layer {layer.name!r} was removed; the weight map was not added.")
            self._show(weights, layer)

        return self.jobs.start(iter_unet_weight_map, labels, **params, on_returned=done)

    def _show(self, weights: np.ndarray, source) -> None:
        lo, hi = float(weights.min()), float(weights.max())
        limits = (lo, hi if hi > lo else lo + 1.0)
        self.info.value = f"weights {lo:.3g} to {hi:.3g}"
        name = f"{source.name} weight map"
        if self.result_layer is not None and self.in_viewer(self.result_layer) \
                and self.result_layer.data.shape == weights.shape:
            self.result_layer.data = weights
            self.result_layer.contrast_limits = limits
            self.result_layer.name = name
            for key, value in spatial_kwargs(source).items():
                setattr(self.result_layer, key, value)
            return
        self.result_layer = set_role(self._viewer.add_image(weights, name=name, colormap=COLORMAP,
                                                            contrast_limits=limits, **spatial_kwargs(source)),
                                     "weights")
