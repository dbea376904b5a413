"""Assisted labeling with superpixels: whole regions into a labels array by clicks and strokes, with undo.

:class:`RegionAnnotator` works on plain numpy arrays (the regions shown, the superpixels, and the target
labels array it writes into in place), so a viewer, a script or a test drives it alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Edit", "RegionAnnotator", "line_pixels"]


def line_pixels(p0, p1) -> np.ndarray:
    """Integer pixel coordinates on the segment ``p0 -> p1`` (any dimensionality), endpoints included.

    Parameters
    ----------
    p0, p1 : array_like of float
        End points, in pixels.

    Returns
    -------
    numpy.ndarray
        ``(N, D)`` int64 coordinates, unique, sorted.
    """
    p0, p1 = np.asarray(p0, dtype=float), np.asarray(p1, dtype=float)
    steps = int(np.ceil(np.abs(p1 - p0).max())) + 1
    t = np.linspace(0.0, 1.0, max(steps, 2))[:, None]
    return np.unique(np.round(p0 + t * (p1 - p0)).astype(np.int64), axis=0)


@dataclass
class Edit:
    """What one click, stroke or merge did.

    Attributes
    ----------
    changed : int
        Number of target pixels whose value changed.
    regions : numpy.ndarray
        The region (click) or superpixel (stroke) ids written; empty when nothing was written.
    reason : str
        Why nothing was written (a click outside the image, on background...); empty otherwise.
    """

    changed: int = 0
    regions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reason: str = ""


class RegionAnnotator:
    """Write regions into a target labels array, with an undo history.

    Parameters
    ----------
    undo_limit : int
        Number of edits kept for :meth:`undo`.

    Notes
    -----
    Every edit is stored as the flat indices it changed and their old values (not a copy of the target),
    so the history costs memory in proportion to the pixels edited. Each edit carries a ``key`` (any
    object, e.g. the layer holding the target) that :meth:`undo` hands back to find the array again.
    """

    def __init__(self, undo_limit: int = 50):
        self.undo_limit = int(undo_limit)
        self._history: list[tuple] = []

    def paint(self, target: np.ndarray, where: np.ndarray, value: int, key=None, write=None) -> int:
        """Set ``target[where] = value`` in place and remember the old values; returns pixels changed.

        ``write(indices, value)``, if given, does the writing instead (``indices`` a tuple of index arrays,
        one per axis): e.g. napari's ``Labels.data_setitem``, which records the edit in the layer's own undo
        history.

        Raises
        ------
        ValueError
            If ``value`` does not fit in the target's integer dtype.
        """
        info = np.iinfo(target.dtype) if target.dtype.kind in "iu" else None
        if info is not None and not info.min <= value <= info.max:
            raise ValueError(f"label id {value} does not fit in the target ({target.dtype}, ids up to "
                             f"{info.max}); choose a smaller id or a new target Labels layer.")
        idx = np.flatnonzero(where)
        old = target[np.unravel_index(idx, target.shape)]  # not reshape(-1): copies if not contiguous
        changed = old != value
        idx, old = idx[changed], old[changed]
        if idx.size:
            if write is None:
                target[np.unravel_index(idx, target.shape)] = value
            else:
                write(np.unravel_index(idx, target.shape), value)
            self._history.append((key, target, idx, old))
            del self._history[:-self.undo_limit]
        return int(idx.size)

    def click(self, target, regions, coord, value: int, key=None, write=None) -> Edit:
        """Write ``value`` over the whole region of ``regions`` under ``coord`` (pixel coordinates, rounded).

        A click outside the image or on region 0 (background, outside a mask) writes nothing and says why.
        """
        index = np.round(np.asarray(coord, dtype=float)).astype(np.int64)
        if index.shape != (regions.ndim,) or np.any(index < 0) or np.any(index >= regions.shape):
            return Edit(reason="the click is outside the image.")
        region = int(regions[tuple(index)])
        if region == 0:
            return Edit(reason="no superpixel here (outside the mask).")
        n = self.paint(target, regions == region, value, key, write)
        return Edit(n, np.array([region]))

    def stroke(self, target, superpixels, coords, value: int, key=None, write=None) -> Edit:
        """Write ``value`` over every superpixel the polyline through ``coords`` touches."""
        pts = np.asarray(coords, dtype=float).reshape(-1, superpixels.ndim)
        segments = [line_pixels(a, b) for a, b in zip(pts[:-1], pts[1:])] or [np.round(pts).astype(np.int64)]
        pix = np.concatenate(segments)
        pix = pix[np.all((pix >= 0) & (pix < np.asarray(superpixels.shape)), axis=1)]
        if pix.size == 0:
            return Edit(reason="the stroke is outside the image.")
        touched = np.unique(superpixels[tuple(pix.T)])
        touched = touched[touched > 0]
        if touched.size == 0:
            return Edit(reason="the stroke touches no superpixel.")
        n = self.paint(target, np.isin(superpixels, touched), value, key, write)
        return Edit(n, touched)

    def merge(self, target, source: int, destination: int, key=None, write=None) -> Edit:
        """Relabel every ``source`` pixel of ``target`` as ``destination``."""
        if source == destination:
            return Edit(reason="choose two different labels to merge.")
        where = target == source
        if not where.any():
            return Edit(reason=f"label {source} is not in the target layer.")
        return Edit(self.paint(target, where, destination, key, write), np.array([source]))

    def undo(self, resolve=None):
        """Undo the last edit whose target is still there; returns ``(key, pixels restored)`` or None.

        Parameters
        ----------
        resolve : callable, optional
            ``resolve(key) -> array or None``: the array to restore into (None: skip this edit, e.g. its
            layer was removed). Default: the array the edit was made in.
        """
        while self._history:
            key, target, idx, old = self._history.pop()
            array = target if resolve is None else resolve(key)
            if array is None:
                continue
            array[np.unravel_index(idx, array.shape)] = old
            return key, int(idx.size)
        return None
