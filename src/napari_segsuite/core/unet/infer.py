"""Overlap-tile inference (Ronneberger et al. 2015): mirrored borders, batched tiles, for numpy, zarr and
dask input. Memory is bounded by one tile and one plane's compact maps (see ``postprocess.PlaneMaps``:
1 byte per pixel for two-class models, 6 for three-class ones), never the plane's full probabilities."""

from __future__ import annotations

import numpy as np

from ..progress import Progress, run
from ..channels import announce_conversion
from ..training.defaults import UNET_PREDICT_DEFAULTS
from .data import PlaneSource, normalize_chw
from .postprocess import PlaneMaps, maps_to_instances

__all__ = ["load_unet", "iter_predict_unet", "predict_unet", "predict_probabilities", "default_tile_size"]


def default_tile_size(device_type: str) -> int:
    """Largest tile side: 1024 on every device (why: docs/architecture.md, "U-Net tile size")."""
    return 1024


def load_unet(model, device="auto"):
    """Build the network of a U-Net checkpoint on ``device``.

    Parameters
    ----------
    model : str, Path or dict
        Checkpoint file or loaded checkpoint dict.
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ...

    Returns
    -------
    net : UNet
        In evaluation mode, on the device, each batch norm folded into its convolution (for prediction only,
        :func:`~.model.fold_batch_norm`).
    checkpoint : dict
    device : torch.device
    """
    import torch

    from ..device import select_device
    from .checkpoint import load_checkpoint
    from .model import build_unet, fold_batch_norm

    ckpt = load_checkpoint(model, kind="unet")
    dev = device if isinstance(device, torch.device) else select_device(device)
    net = build_unet(ckpt["config"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"the checkpoint's weights do not fit its configuration ({exc}).") from exc
    net = net.to(dev).eval()
    fold_batch_norm(net)  # a prediction network: each batch norm folded into its convolution (1.6x on a CPU)
    if dev.type == "cpu":  # channels-last convolutions: one 624x624 forward pass 1.5x faster on a CPU (architecture.md)
        net = net.to(memory_format=torch.channels_last)
    return net, ckpt, dev


def _forward(net, batch: np.ndarray, dev, amp: bool) -> np.ndarray:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch)).to(dev)
    if dev.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        if amp and dev.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                logits = net(x)
        else:
            logits = net(x)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()


