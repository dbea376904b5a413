"""Where the user corrected a prediction: the objects an edit touched, and a margin around them (issue 16).

The correction loop can fine-tune on the corrected objects only (a region, see :mod:`.regions`) instead of
the whole image, where the untouched rest of the prediction would teach the model its own output back.
An object is *touched* when any of its pixels changed between the prediction and the corrections: a
deleted cell (its pixels became background), an added one, a redrawn boundary (both cells on either side),
a split (the old cell and the new pieces) and a merge (the old cells and the merged one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["edited_region", "edit_margin", "EDIT_MARGIN_FRACTION", "EDIT_MARGIN_FRACTIONS", "MIN_EDIT_MARGIN"]

#: the margin around the touched objects, as a fraction of the objects' median diameter. A quarter of a diameter
#: holds an edited cell's edge with the background around it and the gap to a touching neighbour (where the border
#: weight map puts its weight) while leaving most of the untouched neighbours out: their labels are the model's own
#: output, which a wider margin teaches back. Measured (benchmarks/finetune_edits.py, shipped U-Net, 5 real nucleus
#: images, held-out half, 2 seeds): +0.08 AP@0.5 at 0.25 diameters (the steadiest), +0.04 at 0.5, +0.05 at 1,
#: +0.01 with no margin, -0.01 for the whole image.
EDIT_MARGIN_FRACTION = 0.25
#: the margin fraction by model kind. The Mask R-CNN needs more context: it has no "ignore" label, so outside the
#: region the image is hidden (``maskrcnn.targets.partial_view``) and a small region around a few edits (often
#: deleted false detections) holds few cells to detect. From the shipped file, with its batch-norm statistics frozen
#: (``FINETUNE_DEFAULTS``), held-out AP@0.5 on ndev t00 and two HeLa crops, 2 seeds each: one diameter +0.03 / +0.03 /
#: +0.03 to +0.11 (all 6 runs gained), half a diameter 0.00 / -0.11 to 0.00 / +0.02 to +0.08, a quarter 0.00 / -0.61 /
#: -0.28 to -0.05; the whole half +0.03 / +0.14 to +0.17 / +0.03 to +0.14.
EDIT_MARGIN_FRACTIONS = {"unet": EDIT_MARGIN_FRACTION, "maskrcnn": 1.0}
#: the smallest margin, pixels (tiny or no objects)
MIN_EDIT_MARGIN = 2


def _checked_pair(predicted, corrected) -> tuple[np.ndarray, np.ndarray]:
    from ..labels import as_labels

    predicted = as_labels(predicted, name="the prediction", ndim=(2,))
    corrected = as_labels(corrected, name="the corrected labels", ndim=(2,))
    if predicted.shape != corrected.shape:
        raise ValueError(f"the prediction {predicted.shape} and the corrected labels {corrected.shape} do not have "
                         "the same shape; compare a prediction with the layer corrected from it.")
    return predicted, corrected


def edit_margin(predicted, corrected, fraction: float = EDIT_MARGIN_FRACTION) -> int:
    """The default margin of :func:`edited_region`, pixels: ``fraction`` of the median diameter (default
    ``EDIT_MARGIN_FRACTION``; per model kind: ``EDIT_MARGIN_FRACTIONS``).

    The diameter is measured on the corrected labels (the prediction's when the corrections hold no cell);
    never below ``MIN_EDIT_MARGIN``.

    Raises
    ------
    ValueError
        A ``fraction`` that is not a finite number >= 0, or labels as :func:`edited_region` refuses them.

    Examples
    --------
    >>> lab = np.zeros((60, 60), int); lab[5:25, 5:25] = 1; lab[30:50, 30:50] = 2   # 20 x 20 squares
    >>> edit_margin(lab, lab)   # a quarter of the median diameter sqrt(4 * 400 / pi) = 22.6 px
    6
    """
    from ..diameter import median_diameter

    try:
        ok = np.isfinite(fraction) and fraction >= 0
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"the margin's fraction of a diameter must be a number >= 0 (a quarter: 0.25), "
                         f"got {fraction!r}.")
    predicted, corrected = _checked_pair(predicted, corrected)
    diameter = median_diameter(corrected) or median_diameter(predicted) or 0.0
    return max(MIN_EDIT_MARGIN, int(round(fraction * diameter)))


def edited_region(predicted, corrected, margin: int | None = None,
                  fraction: float = EDIT_MARGIN_FRACTION) -> np.ndarray:
    """The pixels of every object the user touched when correcting ``predicted`` into ``corrected``, plus a margin.

    Parameters
    ----------
    predicted : (H, W) array of int
        The prediction as the model returned it (0 = background).
    corrected : (H, W) array of int
        The same labels after the user's corrections.
    margin : int, optional
        Pixels added around the touched objects (a Euclidean distance). Default :func:`edit_margin`: ``fraction``
        of the objects' median diameter, at least 2 pixels.
    fraction : float
        The default margin's fraction of the median diameter when ``margin`` is None: a quarter (the U-Net's);
        ``EDIT_MARGIN_FRACTIONS[kind]`` for a model kind.

    Returns
    -------
    (H, W) uint8 array
        1 on every touched object (its pixels in the prediction and in the corrections) and within ``margin``
        of one, 0 elsewhere: a region for :func:`~napari_segsuite.core.finetune.finetune`.

    Raises
    ------
    ValueError
        Labels of different shapes, not 2D or not instance labels, a negative margin, or no edit at all.

    Notes
    -----
    A label id is touched when one of its pixels changed, in the prediction or in the corrections; the
    region holds all of that id's pixels in the image where it is touched (so the whole of a cell the user
    trimmed, and both cells of a moved boundary). Ids are compared as they are: relabelling the corrected
    layer makes every cell an edit.

    Examples
    --------
    >>> pred = np.zeros((40, 40), int); pred[5:15, 5:15] = 1; pred[25:35, 25:35] = 2
    >>> fixed = pred.copy(); fixed[fixed == 2] = 0                     # the user deleted cell 2
    >>> region = edited_region(pred, fixed, margin=3)
    >>> bool(region[25:35, 25:35].all()), int(region[22, 30]), int(region[21, 30]), bool(region[5:15, 5:15].any())
    (True, 1, 0, False)
    """
    from scipy import ndimage as ndi

    predicted, corrected = _checked_pair(predicted, corrected)
    if margin is None:
        margin = edit_margin(predicted, corrected, fraction)
    if margin < 0:
        raise ValueError(f"the margin around the edits must be 0 or more pixels, got {margin}.")
    changed = predicted != corrected
    if not changed.any():
        raise ValueError("nothing was corrected: these labels are identical to the prediction. Correct the "
                         "prediction's Labels layer first (delete, add or redraw cells), or fine-tune on the "
                         "whole image or a region you mark.")
    touched = np.zeros(predicted.shape, bool)
    for labels in (predicted, corrected):
        ids = np.unique(labels[changed])
        touched |= np.isin(labels, ids[ids > 0])
    if margin == 0:
        return touched.astype(np.uint8)
    # dilate by a Euclidean disc inside the touched pixels' bounding box grown by the margin (not the whole image)
    rows, cols = np.flatnonzero(touched.any(axis=1)), np.flatnonzero(touched.any(axis=0))
    pad = int(np.ceil(margin)) + 1
    box = (slice(max(rows[0] - pad, 0), rows[-1] + pad + 1), slice(max(cols[0] - pad, 0), cols[-1] + pad + 1))
    region = np.zeros(predicted.shape, np.uint8)
    region[box] = ndi.distance_transform_edt(~touched[box]) <= margin
    return region
