"""Fitting an image's channels to a model's: refused with what to do, or converted the way the user chose.

A model trained on gray nuclei, given an H&E patch averaged to gray, outlines the gaps between the nuclei
(dark stain is low intensity, the opposite of fluorescence). So a colour image never reaches a gray model
silently: it is refused with the ways out, unless its channels are equal (a gray image stored as RGB, converted
without loss) or the caller asks for a conversion:

- ``"hematoxylin"``: the hematoxylin stain of an H&E (or any hematoxylin-stained) RGB image by colour
  deconvolution (Ruifrok & Johnston 2001, :func:`skimage.color.rgb2hed`): nuclei come out bright on a dark
  background, as in a fluorescence nuclei image;
- ``"gray"``: the mean of the channels (for fluorescence rendered in colour, where brighter means more signal).

Conversions are announced with a :class:`ChannelConversion` warning, which the napari widgets show as a
notification and the CLI prints as a note.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["CONVERSIONS", "ChannelConversion", "fit_channels", "announce_conversion", "hematoxylin"]

#: what ``convert=`` may ask for when a colour image meets a gray model
CONVERSIONS = ("hematoxylin", "gray")

#: channels count as equal (a gray image stored as RGB) when they differ by at most this fraction of the range
_EQUAL_TOLERANCE = 1e-3


class ChannelConversion(UserWarning):
    """An image was converted to the channels the model was trained on (the message says how)."""


def _check_convert(convert) -> None:
    if convert is not None and convert not in CONVERSIONS:
        raise ValueError(f"unknown channel conversion {convert!r}; choose one of {', '.join(CONVERSIONS)} (or None).")


#: hematoxylin optical density of the darkest 8-bit stain (a channel at 1/255), mapped to the top of a 16-bit range
_DARKEST_OD = float(np.log(255.0) / np.log(1e6))


def hematoxylin(rgb_cyx: np.ndarray) -> np.ndarray:
    """The hematoxylin stain of an RGB image as a bright-nuclei gray image, ``(3 or 4, Y, X)`` -> ``(1, Y, X)``.

    The hematoxylin optical density (colour deconvolution, :func:`skimage.color.rgb2hed`) is scaled so unstained
    background is 0 and the darkest stain an 8-bit image can hold is 65535: the range of the 16-bit fluorescence
    images the shipped models were trained on (their normalisation ignores contrast below a minimum range).

    Examples
    --------
    >>> white = np.full((3, 2, 2), 255, np.uint8)        # unstained background
    >>> purple = white.copy(); purple[:, 0, 0] = (60, 40, 120)   # a hematoxylin-stained pixel
    >>> h = hematoxylin(purple)
    >>> h.shape, bool(h[0, 0, 0] > h[0, 1, 1])
    ((1, 2, 2), True)
    """
    from skimage.color import rgb2hed

    rgb = np.moveaxis(np.asarray(rgb_cyx)[:3], 0, -1)
    if rgb.dtype.kind == "f" and rgb.size and float(np.nanmax(rgb)) > 1.0:
        rgb = rgb / 255.0  # float images in 0..255
    od = rgb2hed(rgb)[..., 0]
    return np.ascontiguousarray(np.clip(od / _DARKEST_OD, 0.0, 1.0)[None] * 65535.0, dtype=np.float32)


def _channels_equal(block: np.ndarray) -> bool:
    first = block[:1].astype(np.float32)
    span = float(np.ptp(first)) if first.size else 0.0
    return bool(np.all(np.abs(block[1:3].astype(np.float32) - first) <= _EQUAL_TOLERANCE * max(span, 1.0)))


def fit_channels(block: np.ndarray, in_channels: int, convert: str | None = None, what: str = "image") -> np.ndarray:
    """Bring a channels-first block ``(C, Y, X)`` to the model's ``in_channels``.

    Parameters
    ----------
    block : ndarray
        ``(C, Y, X)`` image data.
    in_channels : int
        Channels the model was trained on.
    convert : {None, "hematoxylin", "gray"}, optional
        How a colour (3 or 4 channel) image may become gray for a one-channel model. None: only an image
        whose channels are equal (gray stored as RGB) is accepted; any other colour image is refused.
    what : str, optional
        Name of the image in messages.

    Returns
    -------
    ndarray
        ``(in_channels, Y, X)``; the block itself when the channels already match.

    Raises
    ------
    ValueError
        If the channels do not match and no allowed conversion applies; the message says what to do.

    Examples
    --------
    >>> import numpy as np
    >>> gray_as_rgb = np.stack([np.arange(4.0).reshape(2, 2)] * 3)
    >>> fit_channels(gray_as_rgb, 1).shape               # equal channels: gray already
    (1, 2, 2)
    >>> colour = np.random.default_rng(0).random((3, 2, 2))
    >>> bool(np.isclose(fit_channels(colour, 1, convert="gray")[0, 0, 0], colour[:, 0, 0].mean()))
    True
    >>> fit_channels(colour, 1)
    Traceback (most recent call last):
    ...
    ValueError: image: the model was trained on gray images and this image has colour (3 channels). ...
    """
    _check_convert(convert)
    channels = block.shape[0]
    if channels == in_channels:
        return block
    if in_channels == 1 and channels in (3, 4):
        if convert == "hematoxylin":
            return hematoxylin(block)
        if convert == "gray":
            return block[:3].astype(np.float32).mean(axis=0, keepdims=True)
        if _channels_equal(block):
            return block[:1]
        raise ValueError(
            f"{what}: the model was trained on gray images and this image has colour ({channels} channels). "
            "For H&E or other hematoxylin-stained tissue convert it to its hematoxylin channel (nuclei bright, "
            "'hematoxylin'); for fluorescence shown in colour use the channel mean ('gray'); or use a model "
            "trained on colour images.")
    raise ValueError(f"{what}: the model was trained on {in_channels}-channel images; this image has {channels} "
                     "channel(s). Give the channel axis if the channels are elsewhere, or use a model trained on "
                     "such images.")


def announce_conversion(convert: str | None, n_channels: int, in_channels: int) -> None:
    """Warn (:class:`ChannelConversion`) that a colour image will be converted for a gray model."""
    _check_convert(convert)
    if convert is None or n_channels == in_channels:
        return
    how = ("its hematoxylin channel (colour deconvolution; nuclei bright)" if convert == "hematoxylin"
           else "the mean of its channels")
    warnings.warn(ChannelConversion(f"the {n_channels}-channel image is given to the gray model as {how}."),
                  stacklevel=2)
