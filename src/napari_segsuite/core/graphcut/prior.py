"""A learned foreground prior for GrabCut: a trained model's probabilities, for the boxes' crops only.

:func:`model_prior` runs a U-Net (its foreground probability ``1 - p(background)``) or a Mask R-CNN (the
largest score-weighted soft mask over its detections) on the crops GrabCut will look at, not on the whole
image, and keeps what it computed in a small cache keyed by (model, image): asking again for the same boxes
costs nothing, and new boxes only compute what is still missing. Pixels not computed are 0.5, which GrabCut
treats as "no opinion".

U-Net crops are read with the network's receptive margin of context and aligned to its pooling grid, and
normalised with the whole image's percentile range, so a crop's probabilities equal those of a prediction
on the whole image.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["model_prior", "clear_prior_cache", "points_regions"]

#: Entries (model, image) kept by the cache; each holds one float32 map of the image's size.
CACHE_SIZE = 4
_CACHE: OrderedDict = OrderedDict()
#: Context around each Mask R-CNN crop (pixels), so objects at the crop's edge are seen whole.
MASKRCNN_CONTEXT = 32


def clear_prior_cache() -> None:
    """Forget every cached prior and loaded model (e.g. after the model file was retrained in place)."""
    _CACHE.clear()


def _image_key(arr: np.ndarray) -> tuple:
    arr = np.ascontiguousarray(arr)
    digest = hashlib.blake2b(arr.view(np.uint8).reshape(-1) if arr.size else b"", digest_size=16).hexdigest()
    return arr.shape, arr.dtype.str, digest


def _model_key(model):
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} not found: give a segsuite U-Net or Mask R-CNN "
                                    "checkpoint (.pt).")
        st = path.stat()
        return ("file", str(path.resolve()), st.st_mtime_ns, st.st_size)
    return ("object", id(model))


class _Entry:
    """One (model, image) pair: the loaded model, the prior computed so far and where it was computed."""

    def __init__(self, model, shape):
        self.model_ref = model  # keeps id(model) from being reused while the entry lives
        self.prior = np.full(shape, 0.5, np.float32)
        self.done = np.zeros(shape, bool)
        self.runner = None


def _load_runner(model, device, image, channel_axis):
    """A function ``(y0, y1, x0, x1) -> probabilities of that block`` for a U-Net or a Mask R-CNN."""
    kind = None
    if isinstance(model, (str, Path)):
        from ..training.checkpoint import open_checkpoint

        model = open_checkpoint(model)  # read the file once: the runners take the loaded checkpoint
    if isinstance(model, dict):
        kind = model.get("kind")
    elif isinstance(model, tuple) and len(model) == 3:
        kind = "unet"  # (net, checkpoint, device) from napari_segsuite.core.unet.infer.load_unet
    elif hasattr(model, "roi_heads"):
        kind = "maskrcnn"
    if kind == "unet":
        return _unet_runner(model, device, image, channel_axis)
    if kind == "maskrcnn":
        return _maskrcnn_runner(model, device, image, channel_axis)
    raise ValueError(f"cannot compute a prior from {type(model).__name__} (kind {kind!r}): give a segsuite "
                     "U-Net or Mask R-CNN checkpoint (.pt), a loaded checkpoint dict or a loaded model.")


def _unet_runner(model, device, image, channel_axis):
    from ..unet.data import PlaneSource, normalize_chw
    from ..unet.infer import _forward, load_unet
    from ..unet.model import receptive_margin

    net, ckpt, dev = model if isinstance(model, tuple) else load_unet(model, device)
    source = PlaneSource(image, in_channels=net.config["in_channels"], channel_axis=channel_axis)
    if source.is_stack:
        raise ValueError("a model prior is computed on one 2D image (rows, cols[, channels]); "
                         "give one plane of the stack.")
    lo, hi = source.plane_range(0, ckpt["normalization"])
    mult = 2 ** net.config["depth"]
    margin = receptive_margin(net.config["depth"])
    h, w = source.plane_shape

    def run_block(y0, y1, x0, x1):
        if (y0, y1, x0, x1) == (0, h, 0, w):  # the whole image: tiled, memory bounded by a tile
            from ..unet.infer import iter_plane_probabilities

            gen = iter_plane_probabilities(net, source, 0, ckpt["normalization"], dev)
            try:
                while True:
                    next(gen)
            except StopIteration as stop:
                return 1.0 - stop.value[0]
        ya, xa = (y0 // mult) * mult, (x0 // mult) * mult  # the whole image's pooling grid
        yb, xb = -(-y1 // mult) * mult, -(-x1 // mult) * mult
        block = normalize_chw(source.read_mirrored(0, ya - margin, yb + margin, xa - margin, xb + margin), lo, hi)
        prob = _forward(net, block[None], dev, amp=True)[0]
        fg = 1.0 - prob[0, margin:margin + yb - ya, margin:margin + xb - xa]
        return fg[y0 - ya:y1 - ya, x0 - xa:x1 - xa]

    run_block.context = 2 * margin + mult
    return run_block, (h, w)


def _maskrcnn_runner(model, device, image, channel_axis):
    import torch

    from ..maskrcnn.infer import _resolve_model
    from ..maskrcnn.targets import prepare_image

    net, dev, norm = _resolve_model(model, device)
    prepared = prepare_image(image, int(net.segsuite_config["in_channels"]), channel_axis, norm)
    h, w = prepared.shape[1:]

    def run_block(y0, y1, x0, x1):
        c = MASKRCNN_CONTEXT
        ya, yb, xa, xb = max(y0 - c, 0), min(y1 + c, h), max(x0 - c, 0), min(x1 + c, w)
        with torch.inference_mode():
            out = net([torch.from_numpy(np.ascontiguousarray(prepared[:, ya:yb, xa:xb])).to(dev)])[0]
        soft = out["masks"][:, 0].float() * out["scores"].float()[:, None, None]
        fg = soft.amax(0).cpu().numpy() if len(soft) else np.zeros((yb - ya, xb - xa), np.float32)
        return fg[y0 - ya:y1 - ya, x0 - xa:x1 - xa]

    run_block.context = 2 * MASKRCNN_CONTEXT
    return run_block, (h, w)


def _regions(regions, shape, margin):
    h, w = shape
    if regions is None:
        return [(0, h, 0, w)]
    out = []
    for box in regions:
        vals = [int(round(float(v))) for v in box]
        if len(vals) != 4:
            raise ValueError(f"a region for the prior is a box (row0, col0, row1, col1), got {tuple(box)}.")
        r0, c0, r1, c1 = vals
        y0, y1 = max(min(r0, r1) - margin, 0), min(max(r0, r1) + margin, h)
        x0, x1 = max(min(c0, c1) - margin, 0), min(max(c0, c1) + margin, w)
        if y1 > y0 and x1 > x0:
            out.append((y0, y1, x0, x1))
    return out


def points_regions(points, radius: int = 48) -> list:
    """Boxes ``radius`` pixels around each ``(row, col)`` point: the regions a point prompt needs a prior for."""
    return [(int(r) - radius, int(c) - radius, int(r) + radius + 1, int(c) + radius + 1) for r, c in points]


def model_prior(model, image, regions=None, *, channel_axis=None, margin: int = 10, device="auto",
                cache: bool = True) -> np.ndarray:
    """Foreground probabilities of a trained model, computed only where GrabCut needs them.

    Parameters
    ----------
    model : str, Path, dict, tuple or torch.nn.Module
        A segsuite checkpoint (U-Net or Mask R-CNN; the kind is read from the file), a loaded checkpoint
        dict, the ``(net, checkpoint, device)`` tuple of ``core.unet.infer.load_unet`` or a loaded Mask R-CNN.
    image : ndarray
        One 2D image, ``(rows, cols)`` or with channels on ``channel_axis``.
    regions : sequence of boxes, optional
        ``(row0, col0, row1, col1)`` boxes (e.g. GrabCut's boxes); the prior is computed for each grown by
        ``margin``. None computes the whole image.
    channel_axis : int, optional
        Axis of the channels; None for gray (an RGB image's last axis is found by the model's checks).
    margin : int
        Pixels added around each region: GrabCut's crop margin (default 10, as ``grabcut``'s).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...
    cache : bool
        Keep the loaded model and computed probabilities for this (model, image) pair and reuse them. A
        file model is identified by its path, size and modification time, any other by identity; an image
        by its content.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        The foreground probability in the regions, 0.5 (neutral for GrabCut) everywhere else.

    Raises
    ------
    FileNotFoundError
        If the model file does not exist.
    ValueError
        If the model is not a segsuite U-Net or Mask R-CNN, or does not fit the image (channels).

    Examples
    --------
    >>> from napari_segsuite.core import grabcut_boxes, load_sample, sample_path
    >>> image, _ = load_sample("nuclei_test")
    >>> boxes = [(100, 100, 140, 140)]
    >>> prior = model_prior(sample_path("unet_nuclei.pt"), image, boxes, device="cpu")  # doctest: +SKIP
    >>> labels = grabcut_boxes(image, boxes, prior=prior)  # doctest: +SKIP
    """
    arr = np.asarray(image)
    key = (_model_key(model), _image_key(arr), channel_axis, str(device))
    entry = _CACHE.get(key) if cache else None
    if entry is None:
        runner, shape = _load_runner(model, device, arr, channel_axis)
        entry = _Entry(model, shape)
        entry.runner = runner
        if cache:
            _CACHE[key] = entry
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    todo = [r for r in _regions(regions, entry.prior.shape, int(margin))
            if not entry.done[r[0]:r[1], r[2]:r[3]].all()]
    h, w = entry.prior.shape
    c = getattr(entry.runner, "context", 0)
    if sum((y1 - y0 + c) * (x1 - x0 + c) for y0, y1, x0, x1 in todo) >= h * w:
        todo = [(0, h, 0, w)]  # crops with their context would cost more than one pass over the image
    for y0, y1, x0, x1 in todo:
        entry.prior[y0:y1, x0:x1] = np.clip(entry.runner(y0, y1, x0, x1), 0.0, 1.0)
        entry.done[y0:y1, x0:x1] = True
    return entry.prior.copy()
