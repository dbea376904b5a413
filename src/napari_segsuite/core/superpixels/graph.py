"""A region adjacency graph of superpixels, built with vectorised numpy, and fast re-merging.

:class:`SuperpixelGraph` holds, for superpixels numbered 1..n:

- per-region channel sums and pixel counts (any number of channels), hence mean colours;
- the edges between touching regions (by default 8-connectivity in 2D, 18 in 3D) with the
  Euclidean distance between the two mean colours, and the boundary strength: the mean, over the
  pixel pairs straddling the shared boundary, of the Euclidean distance between their values.

Merging at a new threshold never recomputes superpixels or the graph: the hierarchical merge order
(a dendrogram) is computed once per mode, after which any threshold is a prefix of it.

The graph is built one band of rows at a time (:func:`.adjacency.bands`): per-band pixel pairs, region sums and
edge lists are reduced and added up, so no whole-image pair or float64 array exists; merged labels
are written band by band too (:func:`.adjacency.take_in_bands`). Memory beyond the superpixels and the output
stays a few MiB whatever the image size.
"""

from __future__ import annotations


import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .adjacency import graph_statistics, take_in_bands

__all__ = ["SuperpixelGraph", "MERGE_MODES"]

#: merge modes understood by :meth:`SuperpixelGraph.partition`
MERGE_MODES = ("hierarchical", "threshold", "boundary", "ncut")


