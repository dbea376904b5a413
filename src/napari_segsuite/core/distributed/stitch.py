"""Stitching the blocks' objects into one label image with globally unique ids.

Every block stored the objects it owns (box centre in its core), whole, in its region's frame. Block
``b``'s object ``k`` gets the provisional id ``offset[b] + k``. Where the stored regions of two blocks
overlap, objects that cover each other (more than ``merge_fraction`` of the smaller one) are the same
object seen twice (predictions near a border can differ by a few pixels, moving a centre across it): a
union-find joins them, and the roots are renumbered 1..N in raster order. Each output chunk is then
pasted from the blocks whose regions reach it, in block order; a pixel claimed by two different objects
keeps the first.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

__all__ = ["UnionFind", "global_maps", "paste_core", "downsample_chunk", "label_index"]


class UnionFind:
    """Disjoint sets over ``0..n-1``; the root of a set is its smallest member."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _intersection(r1, r2):
    y0, y1 = max(r1[0], r2[0]), min(r1[1], r2[1])
    x0, x1 = max(r1[2], r2[2]), min(r1[3], r2[3])
    return (y0, y1, x0, x1) if y0 < y1 and x0 < x1 else None


def _crop(labels, region, box):
    return labels[box[0] - region[0] : box[1] - region[0], box[2] - region[2] : box[3] - region[2]]


def global_maps(blocks, counts, load, reach: int = 1, merge_fraction: float = 0.5, cache_size: int = 64):
    """Final id of every block's objects.

    Parameters
    ----------
    blocks : list of Block
    counts : list of int
        Objects stored by each block.
    load : callable
        ``load(block) -> uint32 labels`` of the block's stored region.
    reach : int
        Blocks up to this many grid steps apart may share pixels (``1 + 2 * halo // block_size``).
    merge_fraction : float
        Two objects of different blocks are one when their overlap exceeds this fraction of the smaller.

    Returns
    -------
    maps : list of uint32 arrays
        ``maps[b][k]`` is the final id of block ``b``'s object ``k`` (``maps[b][0] == 0``).
    merged : int
        Objects joined with another block's copy of them.
    """
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    uf = UnionFind(int(offsets[-1]) + 1)
    cache: OrderedDict = OrderedDict()

    def get(block):
        if block.index not in cache:
            cache[block.index] = load(block)
            if len(cache) > cache_size:
                cache.popitem(last=False)
        cache.move_to_end(block.index)
        return cache[block.index]

    by_grid = {(b.plane, b.grid): b for b in blocks}
    merged = 0
    for a in blocks:
        if not counts[a.index]:
            continue
        near = (
            by_grid.get((a.plane, (a.grid[0] + dy, a.grid[1] + dx)))
            for dy in range(reach + 1)
            for dx in range(-reach, reach + 1)
        )
        for b in near:
            if b is None or b.index <= a.index or not counts[b.index]:
                continue
            box = _intersection(a.region, b.region)
            if box is None:
                continue
            la, lb = get(a), get(b)
            ca, cb = _crop(la, a.region, box), _crop(lb, b.region, box)
            both = (ca > 0) & (cb > 0)
            if not both.any():
                continue
            pairs, overlap = np.unique(np.stack([ca[both], cb[both]]), axis=1, return_counts=True)
            area_a = np.bincount(la.ravel(), minlength=counts[a.index] + 1)
            area_b = np.bincount(lb.ravel(), minlength=counts[b.index] + 1)
            for (ia, ib), n in zip(pairs.T, overlap):
                if n > merge_fraction * min(area_a[ia], area_b[ib]):
                    uf.union(int(offsets[a.index] + ia), int(offsets[b.index] + ib))
                    merged += 1
    roots = np.array([uf.find(i) for i in range(len(uf.parent))], np.int64)
    final = np.zeros(len(roots), np.uint32)
    is_root = roots == np.arange(len(roots))
    is_root[0] = False
    final[is_root] = np.arange(1, int(is_root.sum()) + 1, dtype=np.uint32)
    final = final[roots]
    final[0] = 0
    maps = []
    for b in blocks:
        m = np.zeros(counts[b.index] + 1, np.uint32)
        m[1:] = final[offsets[b.index] + 1 : offsets[b.index] + 1 + counts[b.index]]
        maps.append(m)
    return maps, merged


def paste_core(block, sources) -> np.ndarray:
    """The final labels of ``block``'s core from ``sources``: ``(other block, its stored labels, its map)``
    in block order (first claim of a pixel wins)."""
    y0, y1, x0, x1 = block.core
    out = np.zeros((y1 - y0, x1 - x0), np.uint32)
    for other, labels, mapping in sources:
        box = _intersection(block.core, other.region)
        if box is None:
            continue
        values = mapping[_crop(labels, other.region, box)]
        target = out[box[0] - y0 : box[1] - y0, box[2] - x0 : box[3] - x0]
        free = (target == 0) & (values > 0)
        target[free] = values[free]
    return out


def label_index(label_axes: str, plane: tuple, rows: slice, cols: slice) -> tuple:
    """Index into a label array (axes ``label_axes``) of one plane's ``rows`` x ``cols``."""
    outer = iter(plane)
    return tuple(rows if a == "y" else cols if a == "x" else next(outer) for a in label_axes)


def downsample_chunk(src, dst, label_axes: str, plane: tuple, rows: slice, cols: slice) -> None:
    """Write ``dst[rows, cols]`` of one plane as every second pixel of ``src`` (labels stay exact)."""
    big = src[
        label_index(
            label_axes,
            plane,
            slice(2 * rows.start, 2 * rows.stop, 2),
            slice(2 * cols.start, 2 * cols.stop, 2),
        )
    ]
    dst[label_index(label_axes, plane, rows, cols)] = big
