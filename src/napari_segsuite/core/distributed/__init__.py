"""Prediction past one machine with dask.distributed (an optional dependency: ``[distributed]``).

``iter_predict_distributed`` / ``predict_distributed`` cut an OME-Zarr or zarr image into blocks with a
halo, predict each block on a worker with the single-process backend, keep each object in the one block
that owns it, stitch them into globally unique ids and write an NGFF label image, resumably.
"""

from .layout import Block, block_grid
from .run import default_halo, iter_predict_distributed, predict_distributed
from .source import open_source

__all__ = [
    "iter_predict_distributed",
    "predict_distributed",
    "default_halo",
    "Block",
    "block_grid",
    "open_source",
]
