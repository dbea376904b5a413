"""Adapters between napari layers and the arrays core functions take."""

from __future__ import annotations

import numpy as np

__all__ = ["unwrap", "layers_of_type", "image_data", "labels_data", "spatial_kwargs", "current_plane", "layer_in_viewer",
           "reset_layer_choices"]


def image_data(layer) -> tuple[np.ndarray, int | None]:
    """Return ``(array, channel_axis)`` for an Image layer (``channel_axis=-1`` for RGB layers).

    Raises
    ------
    ValueError
        If ``layer`` is not an Image layer or holds NaN only.
    """
    data = _checked_layer_data(layer, "Image")
    return data, (-1 if layer.rgb else None)


def labels_data(layer) -> np.ndarray:
    """Return the array of a Labels layer (checked by the caller with ``core.labels.as_labels``)."""
    return _checked_layer_data(layer, "Labels")


def _checked_layer_data(layer, kind: str) -> np.ndarray:
    """The (first-scale) array of ``layer``, or a ValueError saying which kind of layer to choose."""
    import napari.layers

    if layer is None:
        raise ValueError(f"choose {'an' if kind == 'Image' else 'a'} {kind} layer first.")
    if not isinstance(layer, getattr(napari.layers, kind)):
        article = "an" if kind == "Image" else "a"
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__} layer; choose {article} {kind} layer.")
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return np.asarray(data)


def layers_of_type(viewer, kind: str) -> list:
    """The viewer's layers of one kind (``"Image"``, ``"Labels"``, ``"Shapes"``, ``"Points"``), in order."""
    import napari.layers

    cls = getattr(napari.layers, kind)
    return [layer for layer in viewer.layers if isinstance(layer, cls)]


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


def reset_layer_choices(*combos) -> None:
    """Refresh layer ComboBoxes, keeping each one's selected layer selected even if it was renamed.

    magicgui keeps a ComboBox's selection by its *text*: after the selected layer is renamed, the next
    ``reset_choices()`` silently selects the first layer of the list instead, and the next run would
    read the wrong layer. Call this instead of ``combo.reset_choices()`` in a widget's refresh.
    """
    for combo in combos:
        current = combo.value
        combo.reset_choices()
        if current is None or unwrap(combo.value) is unwrap(current):
            continue
        target = unwrap(current)
        for choice in combo.choices:
            if choice is not None and unwrap(choice) is target:
                combo.value = choice
                break
