"""Recursive two-way normalized cuts (Shi & Malik 2000) on a superpixel graph, computed lazily.

Each region of the tree is split once, by the best of several cuts along the second eigenvector of
its normalized Laplacian; the split and its Ncut value are cached, so moving the threshold only walks
the tree (and computes the splits it has not needed before).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["NcutTree", "ncut_value"]

_DENSE_LIMIT = 64  # regions up to this many superpixels use a dense eigen-solver (LAPACK is slow beyond)
_N_CUTS = 10  # candidate splitting values tried along the eigenvector


def ncut_value(weights: sparse.csr_matrix, side: np.ndarray) -> float:
    """Normalized cut ``cut(A,B)/assoc(A,V) + cut(A,B)/assoc(B,V)`` of the split ``side`` (bool).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> w = sparse.csr_matrix(np.array([[0, 1.0, 0.1], [1.0, 0, 0], [0.1, 0, 0]]))
    >>> round(ncut_value(w, np.array([True, True, False])), 4)
    1.0476
    """
    degree = np.asarray(weights.sum(axis=1)).ravel()
    assoc_a, assoc_b = degree[side].sum(), degree[~side].sum()
    if assoc_a <= 0 or assoc_b <= 0:
        return np.inf
    cut = weights[side][:, ~side].sum()
    return float(cut / assoc_a + cut / assoc_b)


class _Node:
    __slots__ = ("members", "ncut", "sides")

    def __init__(self, members: np.ndarray):
        self.members = members  # superpixel ids (connected within the graph)
        self.ncut = None  # best Ncut value of a split (inf: cannot split)
        self.sides = None  # list of child _Node


class NcutTree:
    """Lazily computed recursive normalized-cut tree over a :class:`SuperpixelGraph`.

    Edge similarity is ``exp(-d**2 / sigma**2)`` with ``d`` the mean-colour distance and
    ``sigma`` the spread of the superpixels' mean colours (the square root of their total variance
    over channels), so the Ncut threshold does not depend on the image's intensity units.
    """

    def __init__(self, graph):
        n = graph.n_regions
        self.n = n
        d = graph.colour_distance
        means = graph.means[1:]
        sigma = float(np.sqrt(means.var(axis=0).sum())) if n > 1 else 0.0
        sigma = sigma if sigma > 0 else 1.0
        sim = np.exp(-((d / sigma) ** 2)) + 1e-12
        u, v = graph.edges[:, 0], graph.edges[:, 1]
        self.weights = sparse.coo_matrix(
            (np.concatenate([sim, sim]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n + 1, n + 1)
        ).tocsr()
        ids = np.arange(1, n + 1)
        self.roots = [_Node(m) for m in self._split_components(ids)]

    def _split_components(self, members: np.ndarray) -> list[np.ndarray]:
        sub = self.weights[members][:, members]
        k, comp = connected_components(sub, directed=False)
        return [members[comp == i] for i in range(k)]

    def _expand(self, node: _Node) -> None:
        members = node.members
        if members.size < 2:
            node.ncut, node.sides = np.inf, []
            return
        w = self.weights[members][:, members].tocsr()
        vec = _second_eigenvector(w)
        best, best_side = np.inf, None
        lo, hi = vec.min(), vec.max()
        if hi > lo:
            for t in np.linspace(lo, hi, _N_CUTS + 2)[1:-1]:
                side = vec > t
                if side.all() or not side.any():
                    continue
                value = ncut_value(w, side)
                if value < best:
                    best, best_side = value, side
        node.ncut = best
        if best_side is None:
            node.sides = []
            return
        node.sides = [_Node(m) for part in (members[best_side], members[~best_side])
                      for m in self._split_components(part)]

    def partition(self, threshold: float) -> np.ndarray:
        """Region id per superpixel (index 0 unused): split every region whose best Ncut < threshold."""
        out = np.zeros(self.n + 1, dtype=np.int64)
        stack = list(self.roots)
        region = 0
        while stack:
            node = stack.pop()
            if node.ncut is None and threshold > 0:
                self._expand(node)
            if node.ncut is not None and node.ncut < threshold and node.sides:
                stack.extend(node.sides)
                continue
            region += 1
            out[node.members] = region
        return out


def _second_eigenvector(w: sparse.csr_matrix) -> np.ndarray:
    """Second eigenvector of ``D^-1/2 (D - W) D^-1/2``, mapped back by ``D^-1/2`` (Shi & Malik)."""
    degree = np.asarray(w.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(degree)
    a = sparse.diags(inv_sqrt) @ w @ sparse.diags(inv_sqrt)  # normalized affinity; eigen 1 - lambda
    m = w.shape[0]
    if m <= _DENSE_LIMIT:
        vals, vecs = np.linalg.eigh(a.toarray())
        vec = vecs[:, -2]
    else:
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(0).uniform(0.5, 1.5, m)
        vals, vecs = eigsh(a + sparse.identity(m), k=2, which="LA", v0=v0, tol=1e-6)
        vec = vecs[:, np.argsort(vals)[0]]
    return vec * inv_sqrt
