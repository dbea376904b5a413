"""Interactive GrabCut: recompute only the boxes that changed, and repaint a labels array run after run.

A :class:`GrabCutSession` remembers each box's result under a key made of the box, the parameters and a
digest of the pixels (and scribbles) around it, so a second run computes only new or changed boxes. It
also remembers what it painted into each target, so the next run replaces its own instances there and
leaves the rest of the labels alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from . import boxes as _boxes

__all__ = ["box_key", "GrabCutSession", "SessionRun"]


def _digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def box_key(image, channel_axis, trimap, box, params: dict, prior=None) -> tuple:
    """The cache key of one box: the box, the parameters and a digest of the pixels GrabCut reads for it.

    Parameters
    ----------
    image : numpy.ndarray
        The whole image (spatial axes, plus ``channel_axis``).
    channel_axis : int or None
    trimap : numpy.ndarray or None
        Scribbles of the image's spatial shape; scribbles away from the box do not change its key.
    box : tuple of int
        ``(*planes, row0, col0, row1, col1)``, end exclusive.
    params : dict
        GrabCut parameters (``n_iter``, ``gamma``...).
    prior : numpy.ndarray or None
        The foreground prior GrabCut is given (the image's spatial shape); its values around the box are
        part of the key.

    Returns
    -------
    tuple
        Hashable; equal for two runs exactly when the box's result would be the same.
    """
    lead = len(box) - 4
    planes, (r0, c0, r1, c1) = box[:lead], box[lead:]
    m = params.get("margin")  # the pixels the cut will see: the box and its margin
    m = int(_boxes.DEFAULT_PARAMS["margin"] if m is None else m)
    sl = (*planes, slice(max(r0 - m, 0), r1 + m), slice(max(c0 - m, 0), c1 + m))
    img = np.moveaxis(image, channel_axis, -1) if channel_axis is not None else image
    parts = [img[sl]]
    if trimap is not None and trimap[sl].any():  # no scribble near this box: same as no scribble layer
        parts.append(trimap[sl])
    if prior is not None:
        parts.append(np.asarray(prior)[sl])
    return (tuple(int(v) for v in box), tuple(sorted(params.items())), _digest(*parts))


@dataclass
class SessionRun:
    """The outcome of one :meth:`GrabCutSession.iter_run`: the key of every box and the new results."""

    keys: dict       # shape index -> key
    computed: dict   # key -> BoxMask, for the boxes that were not cached


class GrabCutSession:
    """Box results cached across runs, and the instances painted into each target.

    Attributes
    ----------
    cache : dict
        Box key -> :class:`~napari_segsuite.core.graphcut.boxes.BoxMask`; only boxes whose key is missing
        are computed. After a run it holds the boxes of that run only, so memory stays bounded.
    last_computed : int
        Number of boxes the last committed run computed (the others came from the cache).
    """

    def __init__(self):
        self.cache: dict = {}
        self.last_computed = 0
        self._painted: dict = {}  # target key -> (id offset, {label id: BoxMask})

    def iter_run(self, image, boxes, channel_axis=None, trimap=None, *, prior=None, **params):
        """Generator: key every box, compute the uncached ones (yields Progress), return a SessionRun.

        ``image`` may be any array-like (numpy, dask, zarr): it is read here, in the caller's thread.
        ``boxes`` is a list of ``(index, box or None)``: ``index`` is any integer >= 0 naming the box (the
        widget passes each rectangle's stable id - 1), and :meth:`paint` gives its instance id ``index + 1``
        after the target's offset. ``prior`` is passed to GrabCut and is part of each box's key. The cache is
        only read; :meth:`commit` the run on the thread that owns the session.
        """
        image = np.asarray(image)
        keys = {i: box_key(image, channel_axis, trimap, box, params, prior) for i, box in boxes if box is not None}
        cached = dict(self.cache)
        todo, by_index = {}, dict(boxes)
        for i, key in keys.items():
            if key not in cached:
                todo.setdefault(key, by_index[i])
        n_iter = params.get("n_iter", 5)
        # looked up at call time: the module's function, also when a test or a profiler wraps it
        masks = yield from _boxes.iter_grabcut_masks(image, list(todo.values()), n_iter, channel_axis, trimap,
                                                     prior=prior, **{k: v for k, v in params.items() if k != "n_iter"})
        return SessionRun(keys, dict(zip(todo, masks)))

    def commit(self, run: SessionRun) -> list:
        """Store a run's results; returns ``[(shape index, BoxMask)]`` for every box of the run, in order."""
        self.cache.update(run.computed)
        self.cache = {key: self.cache[key] for key in run.keys.values()}
        self.last_computed = len(run.computed)
        return [(i, self.cache[key]) for i, key in sorted(run.keys.items())]

    def paint(self, data: np.ndarray, target, results) -> np.ndarray:
        """Paint ``results`` (shape index, BoxMask) into ``data`` as ids after its maximum; returns the array.

        Instances this session painted into the same ``target`` (any hashable naming the labels, e.g. the
        layer) by the previous run are erased first, where they are still there. Shape ``i`` gets id
        ``offset + i + 1`` and a later shape wins where two overlap. ``data`` is changed in place, unless
        the ids do not fit its dtype: then a wider copy (int32, or uint32 past 2**31) is returned.

        Raises
        ------
        ValueError
            If the ids do not fit in 32 bits.
        """
        offset, previous = self._painted.get(target, (None, {}))
        if offset is None:
            offset = int(data.max()) if data.size else 0
        need = offset + max((i for i, _ in results), default=-1) + 1
        if need > np.iinfo(data.dtype).max:
            wide = np.int32 if need <= np.iinfo(np.int32).max else np.uint32
            if need > np.iinfo(wide).max or (wide == np.uint32 and data.size and data.min() < 0):
                raise ValueError(f"the labels already use ids up to {offset}: {len(results)} more do not fit "
                                 "in 32 bits.")
            data = data.astype(wide)
        for label_id, res in previous.items():  # erase what the last run painted (only where still ours)
            view = data[res.slices]
            view[(view == label_id) & res.mask] = 0
        painted = {}
        for i, res in results:
            if res is None:  # nothing to paint (e.g. a point on no object): its id stays unused
                continue
            data[res.slices][res.mask] = offset + i + 1
            painted[offset + i + 1] = res
        self._painted[target] = (offset, painted)
        return data

    def forget(self, keep) -> None:
        """Drop the paint records of targets for which ``keep(target)`` is False (e.g. removed layers)."""
        self._painted = {t: rec for t, rec in self._painted.items() if keep(t)}
