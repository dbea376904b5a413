"""Turning a cluster (class) into instances: connected components."""

from __future__ import annotations

import numpy as np

__all__ = ["cluster_instances"]


def cluster_instances(labels, cluster_id: int, min_size: int = 0, connectivity: int = 1) -> np.ndarray:
    """Connected components of one cluster of a cluster-label image, numbered 1..N.

    Parameters
    ----------
    labels : ndarray of int
        Cluster ids, as from :func:`napari_segsuite.core.cluster_pixels`.
    cluster_id : int
        The cluster to split into instances.
    min_size : int
        Components with fewer pixels are dropped (0 keeps all).
    connectivity : int
        1: pixels touching by a face are connected; ``labels.ndim``: also by a corner.

    Returns
    -------
    ndarray of int32
        Instance labels (0 elsewhere), numbered in raster order.

    Raises
    ------
    ValueError
        If no pixel has ``cluster_id``.
    """
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    region = labels == cluster_id
    if not region.any():
        raise ValueError(f"no pixel belongs to cluster {cluster_id}; clusters present: "
                         f"{', '.join(map(str, np.unique(labels[labels > 0])[:20]))}.")
    structure = ndi.generate_binary_structure(labels.ndim, connectivity)
    comps, n = ndi.label(region, structure=structure)
    comps = comps.astype(np.int32)
    if min_size > 0 and n:
        sizes = np.bincount(comps.ravel())
        keep = sizes >= min_size
        keep[0] = False
        lookup = np.zeros(n + 1, dtype=np.int32)
        lookup[keep] = np.arange(1, int(keep.sum()) + 1)
        comps = lookup[comps]
    return comps
