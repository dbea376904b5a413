"""GrabCut (Rother et al. 2004) on boxes: the graph-cut backend behind ``grabcut`` and ``grabcut_boxes``.

- :mod:`.boxes`: the public API (one box, many boxes, painting the masks into labels);
- :mod:`.crop`: GrabCut on one crop (seeding, iterations, the result checks);
- :mod:`.gmm`: the colour/intensity Gaussian mixtures of the data term;
- :mod:`.maxflow`: the grid min-cut (contrast-weighted smoothness term).

The package is not named ``grabcut``: that name is the function ``napari_segsuite.core.grabcut``.
"""

from .boxes import (
    BoxMask, clip_box, grabcut, grabcut_boxes, iter_grabcut_boxes, iter_grabcut_masks, paint_box_masks,
)

__all__ = ["grabcut", "grabcut_boxes", "iter_grabcut_boxes", "iter_grabcut_masks", "paint_box_masks",
           "clip_box", "BoxMask"]