def tile_layout(h: int, w: int, tile: int, margin: int, mult: int):
    """Tile sides, kept core sides and core origins covering an ``h x w`` plane with little waste.

    Each axis is cut into ``ceil(n / (tile - 2 margin))`` equal cores (rounded up to a multiple of
    ``mult`` so every tile keeps the pooling grid of the whole image); tiles are cores plus the margin.
    An image smaller than ``tile`` is one tile of its own size plus margins.
    """
    def axis(n):
        count = -(-n // (tile - 2 * margin))
        core = -(-(-(-n // count)) // mult) * mult
        return core, core + 2 * margin

    core_y, tile_y = axis(h)
    core_x, tile_x = axis(w)
    positions = [(y, x) for y in range(0, h, core_y) for x in range(0, w, core_x)]
    return tile_y, tile_x, core_y, core_x, positions


def iter_plane_probabilities(net, source: PlaneSource, z: int, normalization: dict, dev, *,
                             tile_size: int | None = None, tile_batch: int = 1, amp: bool = True, tiled: bool = True,
                             sink=None):
    """Class probabilities ``(n_classes, Y, X)`` of plane ``z``; yields the number of tiles done.

    With ``tiled=False`` the whole plane goes through the network in one pass (zero-padded borders, as
    any same-padded network sees an image); used to check the tiling. With ``sink`` (an object with
    ``add(y, x, prob)``, such as :class:`~.postprocess.PlaneMaps`) each tile's kept core is handed to it
    and nothing is returned, so the plane's probabilities are never held whole.
    """
    from .model import receptive_margin

    depth = net.config["depth"]
    mult = 2 ** depth
    margin = receptive_margin(depth)
    h, w = source.plane_shape
    lo, hi = source.plane_range(z, normalization)
    n_cls = net.config["n_classes"]
    if not tiled:
        ph, pw = -(-h // mult) * mult, -(-w // mult) * mult
        block = normalize_chw(source.read_mirrored(z, 0, ph, 0, pw), lo, hi)
        yield 1
        prob = _forward(net, block[None], dev, amp)[0, :, :h, :w]
        if sink is None:
            return prob
        sink.add(0, 0, prob)
        return None
    tile = int(tile_size or default_tile_size(dev.type))
    if tile % mult or tile <= 2 * margin:
        raise ValueError(f"tile size {tile} must be a multiple of {mult} and larger than {2 * margin} "
                         f"(twice the {margin}-pixel margin of a depth-{depth} U-Net).")
    tile_y, tile_x, core_y, core_x, positions = tile_layout(h, w, tile, margin, mult)
    prob = None
    if sink is None:
        prob = np.empty((n_cls, h, w), np.float32)
        sink = _ArraySink(prob)
    for start in range(0, len(positions), max(1, int(tile_batch))):
        group = positions[start:start + max(1, int(tile_batch))]
        batch = np.stack([normalize_chw(source.read_mirrored(z, y - margin, y - margin + tile_y,
                                                             x - margin, x - margin + tile_x), lo, hi)
                          for y, x in group])
        out = _forward(net, batch, dev, amp)
        for (y, x), p in zip(group, out):
            ky, kx = min(core_y, h - y), min(core_x, w - x)
            sink.add(y, x, p[:, margin:margin + ky, margin:margin + kx])
        yield start + len(group)
    return prob


class _ArraySink:
    """Collects tile cores into a full ``(n_classes, Y, X)`` array."""

    def __init__(self, prob: np.ndarray):
        self.prob = prob

    def add(self, y: int, x: int, p: np.ndarray) -> None:
        self.prob[:, y:y + p.shape[1], x:x + p.shape[2]] = p


def _n_tiles(source: PlaneSource, net, tile_size, dev) -> int:
    from .model import receptive_margin

    depth = net.config["depth"]
    tile = int(tile_size or default_tile_size(dev.type))
    if tile % 2 ** depth or tile <= 2 * receptive_margin(depth):
        return 1  # refused with a clear message by iter_plane_probabilities
    return len(tile_layout(*source.plane_shape, tile, receptive_margin(depth), 2 ** depth)[4])


def iter_predict_unet(model, image, *, channel_axis: int | None = None, device="auto", tile_size: int | None = None,
                      tile_batch: int | None = None, threshold: float = UNET_PREDICT_DEFAULTS["threshold"],
                      min_size: int = UNET_PREDICT_DEFAULTS["min_size"],
                      watershed: bool = False, min_distance: int = UNET_PREDICT_DEFAULTS["min_distance"],
                      return_probabilities: bool = False, out=None,
                      prob_out=None, amp: bool = True, tiled: bool = True, convert: str | None = None,
                      diameter=None):
    """Generator form of :func:`predict_unet`: yields :class:`Progress` per batch of tiles, returns its result.

    ``convert`` (``"hematoxylin"`` or ``"gray"``) lets a colour image into a gray model
    (:func:`napari_segsuite.core.channels.fit_channels`); None refuses one whose channels differ.
    """
    if tile_size is not None and (not float(tile_size).is_integer() or tile_size < 1):
        raise ValueError(f"tile_size must be a positive whole number of pixels (None: default), got {tile_size!r}.")
    if not float(min_size).is_integer() or min_size < 0:
        raise ValueError(f"min_size must be a whole number of pixels >= 0, got {min_size!r}.")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1 (a probability), got {threshold!r}.")
    if not float(min_distance).is_integer() or min_distance < 1:
        raise ValueError(f"min_distance must be a whole number of pixels >= 1, got {min_distance!r}.")
    net, ckpt, dev = model if isinstance(model, tuple) else load_unet(model, device)
    source = PlaneSource(image, in_channels=net.config["in_channels"], channel_axis=channel_axis, convert=convert)
    if diameter is not None:
        return (yield from _iter_at_diameter(
            (net, ckpt, dev), source, image, channel_axis, diameter, out, prob_out, return_probabilities,
            dict(tile_size=tile_size, tile_batch=tile_batch, threshold=threshold, min_size=min_size,
                 watershed=watershed, min_distance=min_distance, amp=amp, tiled=tiled, convert=convert)))
    announce_conversion(convert, source.n_channels, net.config["in_channels"])
    normalization = ckpt["normalization"]
    if tile_batch is None:
        tile_batch = 4 if dev.type == "cuda" else 1
    out_shape = source.out_shape
    for name, arr in (("out", out), ("prob_out", prob_out)):
        if arr is not None and tuple(arr.shape) != out_shape:
            raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {out_shape} for this image.")
    labels = out if out is not None else np.zeros(out_shape, np.int32)
    probs = prob_out
    if probs is None and return_probabilities:
        probs = np.zeros(out_shape, np.float32)
    per_plane = 1 if not tiled else _n_tiles(source, net, tile_size, dev)
    total = per_plane * source.n_planes
    offset = 0
    for z in range(source.n_planes):
        key = (z,) if source.is_stack else (Ellipsis,)
        # Write straight into numpy outputs; other arrays (zarr, dask) get a plane buffer copied at the end.
        prob_plane = None
        if probs is not None:
            prob_plane = _plane_view(probs, key, np.float32)
            if prob_plane is None:
                prob_plane = np.zeros(source.plane_shape, np.float32)
        maps = PlaneMaps(net.config["n_classes"], source.plane_shape, threshold, foreground_out=prob_plane)
        gen = iter_plane_probabilities(net, source, z, normalization, dev, tile_size=tile_size,
                                       tile_batch=tile_batch, amp=amp, tiled=tiled, sink=maps)
        for done in gen:
            yield Progress(z * per_plane + done, total,
                           f"plane {z + 1}/{source.n_planes}" if source.is_stack else "predicting tiles")
        plane = _plane_view(labels, key, np.int32)
        lab, n = maps_to_instances(maps, plane, min_size=min_size, watershed=watershed,
                                  min_distance=int(min_distance))
        del maps
        if source.is_stack and offset:  # ids stay unique across the stack
            lab[lab > 0] += offset
        offset += n
        if plane is None:
            labels[key] = lab.astype(labels.dtype, copy=False) if hasattr(labels, "dtype") else lab
        if probs is not None and _plane_view(probs, key, np.float32) is None:
            probs[key] = prob_plane
    return (labels, probs) if return_probabilities else labels


def _iter_at_diameter(loaded, source, image, channel_axis, diameter, out, prob_out, return_probabilities, kwargs):
    """:func:`iter_predict_unet` of an image rescaled to the model's object size (``diameter``), plane by plane."""
    from skimage.transform import resize

    from ..diameter import iter_predict_at_diameter, model_diameter

    if out is not None or prob_out is not None:
        raise ValueError("diameter= rescales images read whole; with out=/prob_out= arrays (large images), "
                         "predict without it.")
    arr = np.asarray(image)
    if channel_axis is not None:
        arr, channel_axis = np.moveaxis(arr, channel_axis, -1), -1
    planes = arr if source.is_stack else arr[None]
    size = model_diameter(loaded[1])

    def iter_one(small):
        return (yield from iter_predict_unet(loaded, small, channel_axis=channel_axis,
                                             return_probabilities=return_probabilities, **kwargs))

    labels = np.zeros(source.out_shape, np.int32)
    probs = np.zeros(source.out_shape, np.float32) if return_probabilities else None
    offset = 0
    for z, plane in enumerate(planes):
        lab, prob, _ = yield from iter_predict_at_diameter(iter_one, plane, size, diameter)
        lab = np.asarray(lab, np.int32)
        key = (z,) if source.is_stack else (Ellipsis,)
        labels[key] = np.where(lab > 0, lab + offset, 0)
        offset += int(lab.max(initial=0))
        if probs is not None:
            probs[key] = resize(prob, lab.shape, order=1, preserve_range=True)
    return (labels, probs) if return_probabilities else labels


def _plane_view(arr, key, dtype):
    """``arr[key]`` as a writable view if ``arr`` is a C-contiguous numpy array of ``dtype``, else None."""
    if isinstance(arr, np.ndarray) and arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.writeable:
        return arr[key]
    return None


def predict_unet(model, image, **kwargs):
    """Predict cell instances with a trained U-Net, tile by tile.

    Parameters
    ----------
    model : str, Path or dict
        A U-Net checkpoint (file or loaded dict).
    image : array_like
        numpy, zarr or dask array: ``YX``, ``YXC``, ``ZYX`` stack (predicted plane by plane) or ``ZYXC``.
    channel_axis : int, optional
        Channel axis of a multichannel image (inferred from the model's channel count otherwise).
    device : str
        ``"auto"`` (CUDA, MPS, then CPU), ``"cpu"``, ``"cuda"``, ...
    tile_size : int, optional
        Largest side of the square tiles fed to the network, a multiple of ``2**depth`` (default
        1024); tiles are shrunk to cover the image evenly. Each tile overlaps its neighbours by the
        network's receptive margin, which is discarded, so tiled and whole-image results agree away
        from the image border.
    tile_batch : int, optional
        Tiles per forward pass (1 on a CPU, 4 on CUDA).
    threshold : float
        Foreground probability threshold.
    min_size : int
        Smallest instance kept, pixels.
    watershed : bool
        Split touching cells with a distance-transform watershed (see :func:`probabilities_to_instances`).
    min_distance : int
        Watershed only: the smallest distance, in pixels, between two seeds of the split (the peaks of the
        distance to the background). About half a cell's diameter keeps one seed per round cell; smaller
        values cut irregular cells into pieces (default 4).
    return_probabilities : bool
        Also return the foreground probability map (float32, shape of the labels).
    out, prob_out : array_like, optional
        Arrays (e.g. zarr) to write labels / probabilities into, plane by plane; memory then stays
        bounded by one tile, one plane's labels and compact maps (1 byte per pixel for a two-class model,
        6 for a three-class one) and one batch of connected components being split.
    amp : bool
        Mixed precision on CUDA (ignored elsewhere).
    diameter : float or "auto", optional
        The objects' diameter in the image, pixels: the image is rescaled so they are as large as those the
        model was trained on (``training["diameter"]`` in its checkpoint), predicted, and the labels resized
        back. ``"auto"`` estimates it (:func:`~napari_segsuite.core.diameter.iter_predict_at_diameter`).
        None (default): the image's own scale. A stack is rescaled plane by plane; ``min_size`` then counts
        pixels at the model's scale.

    Returns
    -------
    labels : ndarray of int32 (or ``out``)
        Instances, 0 = background; on a stack, ids are unique across planes.
    probabilities : ndarray of float32 (or ``prob_out``)
        Only with ``return_probabilities=True``.

    Raises
    ------
    ValueError
        If the image does not match the model (channels), is empty, has NaN, or the tile size is invalid.

    Examples
    --------
    >>> from napari_segsuite.core import load_sample, sample_path
    >>> image, _ = load_sample("nuclei_test")
    >>> labels = predict_unet(sample_path("unet_nuclei.pt"), image, device="cpu")  # doctest: +SKIP
    """
    return run(iter_predict_unet(model, image, **kwargs))


def predict_probabilities(model, image, *, device="cpu", tiled: bool = True, **kwargs) -> np.ndarray:
    """Class probabilities ``(n_classes, Y, X)`` of a single 2D image (tiled or in one pass)."""
    net, ckpt, dev = model if isinstance(model, tuple) else load_unet(model, device)
    source = PlaneSource(image, in_channels=net.config["in_channels"], channel_axis=kwargs.pop("channel_axis", None),
                         convert=kwargs.pop("convert", None))
    gen = iter_plane_probabilities(net, source, 0, ckpt["normalization"], dev, tiled=tiled, **kwargs)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
