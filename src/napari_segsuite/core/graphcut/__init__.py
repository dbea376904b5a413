"""GrabCut (Rother et al. 2004) on boxes: the graph-cut backend behind ``grabcut`` and ``grabcut_boxes``.

- :mod:`.boxes`: the public API (one box, many boxes, painting the masks into labels);
- :mod:`.crop`: GrabCut on one crop (seeding, iterations, the result checks);
- :mod:`.gmm`: the colour/intensity Gaussian mixtures of the data term;
- :mod:`.maxflow`: the grid min-cut (contrast-weighted smoothness term);
- :mod:`.points`: point prompts (a box per point from the object's local scale);
- :mod:`.prior`: a trained model's foreground probabilities as GrabCut's learned prior (cached);
- :mod:`.checks`: input checks.

The package is not named ``grabcut``: that name is the function ``napari_segsuite.core.grabcut``.
"""

from .boxes import (
    BoxMask, clip_box, grabcut, grabcut_boxes, iter_grabcut_boxes, iter_grabcut_masks, paint_box_masks,
)
from .points import grabcut_points, iter_grabcut_points
from .prior import clear_prior_cache, model_prior

__all__ = ["grabcut", "grabcut_boxes", "iter_grabcut_boxes", "iter_grabcut_masks", "paint_box_masks",
           "clip_box", "BoxMask", "grabcut_points", "iter_grabcut_points", "model_prior", "clear_prior_cache"]
