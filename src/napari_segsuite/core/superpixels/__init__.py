"""SLIC superpixels and their merging into regions (the superpixels backend).

- :mod:`.slic`: ``slic_superpixels`` (tiled for big 2D images, :mod:`.tiles`) and the shared input checks;
- :mod:`.graph`: the cached region adjacency graph ``SuperpixelGraph`` and its merge modes
  (threshold cut, hierarchical, boundary, normalized cut in :mod:`.ncut`);
- :mod:`.merge`: ``build_graph``, ``merge_superpixels`` and the one-call generator ``iter_superpixels``.
"""

from .graph import MERGE_MODES, SuperpixelGraph
from .merge import build_graph, iter_superpixels, merge_superpixels
from .slic import COMPACTNESS, N_SEGMENTS, slic_superpixels

__all__ = ["slic_superpixels", "build_graph", "merge_superpixels", "iter_superpixels", "MERGE_MODES",
           "SuperpixelGraph", "N_SEGMENTS", "COMPACTNESS"]
