"""Reading and writing image files safely (atomic writes, clear errors)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["read_image", "write_tiff", "atomic_path", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy")

_UMASK = os.umask(0)  # read once at import (main thread); os.umask is process-wide
os.umask(_UMASK)


def read_image(path) -> np.ndarray:
    """Read a TIFF, PNG/JPEG or ``.npy`` file into a numpy array.

    Channels come last, as everywhere in this project: an OME-TIFF or ImageJ TIFF whose metadata puts the
    channel axis elsewhere (``CYX``, ``ZCYX``) is returned as ``YXC`` / ``ZYXC``. Plain TIFFs are returned
    as stored (a ``(3, Y, X)`` array there is a stack of three planes: their axes are not recorded).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be read as an image (corrupt, truncated or of another kind).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file.")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected an image file.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            return _read_tiff_channels_last(path)
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        import skimage.io

        return np.asarray(skimage.io.imread(path))
    except (FileNotFoundError, MemoryError):
        raise
    except Exception as exc:  # corrupt files raise all sorts of things
        raise ValueError(f"{path}: could not be read as an image ({type(exc).__name__}: {exc}).") from exc


def _read_tiff_channels_last(path) -> np.ndarray:
    """The first series of a TIFF; channels moved last when OME or ImageJ metadata names a ``C`` axis."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes if (tif.is_ome or tif.is_imagej) else ""
    if len(axes) == data.ndim and "C" in axes[:-1] and "S" not in axes and axes.endswith("YX"):
        data = np.moveaxis(data, axes.index("C"), -1)
    return data


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Nothing half-written is ever left under the final name: on error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_tiff(path, data: np.ndarray, *, compression: str | None = "zlib", **kwargs) -> Path:
    """Write ``data`` to a TIFF file atomically (temporary name, then rename).

    Parameters
    ----------
    path : str or Path
        Destination.
    data : numpy.ndarray
        Array to write; dtype and shape are kept exactly.
    compression : str or None
        ``"zlib"`` (lossless, default) or None.
    """
    import tifffile

    path = Path(path)
    extra = dict(kwargs)
    if compression:
        extra.setdefault("compression", compression)
        if compression == "zlib":
            extra.setdefault("compressionargs", {"level": 6})
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(tmp, np.asarray(data), **extra)
    except PermissionError as exc:
        raise PermissionError(f"{path}: cannot write here ({exc.strerror}); choose another folder.") from exc
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise OSError(exc.errno, f"{path}: the disk is full; nothing was written.") from exc
        raise
    return path
