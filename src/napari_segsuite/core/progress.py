"""The progress protocol shared by every long-running core function.

Long work is written as a generator that yields :class:`Progress` events and *returns* its result::

    def iter_something(...):
        for i, item in enumerate(items):
            ...
            yield Progress(i + 1, len(items), "did item")
        return result

Scripts and the CLI call :func:`run` to drain it (optionally with a terminal bar); napari widgets run
the same generator in a thread worker, which shows a progress bar and cancels at the next ``yield``.
Core code never sees a Qt object.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Progress", "run", "Cancelled", "terminal_progress"]

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress event.

    Attributes
    ----------
    step : int
        Work units done so far.
    total : int or None
        Work units in all (None when unknown).
    message : str
        Short human-readable status.
    info : dict
        Extra values for live readouts (for example ``{"loss": 0.31, "val_ap50": 0.8}``).
    """

    step: int
    total: int | None = None
    message: str = ""
    info: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.step / self.total)


class Cancelled(RuntimeError):
    """Raised by :func:`run` when the callback asks to stop."""


def run(gen: Generator[Progress, Any, T], progress: Callable[[Progress], Any] | None = None) -> T:
    """Drain a progress generator and return its result.

    Parameters
    ----------
    gen : generator
        A generator yielding :class:`Progress` events and returning a result.
    progress : callable, optional
        Called with every event. If it returns ``False`` the generator is closed (its ``finally``
        blocks run, so nothing half-written is left) and :class:`Cancelled` is raised.

    Returns
    -------
    object
        The generator's return value.
    """
    try:
        while True:
            event = next(gen)
            if progress is not None and progress(event) is False:
                gen.close()
                raise Cancelled("cancelled")
    except StopIteration as stop:
        return stop.value


def terminal_progress(stream=None, width: int = 30) -> Callable[[Progress], None]:
    """A progress callback that draws a one-line bar on a terminal (stderr by default)."""
    stream = stream or sys.stderr
    interactive = getattr(stream, "isatty", lambda: False)()
    last = {"text": None}

    def callback(event: Progress) -> None:
        frac = event.fraction
        if frac is None:
            text = f"{event.step} {event.message}"
        else:
            filled = int(round(frac * width))
            text = f"[{'#' * filled}{'.' * (width - filled)}] {event.step}/{event.total} {event.message}"
        if interactive:
            stream.write("\r" + text[:120].ljust(120))
            if frac is not None and frac >= 1.0:
                stream.write("\n")
        elif text != last["text"] and (frac is None or frac >= 1.0
                                       or event.step % max(1, (event.total or 1) // 10) == 0):
            stream.write(text + "\n")
        last["text"] = text
        stream.flush()

    return callback
