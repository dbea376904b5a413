"""Prediction past one machine with dask.distributed (an optional dependency: ``[distributed]``).

``iter_predict_distributed`` / ``predict_distributed`` cut an OME-Zarr or zarr image into blocks with a
halo, predict each block on a worker with the single-process backend, keep each object in the one block
that owns it, stitch them into globally unique ids and write an NGFF label image, resumably. The input
may also be an array object (a zarr or dask layer's data), and ``scheduler="inprocess"`` runs the same
blocks in the calling thread without dask (what the napari widgets use for large layers).
"""

from .arraysource import ArraySource, array_source
from .cluster import INPROCESS
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
    "array_source",
    "ArraySource",
    "INPROCESS",
]
