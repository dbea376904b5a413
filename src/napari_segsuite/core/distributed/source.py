"""Inputs of the distributed predictor: OME-Zarr images (NGFF 0.4 and 0.5, level 0), plain zarr arrays,
and TIFF files (a file, a folder of them or a list).

A :class:`ZarrSource` is small and picklable: workers reopen the array from its path and read only the
region of their block. An :class:`~.arraysource.ArraySource` holds an array object instead (a zarr or
dask array, as a napari layer holds it) and reads it the same way, block by block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ZarrSource", "SourceAxes", "open_source", "tiff_files"]

_TIFF = (".tif", ".tiff")


class SourceAxes:
    """What every source derives from its ``axes`` and ``shape``, and how it reads one block."""

    @property
    def outer_axes(self) -> str:
        """Axes other than channels, y and x (each index of them is one plane)."""
        return "".join(a for a in self.axes if a not in "cyx")

    @property
    def outer_shape(self) -> tuple:
        return tuple(self.shape[self.axes.index(a)] for a in self.outer_axes)

    @property
    def plane_shape(self) -> tuple:
        return self.shape[self.axes.index("y")], self.shape[self.axes.index("x")]

    @property
    def n_channels(self) -> int:
        return self.shape[self.axes.index("c")] if "c" in self.axes else 1

    @property
    def label_axes(self) -> str:
        """Axes of the label image: the input's without channels."""
        return self.axes.replace("c", "")

    def read(self, plane: tuple, rows: slice, cols: slice, array=None) -> np.ndarray:
        """Read ``(Y, X)`` (gray) or ``(C, Y, X)`` of one plane; ``rows``/``cols`` may have a step."""
        array = self.open() if array is None else array
        outer = dict(zip(self.outer_axes, plane))
        index = tuple(
            outer[a] if a in outer else rows if a == "y" else cols if a == "x" else slice(None)
            for a in self.axes
        )
        block = np.asarray(array[index])
        if "c" in self.axes:
            kept = [a for a in self.axes if a in "cyx"]
            block = np.moveaxis(block, kept.index("c"), 0)
        return block


@dataclass(frozen=True)
class ZarrSource(SourceAxes):
    """A zarr array read block by block.

    Attributes
    ----------
    store : str
        Path of the zarr store (group or array).
    key : str
        Path of the array inside the store (``""`` when the store is the array).
    axes : str
        Axis names in storage order, from ``"tczyx"``; ``y`` and ``x`` are always there.
    shape : tuple of int
    dtype : str
    scale : tuple of float or None
        Level 0's pixel size per axis (the OME-Zarr ``scale`` transformation), carried to the output.
    unit : str or None
        The space axes' unit, if the metadata gives one.
    translate : tuple of float or None
        Level 0's origin per spatial axis (written as the output's NGFF ``translation``).
    """

    store: str
    key: str
    axes: str
    shape: tuple
    dtype: str
    scale: tuple | None = None
    unit: str | None = None
    translate: tuple | None = None

    def open(self):
        import zarr

        node = zarr.open(store=self.store, mode="r")
        return node[self.key] if self.key else node

    def record(self) -> dict:
        """The input's part of a job record (what a resumed job must find again)."""
        return {
            "store": str(Path(self.store).resolve()),
            "key": self.key,
            "axes": self.axes,
            "shape": list(self.shape),
        }


def _ngff_level0(group, path: str):
    attrs = dict(group.attrs)
    ome = attrs.get("ome", attrs)
    if "multiscales" not in ome:
        return None
    try:
        multiscale = ome["multiscales"][0]
        key = multiscale["datasets"][0]["path"]
        axes = "".join((ax["name"] if isinstance(ax, dict) else ax).lower() for ax in multiscale["axes"])
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"{path}: broken OME-NGFF multiscales metadata ({exc!r} missing).") from exc
    scale = next(
        (
            tuple(float(v) for v in t["scale"])
            for t in multiscale["datasets"][0].get("coordinateTransformations", [])
            if t.get("type") == "scale"
        ),
        None,
    )
    units = [
        ax.get("unit") for ax in multiscale["axes"] if isinstance(ax, dict) and ax.get("type") == "space"
    ]
    return (
        key,
        axes,
        (scale if scale is not None and len(scale) == len(axes) else None),
        next((u for u in units if u), None),
    )


def checked_axes(axes, shape: tuple, dtype, where: str = "") -> str:
    """``axes`` (or the default for ``shape``) in lower case, checked against the shape and a numeric dtype."""
    axes = (axes or _default_axes(shape)).lower()
    if (len(axes) != len(shape) or "y" not in axes or "x" not in axes or set(axes) - set("tczyx")
            or len(set(axes)) != len(axes)):
        raise ValueError(f"{where}axes {axes!r} do not fit the shape {shape}; use distinct names from 'tczyx' "
                         "including 'y' and 'x'.")
    if np.dtype(dtype).kind not in "biuf":
        raise ValueError(f"{where}expected a numeric image, got dtype {dtype}.")
    return axes


def _default_axes(shape) -> str:
    if len(shape) == 2:
        return "yx"
    if len(shape) == 3:
        return "yxc" if shape[-1] in (3, 4) and shape[0] > 4 else "zyx"
    if len(shape) == 4:
        return "zyxc" if shape[-1] in (3, 4) else "czyx"
    raise ValueError(f"a zarr array of shape {shape}: give its axes (e.g. axes='tczyx').")


def open_source(path, axes: str | None = None) -> ZarrSource:
    """Describe a zarr input: an OME-Zarr image (level 0 is read) or a plain zarr array.

    An array object (a zarr or dask array, as a napari layer holds it) is described by
    :func:`~.arraysource.array_source` instead.

    Parameters
    ----------
    path : str or Path
        The ``.zarr`` / ``.ome.zarr`` folder.
    axes : str, optional
        Axis names of a plain array (default ``yx``, ``zyx``, ``yxc`` by shape); OME-Zarr has its own.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If it is not a zarr array or NGFF image, or its axes lack ``y`` and ``x``.
    """
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder.")
    try:
        node = zarr.open(store=str(path), mode="r")
    except Exception as exc:  # zarr raises several types for a folder that is not zarr
        raise ValueError(f"{path}: not a zarr array or OME-Zarr image ({exc}).") from exc
    key, scale, unit = "", None, None
    if isinstance(node, zarr.Group):
        found = _ngff_level0(node, str(path))
        if found is None:
            raise ValueError(
                f"{path}: a zarr group without OME-NGFF multiscales metadata; "
                "give the path of the array itself or an OME-Zarr image."
            )
        key, axes, scale, unit = found
        node = node[key]
    shape = tuple(int(s) for s in node.shape)
    axes = checked_axes(axes, shape, node.dtype, f"{path}: ")
    return ZarrSource(str(path), key, axes, shape, str(node.dtype), scale, unit)


def tiff_files(inputs) -> list[Path] | None:
    """The TIFF files of ``inputs`` (a file, a folder of them or a list), or None if it is not TIFF input."""
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    files = []
    for item in map(Path, items):
        if item.is_dir() and not any((item / m).exists() for m in ("zarr.json", ".zgroup", ".zarray")):
            files += sorted(p for p in item.iterdir() if p.suffix.lower() in _TIFF)
        elif item.suffix.lower() in _TIFF:
            if not item.exists():
                raise FileNotFoundError(f"{item}: no such file.")
            files.append(item)
        else:
            return None
    if not files:
        raise ValueError(f"{inputs}: no .tif/.tiff files found.")
    return files
