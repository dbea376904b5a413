"""Mask R-CNN scores in the viewer (issue 20, item 8b): a score filter that does not predict again, colour by score.

The widget keeps its last prediction whole (every instance the model returned above the prediction's score
threshold); the filter hides the instances scored below it in the prediction layer and shows them again when it
is lowered, so the user tries thresholds without running the model again. Edits the user made elsewhere in the
layer are kept.
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import CheckBox, Container, FloatSlider

__all__ = ["ScoreFilter", "score_colors"]


def score_colors(labels, scores) -> dict:
    """``{label: RGBA}`` colouring each instance by its score (viridis: low dark purple, high yellow)."""
    from napari.utils.colormaps import ensure_colormap

    cmap = ensure_colormap("viridis")
    colors = cmap.map(np.clip(np.asarray(scores, float), 0.0, 1.0))
    out = {None: np.zeros(4, np.float32), 0: np.zeros(4, np.float32)}
    out.update({int(lab): col for lab, col in zip(labels, colors)})
    return out


class ScoreFilter(Container):
    """A "show scores >=" slider and a "colour by score" switch for the last Mask R-CNN prediction layer."""

    def __init__(self):
        self.minimum = FloatSlider(label="show scores >=", value=0.0, min=0.0, max=1.0, step=0.01)
        self.minimum.tooltip = ("Hide the predicted instances scored below this, without predicting again "
                                "(lower it to show them again).")
        self.by_score = CheckBox(text="colour by score", value=False)
        self.by_score.tooltip = "Colour each instance by its score (viridis: dark purple low, yellow high)."
        super().__init__(widgets=[self.minimum, self.by_score])
        self.margins = (0, 0, 0, 0)
        self.layer = None
        self._full = None  # the prediction's labels as the model returned them
        self._scores = None  # score of each label id (index = id)
        self.enabled = False
        self.minimum.changed.connect(self.apply)
        self.by_score.changed.connect(self.recolor)

    def attach(self, layer, labels: np.ndarray, table: dict, floor: float) -> None:
        """Filter ``layer`` (just added from ``labels``, with ``table``'s ``label``/``score`` columns) from now on."""
        self.layer, self._full = layer, np.asarray(labels)
        ids = np.asarray(table["label"], int)
        self._scores = np.zeros(int(ids.max(initial=0)) + 1, float)
        self._scores[ids] = np.asarray(table["score"], float)
        self._scores[0] = np.inf  # background is never hidden
        self.enabled = True
        with self.minimum.changed.blocked():
            self.minimum.min = 0.0
            self.minimum.value = float(floor)
        self.recolor()

    def visible_ids(self) -> np.ndarray:
        """The label ids shown at the current minimum score."""
        return np.flatnonzero(self._scores[1:] >= self.minimum.value) + 1 if self._scores is not None else []

    def apply(self, *_) -> None:
        """Hide the instances below the minimum score, show those above it again (no new prediction)."""
        if self.layer is None or self._full is None:
            return
        keep = self._scores >= self.minimum.value
        full, data = self._full, np.asarray(self.layer.data)
        if data.shape != full.shape:
            return
        shown = keep[full]
        hidden = ~shown
        # hide: the model's pixels of a low-scored instance that still carry its id; show: back where empty
        new = np.where(hidden & (data == full), 0, data)
        new = np.where(shown & (full > 0) & (new == 0), full, new)
        self.layer.data = new.astype(data.dtype, copy=False)

    def recolor(self, *_) -> None:
        """Colour by score, or napari's default label colours."""
        if self.layer is None or self._scores is None:
            return
        from napari.utils.colormaps import DirectLabelColormap, label_colormap

        if self.by_score.value:
            ids = np.arange(1, len(self._scores))
            self.layer.colormap = DirectLabelColormap(color_dict=score_colors(ids, self._scores[1:]))
        else:
            self.layer.colormap = label_colormap()
