"""The ``segsuite`` command line: the parser and ``main``. Each group of verbs registers itself from its own
module; napari is imported only by ``segsuite demo`` (GUI)."""

from __future__ import annotations

import sys
import warnings

from napari_segsuite import __version__

from . import cluster, demo, evaluate, export, grabcut, predict, superpixels, train, weightmap
from .common import CLIError, Parser, one_line

__all__ = ["main", "build_parser"]

#: the verb modules, in the order ``segsuite --help`` lists them
VERBS = (demo, evaluate, weightmap, grabcut, export, superpixels, cluster, train, predict)

def build_parser() -> Parser:
    """The ``segsuite`` parser with every verb registered (each module's ``register(subparsers)``)."""
    parser = Parser(prog="segsuite", description="napari-segsuite: segmentation and training data tools")
    parser.add_argument("--version", action="version", version=f"napari-segsuite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in VERBS:
        verb.register(sub)
    return parser


def _notes_as_lines(default_show):
    """``warnings.showwarning`` that prints the core's notices to the user (a channel conversion, ...) as one
    ``note:`` line on stderr, and leaves every other warning to ``default_show``."""
    from napari_segsuite.core.channels import ChannelConversion

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ChannelConversion):
            print(f"note: {message}", file=sys.stderr)
        else:
            default_show(message, category, filename, lineno, file, line)

    return show


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _notes_as_lines(warnings.showwarning)
            return int(args.func(args) or 0)
    except (CLIError, ValueError, OSError) as exc:  # OSError: missing, unwritable, full disk, ...
        print(f"segsuite {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"segsuite {args.command}: error: not enough memory for this input.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"segsuite {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
