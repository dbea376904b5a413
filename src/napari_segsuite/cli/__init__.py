"""The ``segsuite`` command line (also ``python -m napari_segsuite``). Calls core only.

- :mod:`.main`: the parser and ``main``;
- :mod:`.common`: the user-error type, the overwrite guard, label-file reading, number and channel-axis parsing;
- one module per group of verbs (``demo``, ``evaluate``, ``weightmap``, ``grabcut``, ``export``,
  ``superpixels``, ``train``, ``predict``), each with ``register(subparsers)``.
"""

from .common import CLIError, read_label_file, refuse_overwriting_inputs
from .main import build_parser, main

__all__ = ["main", "build_parser", "CLIError", "refuse_overwriting_inputs", "read_label_file"]
