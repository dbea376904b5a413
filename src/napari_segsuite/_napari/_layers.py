"""Adapters between napari layers and the arrays core functions take."""

from __future__ import annotations

import numpy as np

__all__ = ["unwrap", "layers_of_type", "image_data", "labels_data", "editable_labels_data", "spatial_kwargs",
           "current_plane", "layer_in_viewer", "reset_layer_choices", "prediction_input", "ROLE_KEY",
           "NOT_DATA_ROLES", "set_role", "layer_role", "PREDICTION_SUFFIXES", "is_prediction"]

#: name endings of the prediction layers the model widgets add (layers saved and reopened lose their metadata)
PREDICTION_SUFFIXES = (" U-Net", " Mask R-CNN", " U-Net fine-tuned", " Mask R-CNN fine-tuned")


def is_prediction(layer) -> bool:
    """True if ``layer`` is a model's prediction added by this plugin (its role, or its name)."""
    if layer is None:
        return False
    return layer_role(layer) == "prediction" or str(layer.name).endswith(PREDICTION_SUFFIXES)


def image_data(layer) -> tuple:
    """Return ``(array, channel_axis)`` for an Image layer (``channel_axis=-1`` for RGB layers).

    The array is the layer's own data object, unread (numpy, dask or zarr; the first scale of a multiscale
    layer): the core job reads it in its worker thread, so a lazy layer is not loaded on the GUI thread.

    Raises
    ------
    ValueError
        If ``layer`` is not an Image layer, or is not RGB but its shape reads as channels last
        (:func:`napari_segsuite.core.layout.looks_channels_last`): napari then shows its rows as planes, and
        a backend would segment every ``row x channel`` plane of it.
    """
    from napari_segsuite.core.layout import looks_channels_last

    data = _checked_layer_data(layer, "Image", read=False)
    if not layer.rgb and data.ndim >= 3 and looks_channels_last(data.shape):
        n = data.shape[-1]
        raise ValueError(f"image {layer.name!r} has shape {data.shape}: its last axis ({n}) looks like colour "
                         f"channels, but the layer is not RGB, so napari shows {data.shape[-3]} planes of "
                         f"{data.shape[-2]} x {n} pixels. Add it again as RGB (viewer.add_image(data, rgb=True)) "
                         "or split the channels (viewer.add_image(data, channel_axis=-1)).")
    return data, (-1 if layer.rgb else None)


def labels_data(layer) -> np.ndarray:
    """Return the array of a Labels layer (checked by the caller with ``core.labels.as_labels``)."""
    return _checked_layer_data(layer, "Labels")


def editable_labels_data(layer) -> np.ndarray:
    """The array of a Labels layer that a widget paints into in place.

    Raises
    ------
    ValueError
        If ``layer`` is not a Labels layer, or its data is not an in-memory writable numpy array (a dask
        or zarr array, for example, where painting would change a temporary copy only).
    """
    data = _checked_layer_data(layer, "Labels")
    raw = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
    if not isinstance(raw, np.ndarray) or not raw.flags.writeable:
        kind = "read-only" if isinstance(raw, np.ndarray) else type(raw).__module__.split(".")[0]
        raise ValueError(f"Labels layer {layer.name!r} holds a {kind} array that cannot be painted in place; "
                         "choose another Labels layer or create a new one.")
    return data


def _checked_layer_data(layer, kind: str, read: bool = True):
    """The (first-scale) array of ``layer`` (a numpy array if ``read``, else as the layer holds it).

    Raises a ValueError saying which kind of layer to choose when ``layer`` is not one of ``kind``.
    """
    import napari.layers

    if layer is None:
        raise ValueError(f"choose {'an' if kind == 'Image' else 'a'} {kind} layer first.")
    if not isinstance(layer, getattr(napari.layers, kind)):
        article = "an" if kind == "Image" else "a"
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__} layer; choose {article} {kind} layer.")
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return np.asarray(data) if read else data


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


def prediction_input(viewer, layer, whole_stack: bool = True):
    """What a model widget predicts from an Image layer, and where its result goes.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
    layer : napari.layers.Image
    whole_stack : bool
        For a stack: every plane (True) or only the plane the viewer shows (False).

    Returns
    -------
    image : numpy.ndarray
        The layer's array, or its shown plane.
    channel_axis : int or None
        -1 for an RGB layer.
    place : callable
        ``place(result) -> (data, layer_kwargs)`` for a per-pixel result of ``image``'s spatial shape: the
        layer's scale and translate, and for one plane of a stack a ``(1, ..., 1, Y, X)`` array translated
        to that plane, so napari shows it on that plane only (a 2D layer would show on every plane).
        ``place.lead`` is that plane's index (``()`` otherwise), ``place.layer_kwargs`` the keywords.

    Raises
    ------
    ValueError
        As :func:`image_data`.
    """
    image, channel_axis = image_data(layer)
    spatial_ndim = image.ndim - (1 if channel_axis is not None else 0)
    lead = current_plane(viewer, layer) if spatial_ndim > 2 and not whole_stack else ()
    if lead:
        image = image[lead]
    kwargs = spatial_kwargs(layer, spatial_ndim)
    if lead:
        translate = [t + i * s for t, i, s in zip(kwargs["translate"], lead, kwargs["scale"])]
        kwargs["translate"] = (*translate, *kwargs["translate"][len(lead):])

    def place(result):
        if lead:  # a dask array stays unread
            result = (result if hasattr(result, "dask") else np.asarray(result))[(np.newaxis,) * len(lead)]
        return result, dict(kwargs)

    place.lead, place.layer_kwargs = lead, dict(kwargs)
    return image, channel_axis, place


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


#: ``layer.metadata`` key naming what a layer the plugin added is (the reader uses it for region masks too)
ROLE_KEY = "segsuite_role"
#: roles of layers that are not data to label or export: diagnostics, overlays, derived maps
NOT_DATA_ROLES = frozenset({"diagnostic", "superpixels", "weights", "probability", "preview", "scribbles"})


def set_role(layer, role: str):
    """Record in ``layer.metadata`` what the plugin added ``layer`` as (``"diagnostic"``, ``"region"``...)."""
    layer.metadata = {**dict(layer.metadata or {}), ROLE_KEY: role}
    return layer


def layer_role(layer) -> str | None:
    """The role :func:`set_role` recorded for ``layer``, None for a layer the user brought."""
    return (getattr(layer, "metadata", None) or {}).get(ROLE_KEY)
