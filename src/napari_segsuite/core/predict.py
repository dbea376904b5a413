"""Predict with any napari-segsuite checkpoint: the model kind is read from the file."""

from __future__ import annotations

import importlib

__all__ = ["predict_checkpoint", "iter_predict_checkpoint", "iter_predict_stack", "BACKENDS"]

#: checkpoint kind -> (module, generator function name). The generator takes (checkpoint, image, **kw),
#: yields Progress and returns labels (or (labels, probabilities) with return_probabilities=True).
BACKENDS = {
    "unet": ("napari_segsuite.core.unet.infer", "iter_predict_unet"),
    "maskrcnn": ("napari_segsuite.core.maskrcnn", "iter_predict_maskrcnn"),
}


def iter_predict_checkpoint(path, image, **kwargs):
    """Generator form of :func:`predict_checkpoint`."""
    from .training.checkpoint import open_checkpoint

    ckpt = open_checkpoint(path)
    kind = ckpt["kind"]
    if kind not in BACKENDS:
        raise ValueError(f"{path}: unknown model kind {kind!r}; this version knows {', '.join(BACKENDS)}.")
    module_name, func_name = BACKENDS[kind]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{path}: {kind!r} models cannot be run by this installation ({exc}).") from exc
    result = yield from func(ckpt, image, **kwargs)
    return result


def iter_predict_stack(iter_predict, model, image, *, channel_axis=None, **kwargs):
    """Run a backend's prediction generator on an image with any number of stack axes.

    Parameters
    ----------
    iter_predict : callable
        A backend generator ``iter_predict(model, image, channel_axis=..., **kwargs)``
        (e.g. ``iter_predict_unet``), which takes one stack axis at most.
    model : dict
        The checkpoint.
    image : array_like
        numpy, dask or zarr, as a viewer layer holds it: read by the backend, in the caller's thread.
    channel_axis : int or None
    **kwargs
        Passed to ``iter_predict``.

    Returns
    -------
    object
        What ``iter_predict`` returns, with a gray ``TZYX`` (or longer) image's stack axes restored
        (it runs as one stack of its planes, :func:`~napari_segsuite.core.layout.fold_stack_axes`).
    """
    from .layout import fold_stack_axes, unfold_stack_axes

    flat, lead = fold_stack_axes(image, channel_axis)
    result = yield from iter_predict(model, flat, channel_axis=channel_axis, **kwargs)
    return unfold_stack_axes(result, lead)


def predict_checkpoint(path, image, **kwargs):
    """Predict instance labels for ``image`` with the model stored in ``path``, whatever its kind.

    Parameters
    ----------
    path : str, Path or dict
        A checkpoint written by napari-segsuite (``"kind"``: ``"unet"`` or ``"maskrcnn"``).
    image : array_like
        The image (numpy, zarr or dask).
    **kwargs
        Passed to the backend (``device``, ``tile_size``, ``return_probabilities``, ...).

    Returns
    -------
    ndarray
        Instance labels (or what the backend returns with the given options).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a napari-segsuite checkpoint or its kind is unknown.
    """
    from .progress import run

    return run(iter_predict_checkpoint(path, image, **kwargs))
