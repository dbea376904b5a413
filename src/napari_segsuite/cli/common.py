"""What every ``segsuite`` verb shares: the user-error type, the parser, the overwrite guard, label-file
reading and the parsing of numbers and channel axes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


__all__ = ["CLIError", "Parser", "refuse_overwriting_inputs", "read_label_file", "one_line", "parse_numbers",
           "add_channel_axis_argument", "channel_axis_arg", "parse_class_weights"]

class CLIError(Exception):
    """A user error to print as one line (exit code 2)."""


def refuse_overwriting_inputs(inputs, outputs) -> None:
    """Raise a CLIError when an output path names one of the input files (or the same file by a link).

    A careless ``-o`` equal to the input would replace the user's image or masks with the result
    (a ``.zarr`` input is a folder: it counts too).

    Parameters
    ----------
    inputs, outputs : iterable of Path or None
        Files read and files about to be written (None entries are skipped).
    """
    import os

    existing = [Path(p) for p in inputs if p is not None and Path(p).exists()]
    for out in (Path(p) for p in outputs if p is not None):
        # a/../x does not "exist" while a is missing, yet writing it creates a and lands on x
        target = out if out.exists() else Path(os.path.normpath(os.path.abspath(out)))
        if target.exists() and any(os.path.samefile(target, src) for src in existing):
            raise CLIError(f"{out}: is an input of this command; give another output name "
                           "(the input is never overwritten).")


def read_label_file(path: Path):
    """Read a label image for a CLI verb; refuse a colour/multichannel image, note one with no background.

    A careless user passes the intensity image where the masks belong: a ``(Y, X, 3)`` RGB file would be
    taken as a 3-plane-wide volume and a gray image as thousands of one-value "instances".
    """
    from napari_segsuite.core.io import read_image
    from napari_segsuite.core.layout import looks_channels_last

    labels = read_image(path)
    if labels.ndim == 3 and looks_channels_last(labels.shape):
        raise CLIError(f"{path}: looks like a colour or multichannel image (shape {labels.shape}), not a "
                       "label image (0 = background, 1..N = instances).")
    if labels.size and labels.dtype.kind in "uif" and not (labels == 0).any():
        print(f"note: {path} has no background (0) pixels; is it an intensity image rather than labels?",
              file=sys.stderr)
    return labels


class DefaultsFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, read from the parser (one source: the value the
    option really gets). Flags (default False) and options without a default (None) show none."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        hidden = default is None or default is False or default is argparse.SUPPRESS  # identity: 0 is shown
        if "%(default)" in text or hidden or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (``segsuite VERB: error: ...``), exit code 2, and defaults in help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def one_line(exc: BaseException, limit: int = 500) -> str:
    """The message of ``exc`` on one line (library messages can span many), at most ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def parse_numbers(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated numbers, got {text!r}.") from None


def add_channel_axis_argument(parser) -> None:
    """``--channel-axis auto|none|N``, the same option with the same rule in every verb that reads images."""
    parser.add_argument("--channel-axis", default="auto", metavar="auto|none|N",
                        help="axis of the channels; 'none': gray; 'auto': the last axis of a 3D image when it is "
                             "short (1-4 entries) and much shorter than the others, as in 512x512x3")


def channel_axis_arg(value, image) -> int | None:
    """The channel axis ``--channel-axis`` means for ``image`` (anything with ``.ndim`` and ``.shape``).

    ``"auto"`` follows :func:`napari_segsuite.core.layout.looks_channels_last`: a 3D array whose last axis is
    short (RGB, two channels) is ``(Y, X, C)``; anything else has no channel axis.
    """
    from napari_segsuite.core.layout import looks_channels_last

    if value is None:
        return None
    if isinstance(value, int):
        return value
    if value == "auto":
        return -1 if image.ndim == 3 and looks_channels_last(image.shape) else None
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise CLIError(f"--channel-axis must be an integer, 'none' or 'auto', got {value!r}.") from None


def parse_class_weights(text: str):
    """``--class-weights``: ``balanced``, ``none`` or two numbers ``BG,FG``."""
    low = text.strip().lower()
    if low == "balanced":
        return "balanced"
    if low == "none":
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise CLIError(f"--class-weights: give balanced, none or two numbers BG,FG; got {text!r}.")
    return values
