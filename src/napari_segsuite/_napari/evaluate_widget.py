"""Evaluate widget: ground-truth and prediction Labels layers -> metrics table (+ error layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Label, PushButton, Table

from ._base import JobWidget
from ._layers import labels_data, layers_of_type, reset_layer_choices, set_role, spatial_kwargs

if TYPE_CHECKING:
    import napari

_ROWS = [("IoU", "iou"), ("Dice", "dice"), ("Pixel accuracy", "pixel_accuracy"), ("AP@0.5", "ap50"),
         ("AP@0.75", "ap75"), ("AP@0.5:0.95", "map"), ("TP @0.5", "tp"), ("FP @0.5", "fp"), ("FN @0.5", "fn"),
         ("instances (GT)", "n_gt"), ("instances (pred)", "n_pred")]
#: one colour per kind of error, so the two error layers cannot be mistaken for each other
ERROR_COLORS = {"false positives": "red", "false negatives": "dodgerblue"}
LEGEND = ("false positives (predicted, no match in the ground truth): red; false negatives (in the ground "
          "truth, missed by the prediction): blue")


def error_colormap(color: str):
    """A napari label colormap painting every nonzero id in ``color`` (0 stays transparent)."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: color, 0: "transparent"})


class EvaluateWidget(JobWidget):
    """Compare a prediction with ground truth: IoU, Dice, pixel accuracy, AP at IoU thresholds."""

    idle_status = "pick two Labels layers"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.metrics: dict | None = None
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)

    def _build(self):
        self.gt = ComboBox(label="ground truth", choices=self._labels_layers)
        self.pred = ComboBox(label="prediction", choices=self._labels_layers)
        self.mark_errors = CheckBox(text="add layers: false positives (red), false negatives (blue)",
                                    value=False)
        self.legend = Label(value="")
        self.legend.native.setWordWrap(True)
        from qtpy.QtWidgets import QSizePolicy  # the whole wrapped text, not one clipped line

        self.legend.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self.run_button = PushButton(text="Evaluate")
        self.table = Table(value={"metric": [r[0] for r in _ROWS], "value": [""] * len(_ROWS)})
        self.table.read_only = True
        self.table.min_height = 360
        self.table.native.verticalHeader().setVisible(False)
        self.table.native.horizontalHeader().setStretchLastSection(True)
        self.table.native.setColumnWidth(0, 160)
        return [self.gt, self.pred, self.mark_errors, self.run_button, self.jobs, self.legend, self.table]

    def _busy_buttons(self):
        return (self.run_button,)

    def _labels_layers(self, _widget=None):
        return layers_of_type(self._viewer, "Labels")

    def _refresh(self, *_):
        reset_layer_choices(self.gt, self.pred)
        layers = self._labels_layers()
        # Sensible defaults: ground truth = a layer named like ground truth, prediction = the newest other one.
        truth = [lay for lay in layers if "ground truth" in lay.name or "gt" == lay.name.lower()]
        if truth and self.gt.value not in truth:
            self.gt.value = truth[0]
        others = [lay for lay in layers if lay is not self.gt.value]
        if others and (self.pred.value is None or self.pred.value is self.gt.value):
            self.pred.value = others[-1]

    def run(self, *_):
        """Start the evaluation in a worker; returns the worker (None if the input is invalid)."""
        from napari_segsuite.core.labels import as_labels, check_same_shape
        from napari_segsuite.core.metrics import iter_evaluate

        gt_layer, pred_layer = self.gt.value, self.pred.value
        try:
            if gt_layer is None or pred_layer is None:
                raise ValueError("choose a ground-truth and a prediction Labels layer.")
            gt = as_labels(labels_data(gt_layer), name=gt_layer.name, ndim=(2, 3, 4))
            pred = as_labels(labels_data(pred_layer), name=pred_layer.name, ndim=(2, 3, 4))
            check_same_shape(gt.shape, pred.shape, gt_layer.name, pred_layer.name)
        except ValueError as exc:
            self.report(exc)
            return None

        def done(result):
            metrics, errors = result
            self.metrics = metrics
            self.table.value = {
                "metric": [r[0] for r in _ROWS],
                "value": [f"{metrics[k]:.3f}" if isinstance(metrics[k], float) else str(metrics[k]) for _, k in _ROWS],
            }
            if errors is not None and self.in_viewer(pred_layer):
                kw = spatial_kwargs(pred_layer)
                for (kind, color), data in zip(ERROR_COLORS.items(), errors):
                    layer = self._viewer.add_labels(data, name=f"{kind} ({pred_layer.name})",
                                                    colormap=error_colormap(color), **kw)
                    set_role(layer, "diagnostic")
                self.legend.value = LEGEND
                self.say(f"done: {metrics['fp']} false positive(s) in red, {metrics['fn']} false negative(s) "
                         "in blue (IoU 0.5)")
            elif errors is not None:
                from napari.utils.notifications import show_warning

                show_warning(f"'{pred_layer.name}' was removed during the evaluation: the metrics are shown, "
                             "but the error layers were not added.")

        return self.jobs.start(iter_evaluate, gt, pred, self.mark_errors.value, on_returned=done)
