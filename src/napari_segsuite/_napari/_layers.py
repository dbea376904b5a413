"""Adapters between napari layers and the arrays core functions take."""

from __future__ import annotations

import numpy as np

__all__ = ["unwrap", "image_data", "labels_data", "spatial_kwargs", "current_plane", "layer_in_viewer"]


def image_data(layer) -> tuple[np.ndarray, int | None]:
    """Return ``(array, channel_axis)`` for an Image layer (``channel_axis=-1`` for RGB layers).

    Raises
    ------
    ValueError
        If ``layer`` is not an Image layer or holds NaN only.
    """
    from napari.layers import Image

    if layer is None:
        raise ValueError("choose an Image layer first.")
    if not isinstance(layer, Image):
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__} layer; choose an Image layer.")
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    data = np.asarray(data)
    return data, (-1 if layer.rgb else None)


def labels_data(layer) -> np.ndarray:
    """Return the array of a Labels layer (checked by the caller with ``core.labels.as_labels``)."""
    from napari.layers import Labels

    if layer is None:
        raise ValueError("choose a Labels layer first.")
    if not isinstance(layer, Labels):
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__} layer; choose a Labels layer.")
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return np.asarray(data)


def spatial_kwargs(layer, ndim: int | None = None) -> dict:
    """``scale`` and ``translate`` of ``layer`` for a new layer of ``ndim`` spatial dims (last dims kept)."""
    scale = np.asarray(layer.scale, dtype=float)
    translate = np.asarray(layer.translate, dtype=float)
    if ndim is not None:
        scale, translate = scale[-ndim:], translate[-ndim:]
    return {"scale": tuple(scale), "translate": tuple(translate)}


def current_plane(viewer, layer) -> tuple[int, ...]:
    """Indices of the plane shown for ``layer`` on its leading (non-displayed) axes."""
    n_lead = layer.ndim - 2 - (1 if getattr(layer, "rgb", False) else 0)
    if n_lead <= 0:
        return ()
    world = np.asarray(viewer.dims.point)
    data_pt = layer.world_to_data(world[-layer.ndim:] if len(world) >= layer.ndim else world)
    shape = layer.data.shape
    return tuple(int(np.clip(round(float(v)), 0, shape[i] - 1)) for i, v in enumerate(data_pt[:n_lead]))


def unwrap(obj):
    """The real object behind napari's PublicOnlyProxy (plugin widgets get proxies of viewer and layers)."""
    return getattr(obj, "__wrapped__", obj)


def layer_in_viewer(viewer, layer) -> bool:
    """True if ``layer`` is still one of the viewer's layers (it may be deleted while a job runs).

    Compares the objects behind napari's proxies: every attribute access on a proxied viewer returns a
    new proxy, so an identity test on proxies is always False.
    """
    if layer is None:
        return False
    target = unwrap(layer)
    return any(unwrap(lay) is target for lay in viewer.layers)
