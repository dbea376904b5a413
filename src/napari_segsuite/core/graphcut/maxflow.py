"""s-t minimum cut on a 2D pixel grid, for GrabCut (BSD-compatible: scipy's ``maximum_flow``).

The energy is ``sum_p D_p(alpha_p) + sum_{p~q} V_pq [alpha_p != alpha_q]`` over an 8-connected grid
(Boykov & Jolly 2001). Its minimum is an s-t minimum cut of a graph with one node per pixel, a source
(foreground) and a sink (background): the edge source->p costs ``D_p(background)``, p->sink costs
``D_p(foreground)``, and each neighbour pair is joined both ways with capacity ``V_pq``. scipy's
``maximum_flow`` (Dinic's algorithm, compiled) needs integer capacities, so costs are scaled and rounded;
the cut is the set of nodes still reachable from the source in the residual graph.

:class:`GridCut` builds the graph structure once per crop (the pairwise weights do not change between
GrabCut iterations) and only rewrites the terminal capacities for each cut.

Why scipy's Dinic (and not OpenCV, networkx or PyMaxflow): docs/architecture.md, "Measurements behind design
choices". It runs on the free pixels only, so a 30x30 box inside a 50x50 crop is a 900-node graph.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["GridCut", "contrast_weights", "NEIGHBOUR_OFFSETS"]

#: The four "forward" offsets of the 8-neighbourhood; each pair of pixels is listed once.
NEIGHBOUR_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))

#: Costs are multiplied by this before rounding to the integer capacities scipy needs.
_SCALE = 256.0
#: Largest finite cost (in energy units) after clipping; hard constraints use a larger capacity.
_MAX_COST = 1000.0


def _pair_index(shape, offset):
    """Flat indices (p, q) of all pixel pairs ``q = p + offset`` inside the grid."""
    h, w = shape
    dy, dx = offset
    rows = np.arange(max(0, -dy), min(h, h - dy))
    cols = np.arange(max(0, -dx), min(w, w - dx))
    p = (rows[:, None] * w + cols[None, :]).ravel()
    return p, p + dy * w + dx


def contrast_weights(features: np.ndarray, gamma: float = 50.0, beta: float | None = None):
    """Contrast-sensitive smoothness weights of the 8-connected grid (Rother et al. 2004, eq. 11).

    Parameters
    ----------
    features : ndarray, shape (rows, cols, channels)
        Pixel values (any scale).
    gamma : float
        Weight of the smoothness term against the data term.
    beta : float, optional
        Contrast scale; default ``1 / (2 <|z_p - z_q|^2>)`` with the mean over all neighbour pairs.

    Returns
    -------
    pairs : list of (p, q, weight)
        For each of the four forward offsets, flat pixel indices and the weights
        ``gamma / dist(p, q) * exp(-beta |z_p - z_q|^2)``.
    beta : float
        The contrast scale used.
    """
    f = np.asarray(features, dtype=np.float64)
    shape = f.shape[:2]
    flat = f.reshape(-1, f.shape[2])
    diffs = []
    for off in NEIGHBOUR_OFFSETS:
        p, q = _pair_index(shape, off)
        diffs.append((p, q, ((flat[p] - flat[q]) ** 2).sum(1), float(np.hypot(*off))))
    if beta is None:
        total = sum(d[2].sum() for d in diffs)
        count = sum(d[2].size for d in diffs)
        mean = total / max(count, 1)
        beta = 1.0 / (2.0 * mean) if mean > 0 else 0.0
    pairs = [(p, q, gamma / dist * np.exp(-beta * d2)) for p, q, d2, dist in diffs]
    return pairs, float(beta)


class GridCut:
    """Repeated s-t minimum cuts on one pixel grid with fixed pairwise weights and hard constraints.

    Only the free pixels become graph nodes: an edge to a pixel fixed to the background is folded into
    the free pixel's foreground cost (and vice versa), so a box inside a crop costs a graph the size of
    the box, not of the crop.

    Parameters
    ----------
    shape : tuple of int
        (rows, cols) of the grid.
    pairs : list of (p, q, weight)
        Undirected neighbour edges (flat pixel indices), as returned by :func:`contrast_weights`.
    hard_fg, hard_bg : bool ndarray of ``shape``, optional
        Pixels fixed to foreground / background (hard constraints). They must not overlap.

    Raises
    ------
    ValueError
        If a pixel is fixed to both labels.

    Examples
    --------
    >>> import numpy as np
    >>> cut = GridCut((1, 3), [(np.array([0, 1]), np.array([1, 2]), np.array([0.1, 0.1]))])
    >>> cut.cut(np.array([0.0, 1.0, 5.0]), np.array([5.0, 1.2, 0.0])).astype(int).tolist()
    [[1, 1, 0]]
    """

    def __init__(self, shape, pairs, hard_fg=None, hard_bg=None):
        self.shape = (int(shape[0]), int(shape[1]))
        npix = self.shape[0] * self.shape[1]
        hf = np.zeros(npix, bool) if hard_fg is None else np.asarray(hard_fg, bool).ravel()
        hb = np.zeros(npix, bool) if hard_bg is None else np.asarray(hard_bg, bool).ravel()
        if (hf & hb).any():
            raise ValueError("a pixel cannot be constrained to both foreground and background.")
        self._hard_fg, self._hard_bg = hf, hb
        free = ~(hf | hb)
        self._free = np.flatnonzero(free)
        n = self._free.size
        self.n = n
        node = np.full(npix, -1, np.intp)
        node[self._free] = np.arange(n)
        p = np.concatenate([pq[0] for pq in pairs]) if pairs else np.zeros(0, np.intp)
        q = np.concatenate([pq[1] for pq in pairs]) if pairs else np.zeros(0, np.intp)
        w = np.concatenate([pq[2] for pq in pairs]) if pairs else np.zeros(0)
        # Edges to fixed pixels become terminal costs of the free end.
        self._extra_fg = np.zeros(npix)  # cost added to "foreground" (neighbour fixed to background)
        self._extra_bg = np.zeros(npix)
        for a, b in ((p, q), (q, p)):
            sel = free[a] & hb[b]
            self._extra_fg += np.bincount(a[sel], weights=w[sel], minlength=npix)
            sel = free[a] & hf[b]
            self._extra_bg += np.bincount(a[sel], weights=w[sel], minlength=npix)
        both = free[p] & free[q]
        p, q, w = node[p[both]], node[q[both]], w[both]
        wi = np.maximum(np.rint(np.minimum(w, _MAX_COST) * _SCALE), 0).astype(np.int32)
        src, snk = n, n + 1
        nodes = np.arange(n)
        # Every edge is listed with its reverse (the terminal edges' reverses have capacity 0), rows sorted by
        # column: scipy's maximum_flow then returns the flow with exactly this structure, so the residual is
        # a plain difference of the data arrays (no sparse subtraction).
        rows = np.concatenate([p, q, np.full(n, src), nodes, nodes, np.full(n, snk)])
        cols = np.concatenate([q, p, nodes, np.full(n, snk), np.full(n, src), nodes])
        data = np.concatenate([wi, wi, np.zeros(4 * n, np.int32)])
        order = np.lexsort((cols, rows))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        m = p.size
        self._src_pos = inverse[2 * m: 2 * m + n]
        self._snk_pos = inverse[2 * m + n: 2 * m + 2 * n]
        indptr = np.searchsorted(rows[order], np.arange(n + 3)).astype(np.int32)
        self._graph = sparse.csr_matrix((data[order], cols[order].astype(np.int32), indptr), shape=(n + 2, n + 2))
        self._graph.has_sorted_indices = True

    def cut(self, cost_fg, cost_bg) -> np.ndarray:
        """Minimum-energy labelling: True where the pixel is foreground.

        Parameters
        ----------
        cost_fg, cost_bg : ndarray, shape (rows, cols) or (rows*cols,)
            Data costs of labelling each pixel foreground / background (e.g. negative log-likelihoods).
            Values at fixed pixels are ignored.

        Returns
        -------
        ndarray of bool, shape (rows, cols)
        """
        out = self._hard_fg.copy()
        if self.n == 0:
            return out.reshape(self.shape)
        cf = np.asarray(cost_fg, np.float64).ravel()
        cb = np.asarray(cost_bg, np.float64).ravel()
        cf = cf[self._free] + self._extra_fg[self._free]
        cb = cb[self._free] + self._extra_bg[self._free]
        diff = np.clip(cb - cf, -_MAX_COST, _MAX_COST)  # only the difference matters
        graph = self._graph
        graph.data[self._src_pos] = np.rint(np.maximum(diff, 0) * _SCALE)
        graph.data[self._snk_pos] = np.rint(np.maximum(-diff, 0) * _SCALE)
        flow = csgraph.maximum_flow(graph, self.n, self.n + 1, method="dinic").flow
        if np.array_equal(flow.indptr, graph.indptr) and np.array_equal(flow.indices, graph.indices):
            # eliminate_zeros below works in place: the residual gets its own copy of the structure
            residual = sparse.csr_matrix((np.maximum(graph.data - flow.data, 0), graph.indices.copy(),
                                          graph.indptr.copy()), shape=graph.shape)
        else:  # a scipy that returns the flow in another structure: subtract as sparse matrices
            residual = (graph - flow).tocsr()
            residual.data[residual.data < 0] = 0
        residual.eliminate_zeros()
        reached = csgraph.breadth_first_order(residual, self.n, directed=True, return_predecessors=False)
        reached = reached[reached < self.n]
        out[self._free[reached]] = True
        return out.reshape(self.shape)