class SuperpixelGraph:
    """Region adjacency graph of superpixels with cached merge orders.

    Parameters
    ----------
    values : numpy.ndarray
        Image with channels last, shape ``superpixels.shape + (C,)`` (C >= 1), any real dtype
        (converted to float64 one band of rows at a time, never as a whole).
    superpixels : numpy.ndarray
        Integer labels numbered 1..n (0 = outside the mask, not part of the graph). The graph keeps
        a reference (no copy): do not modify the array afterwards.
    connectivity : int
        Pixels are neighbours when they differ by one step along at most this many axes (2: the
        diagonals of a plane too, as scikit-image's ``rag_mean_color``).

    Attributes
    ----------
    n_regions : int
        Number of superpixels n.
    counts : numpy.ndarray
        ``(n + 1,)`` pixel counts (index 0 unused).
    sums : numpy.ndarray
        ``(n + 1, C)`` channel sums.
    edges : numpy.ndarray
        ``(E, 2)`` pairs ``(u, v)``, ``u < v``, of touching superpixels.
    colour_distance : numpy.ndarray
        ``(E,)`` Euclidean distance between the mean colours of each edge's regions.
    boundary_sum, boundary_count : numpy.ndarray
        ``(E,)`` sum of pixel-pair distances along each shared boundary and the number of pairs.

    Notes
    -----
    Use :func:`napari_segsuite.core.superpixels.build_graph` (it validates inputs) rather than
    this constructor directly.
    """

    def __init__(self, values: np.ndarray, superpixels: np.ndarray, connectivity: int = 2):
        self.superpixels = superpixels
        n = int(superpixels.max())
        self.n_regions = n
        self.counts, self.sums, uniq, self.boundary_sum, self.boundary_count = graph_statistics(
            superpixels, values, n, min(connectivity, superpixels.ndim))
        self.edges = np.stack([uniq // (n + 1), uniq % (n + 1)], axis=1).astype(np.int64)
        means = self.means
        u, v = self.edges[:, 0], self.edges[:, 1]
        self.colour_distance = np.sqrt(((means[u] - means[v]) ** 2).sum(axis=1))
        self._dendrograms: dict[str, dict] = {}
        self._threshold_order = None
        self._ncut = None

    # -- basic properties -------------------------------------------------------------------------
    @property
    def means(self) -> np.ndarray:
        """``(n + 1, C)`` mean colour of each superpixel (row 0 is zero)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.sums / self.counts[:, None]
        m[self.counts == 0] = 0.0
        return m

    @property
    def boundary_strength(self) -> np.ndarray:
        """``(E,)`` mean pixel-pair distance along each shared boundary."""
        return self.boundary_sum / np.maximum(self.boundary_count, 1)

    def edge_weights(self, mode: str = "hierarchical") -> np.ndarray:
        """Initial edge weights used by ``mode`` (colour distances, or boundary strengths)."""
        _check_mode(mode)
        return self.boundary_strength if mode == "boundary" else self.colour_distance

    def threshold_range(self, mode: str = "hierarchical") -> tuple[float, float]:
        """A slider range ``(0, high)`` for ``mode``; at ``high`` every connected set is one region.

        ``high`` is an upper bound computed without merging: merged means stay inside the box of the
        superpixel means, and merged boundary strengths are averages of the original ones.
        ``"ncut"`` gives (0, 2), the range of the normalized-cut value.
        """
        _check_mode(mode)
        if mode == "ncut":
            return 0.0, 2.0
        if not self.edges.size:
            return 0.0, 1.0
        if mode == "hierarchical":
            means = self.means[1:]
            high = float(np.sqrt(((means.max(axis=0) - means.min(axis=0)) ** 2).sum()))
        else:
            high = float(self.edge_weights(mode).max())
        return 0.0, high * 1.0001 + 1e-9

    # -- merging ----------------------------------------------------------------------------------
    def partition(self, threshold: float, mode: str = "hierarchical") -> np.ndarray:
        """Lookup table ``lut`` with ``lut[superpixel] = merged region`` (1..K; ``lut[0] = 0``).

        Parameters
        ----------
        threshold : float
            Merge threshold in the image's intensity units (``"ncut"``: the largest normalized-cut
            value still accepted for a split, in (0, 2]).
        mode : {"hierarchical", "threshold", "boundary", "ncut"}
            See :func:`napari_segsuite.core.superpixels.merge_superpixels`.
        """
        _check_mode(mode)
        threshold = float(threshold)
        if not np.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {threshold}.")
        n = self.n_regions
        if mode == "threshold":
            if self._threshold_order is None:
                self._threshold_order = np.argsort(self.colour_distance, kind="stable")
            order = self._threshold_order
            k = int(np.searchsorted(self.colour_distance[order], threshold, side="left"))
            sel = order[:k]
            root = self._components(self.edges[sel, 0], self.edges[sel, 1])
        elif mode == "ncut":
            from .ncut import NcutTree

            if self._ncut is None:
                self._ncut = NcutTree(self)
            root = self._ncut.partition(threshold)
        else:
            merges, cummax = self._dendrogram(mode, threshold)
            k = int(np.searchsorted(cummax, threshold, side="left"))
            parent = np.arange(n + 1 + len(merges), dtype=np.int64)
            new_ids = n + 1 + np.arange(k)
            parent[merges[:k, 0]] = new_ids
            parent[merges[:k, 1]] = new_ids
            while True:  # pointer jumping to the roots
                nxt = parent[parent]
                if np.array_equal(nxt, parent):
                    break
                parent = nxt
            root = parent[: n + 1]
        _, compact = np.unique(root[1:], return_inverse=True)
        lut = np.zeros(n + 1, dtype=np.int32)
        lut[1:] = compact.astype(np.int32) + 1
        return lut

    def merge(self, threshold: float, mode: str = "hierarchical") -> np.ndarray:
        """Merged labels (int32, from 1; 0 only outside the mask) at ``threshold``."""
        return take_in_bands(self.partition(threshold, mode), self.superpixels)

    def _components(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        n = self.n_regions + 1
        adj = sparse.coo_matrix((np.ones(len(u), np.int8), (u, v)), shape=(n, n)).tocsr()
        return connected_components(adj, directed=False)[1]

    def _dendrogram(self, mode: str, threshold: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Merge order ``(merges (M, 2) of node ids, running max of merge weights (M,))``.

        Merging the lowest edge first and recomputing weights after each merge (mean colours for
        ``"hierarchical"``, pixel-pair-weighted boundary means for ``"boundary"``) is the same
        sequence for every threshold; a threshold only decides how long a prefix is applied.
        Node ``n + 1 + i`` is the region created by merge ``i``. The sequence is computed lazily,
        only as far as ``threshold`` needs, and extended when a higher threshold asks for more.
        """
        state = self._dendrograms.get(mode)
        if state is None:
            state = self._dendrograms[mode] = {"steps": self._merge_steps(mode), "merges": [], "w": [],
                                               "max": -np.inf, "done": False}
        while not state["done"] and state["max"] < threshold:
            try:
                u, v, w = next(state["steps"])
            except StopIteration:
                state["done"] = True
                break
            state["merges"].append((u, v))
            state["max"] = max(state["max"], w)
            state["w"].append(state["max"])
        merges = np.asarray(state["merges"], dtype=np.int64).reshape(-1, 2)
        return merges, np.asarray(state["w"], dtype=np.float64)

    def _merge_steps(self, mode: str):
        """Generator of merges ``(tree id u, tree id v, weight)``, lowest edge first."""
        n = self.n_regions
        n_edges = len(self.edges)
        eu, ev = self.edges[:, 0].copy(), self.edges[:, 1].copy()
        bsum, bcount = self.boundary_sum.copy(), self.boundary_count.copy()
        boundary = mode == "boundary"
        lowest = _BlockMinimum((bsum / np.maximum(bcount, 1)) if boundary else self.colour_distance)
        weight = lowest.values  # written in place; lowest.refresh(ids) after each merge
        sums, counts = self.sums.copy(), self.counts.copy()
        # edge ids incident to each node (stale entries are skipped: dead edges have weight inf)
        ends = np.concatenate([eu, ev])
        order = np.argsort(ends, kind="stable")
        bounds = np.searchsorted(ends[order], np.arange(n + 2))
        edge_of = np.concatenate([np.arange(n_edges), np.arange(n_edges)])[order]
        incident = [edge_of[bounds[i]: bounds[i + 1]] for i in range(n + 1)]
        no_edges = np.zeros(0, np.int64)
        tree_id = np.arange(n + 1)  # dendrogram id of the region each representative node stands for
        next_id = n + 1
        inf = np.inf
        while n_edges:
            i = lowest.argmin()
            w = float(weight[i])
            if w == inf:
                break
            u, v = int(eu[i]), int(ev[i])
            if len(incident[u]) < len(incident[v]):  # keep the busier node as the representative
                u, v = v, u
            yield int(tree_id[u]), int(tree_id[v]), w
            tree_id[u] = next_id
            next_id += 1
            sums[u] += sums[v]
            counts[u] += counts[v]
            from_v = incident[v]
            eu[from_v] = np.where(eu[from_v] == v, u, eu[from_v])
            ev[from_v] = np.where(ev[from_v] == v, u, ev[from_v])
            cand = np.concatenate([incident[u], from_v])
            cand = cand[weight[cand] != inf]
            written = cand  # every weight this merge changes is one of these edges
            other = np.where(eu[cand] == u, ev[cand], eu[cand])
            loop = other == u  # the merged edge itself
            weight[cand[loop]] = inf
            cand, other = cand[~loop], other[~loop]
            nbr, first, inverse = np.unique(other, return_index=True, return_inverse=True)
            keep = cand[first]
            if keep.size < cand.size:  # neighbours of both: one edge, boundary sums added
                if boundary:
                    bsum[keep] = np.bincount(inverse, weights=bsum[cand])
                    bcount[keep] = np.bincount(inverse, weights=bcount[cand])
                dead = np.ones(cand.size, bool)
                dead[first] = False
                weight[cand[dead]] = inf
            incident[u] = keep
            incident[v] = no_edges  # (a view such as keep[:0] would keep every merge's array alive)
            if boundary:
                weight[keep] = bsum[keep] / np.maximum(bcount[keep], 1)
            else:
                diff = sums[nbr] / counts[nbr, None] - sums[u] / counts[u]
                weight[keep] = np.sqrt((diff * diff).sum(axis=1))
            lowest.refresh(written)


class _BlockMinimum:
    """``argmin`` of a float array that changes at a few places per step, without scanning it all.

    The array is cut into blocks of about ``sqrt(size)`` entries whose minima are kept; after writing
    into ``values``, call :meth:`refresh` with the written indices. :meth:`argmin` returns the same
    index as ``numpy.argmin(values)`` (the first of equal minima). Arrays of up to ``full_scan``
    entries are simply scanned (cheaper than the bookkeeping).
    """

    full_scan = 1 << 15

    def __init__(self, values: np.ndarray):
        n = values.size
        self._scan = n <= self.full_scan
        self.block = n if self._scan else max(64, int(np.sqrt(n)))
        n_blocks = max(1, -(-n // max(self.block, 1)))
        self._padded = np.full(n_blocks * max(self.block, 1), np.inf)
        self._padded[:n] = values
        self.values = self._padded[:n]
        if not self._scan:
            self._blocks = self._padded.reshape(n_blocks, self.block)
            self._block_min = self._blocks.min(axis=1)

    def argmin(self) -> int:
        if self._scan:
            return int(np.argmin(self.values))
        b = int(np.argmin(self._block_min))
        return b * self.block + int(np.argmin(self._blocks[b]))

    def refresh(self, written: np.ndarray) -> None:
        if not self._scan:
            touched = np.unique(written // self.block)
            self._block_min[touched] = self._blocks[touched].min(axis=1)


def _check_mode(mode: str) -> None:
    if mode not in MERGE_MODES:
        raise ValueError(f"unknown merge mode {mode!r}; choose one of {', '.join(MERGE_MODES)}.")
