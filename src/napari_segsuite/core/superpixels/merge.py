"""Merging superpixels into regions: the cached region graph and the threshold / hierarchical merges.

``build_graph`` makes the cached :class:`~napari_segsuite.core.superpixels.graph.SuperpixelGraph`;
``merge_superpixels`` merges at a threshold; ``iter_superpixels`` runs SLIC, the graph and the merge as one
progress generator (for widgets and the CLI).
"""

from __future__ import annotations

import numpy as np

from ..labels import check_same_shape
from ..progress import Progress
from .graph import SuperpixelGraph
from .slic import (
    COMPACTNESS, N_SEGMENTS,
    _channels_last, _check_finite, _check_slic_parameters, _check_threshold, _iter_slic, _sequential, _slic_inputs,
)

__all__ = ["build_graph", "merge_superpixels", "iter_superpixels"]


def build_graph(image, superpixels, channel_axis=None) -> SuperpixelGraph:
    """Region adjacency graph of ``superpixels`` over ``image``, cached for fast re-merging.

    Parameters
    ----------
    image : array_like
        The image the superpixels were computed on (``YX``, ``ZYX``, or with ``channel_axis``).
    superpixels : array_like of int
        Superpixel labels, 0 = not a region (outside the mask).
    channel_axis : int or None, optional
        Axis of the channels, ``None`` for gray.

    Returns
    -------
    SuperpixelGraph
        Call ``graph.merge(threshold, mode)`` for merged labels at any threshold. It keeps a
        reference to ``superpixels`` when they are already int32 numbered 1..N (no copy of a big
        image); do not modify them afterwards.

    Raises
    ------
    ValueError
        If the shapes differ, the superpixels are not non-negative integers or are all 0, or the
        image is NaN inside a superpixel.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.array([[0., 0., 10., 10.]])
    >>> g = build_graph(img, np.array([[1, 2, 3, 4]]))
    >>> g.merge(5.0).tolist()
    [[1, 1, 2, 2]]
    """
    values = _channels_last(image, channel_axis)
    sp = np.asarray(superpixels)
    if sp.dtype == bool or sp.dtype.kind not in "iu":
        raise ValueError(f"superpixels: expected integer labels, got dtype {sp.dtype}.")
    check_same_shape(sp.shape, values.shape[:-1], "superpixels", "image")
    if sp.size and sp.min() < 0:
        raise ValueError("superpixels: labels must be >= 0 (0 = outside the mask).")
    if not sp.any():
        raise ValueError("superpixels: every label is 0; compute superpixels first.")
    values = _check_finite(values, lambda: sp > 0)
    return SuperpixelGraph(values, _sequential(sp))


def merge_superpixels(image, superpixels, threshold: float, mode: str = "hierarchical", channel_axis=None):
    """Merge superpixels into larger regions.

    Parameters
    ----------
    image : array_like
        ``YX``/``ZYX`` gray image, or ``YXC``/``ZYXC`` with ``channel_axis`` (any number of channels).
    superpixels : array_like of int
        Superpixel labels (for example from :func:`slic_superpixels`), 0 = outside the mask.
    threshold : float
        ``"hierarchical"``, ``"threshold"``: mean-colour distance (image units) below which regions
        merge. ``"boundary"``: boundary strength below which they merge. ``"ncut"``: the largest
        normalized-cut value (0..2) accepted for a split; 0 keeps connected regions whole.
    mode : {"hierarchical", "threshold", "boundary", "ncut"}, optional
        ``"threshold"`` cuts every edge whose weight is >= ``threshold`` and keeps connected
        components (as ``skimage.graph.cut_threshold`` on ``rag_mean_color``). ``"hierarchical"``
        merges the lowest edge first and recomputes mean colours after each merge (as
        ``skimage.graph.merge_hierarchical``). ``"boundary"`` does the same with boundary strength
        (mean pixel-pair distance across the shared boundary). ``"ncut"`` splits recursively by
        normalized cuts.
    channel_axis : int or None, optional
        Axis of the channels, ``None`` for gray.

    Returns
    -------
    numpy.ndarray
        int32 labels numbered 1..K (0 only where ``superpixels`` is 0).

    Raises
    ------
    ValueError
        For an unknown mode, a negative or NaN threshold, and the input errors of :func:`build_graph`.

    Notes
    -----
    Distances are Euclidean over the image's real channels. scikit-image's ``rag_mean_color`` keeps
    three colour slots, so its gray-image distances are sqrt(3) times ours and it fails on 4 or more
    channels. For several thresholds on one image use :func:`build_graph` once and call
    ``graph.merge`` (a threshold change then costs milliseconds).

    References
    ----------
    .. [1] J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI 22(8), 2000.
       :DOI:`10.1109/34.868688`

    Examples
    --------
    >>> import numpy as np
    >>> img = np.array([[0., 1., 10., 12.]])
    >>> merge_superpixels(img, np.array([[1, 2, 3, 4]]), threshold=3).tolist()
    [[1, 1, 2, 2]]
    """
    from .graph import _check_mode

    _check_mode(mode)
    _check_threshold(threshold)
    return build_graph(image, superpixels, channel_axis=channel_axis).merge(threshold, mode)


def iter_superpixels(image, n_segments=N_SEGMENTS, compactness=COMPACTNESS, channel_axis=None, mask=None, spacing=None,
                     merge_threshold=None, mode="hierarchical", tile_size=None):
    """Progress generator: superpixels, graph, and (if ``merge_threshold`` is given) merged labels.

    Yields :class:`~napari_segsuite.core.progress.Progress`; returns ``(superpixels, graph, merged)``
    (``merged`` is None without a threshold). Parameters as in :func:`slic_superpixels` and
    :func:`merge_superpixels`; a tiled SLIC reports one step per tile.
    """
    from .graph import _check_mode

    _check_mode(mode)
    _check_slic_parameters(n_segments, compactness)
    if merge_threshold is not None:
        _check_threshold(merge_threshold)
    # Every input is checked before the first event: a user error never follows a progress line.
    values, m, checked_spacing = _slic_inputs(image, n_segments, compactness, channel_axis, mask, spacing,
                                              tile_size)
    slic_steps = _iter_slic(values, m, checked_spacing, n_segments, compactness, channel_axis, 10, tile_size)
    done, n_tiles = next(slic_steps)
    total = n_tiles + (2 if merge_threshold is not None else 1)
    yield Progress(0, total, "computing superpixels..." if n_tiles == 1
                   else f"superpixels in {n_tiles} tiles...")
    while True:
        try:
            done, _ = next(slic_steps)
        except StopIteration as stop:
            sp = stop.value
            break
        if done < n_tiles:
            yield Progress(done, total, f"superpixels: tile {done + 1} of {n_tiles}...")
    del values
    yield Progress(n_tiles, total, f"{int(sp.max())} superpixels; building the graph...")
    graph = build_graph(image, sp, channel_axis=channel_axis)
    merged = None
    if merge_threshold is not None:
        yield Progress(n_tiles + 1, total, "merging...")
        merged = graph.merge(merge_threshold, mode)
    yield Progress(total, total, f"{int(sp.max())} superpixels" +
                   (f" -> {int(merged.max())} regions" if merged is not None else ""))
    return sp, graph, merged
