"""Running core progress generators in napari thread workers, with a progress bar and Cancel.

Widgets own a :class:`JobControls` and call :meth:`JobControls.start`. Core code stays free of Qt: it
only yields :class:`napari_segsuite.core.progress.Progress` events and returns its result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from magicgui.widgets import Container, Label, ProgressBar, PushButton

__all__ = ["JobControls", "short_list"]

_CANCELLED = object()


def _drain(gen_func, args, kwargs, stop: threading.Event):
    """The worker's generator: re-yield the job's events, return its result.

    Cancel is checked each time the job yields. The job is then closed *in the worker thread*, so
    its ``finally``/``with`` blocks run at once (temporary files removed, thread-local state such as
    torch autocast restored where it was set). ``worker.quit()`` would instead leave the job
    suspended until garbage collection, with its half-written files on disk.
    """
    gen = gen_func(*args, **kwargs)
    try:
        while True:
            if stop.is_set():
                return _CANCELLED
            try:
                event = next(gen)
            except StopIteration as done:
                return done.value
            yield event
    finally:
        gen.close()


def short_list(names, n: int = 4) -> str:
    """The first ``n`` of ``names`` joined by commas, then how many there are in all (for notices)."""
    names = [str(v) for v in names]
    return ", ".join(names[:n]) + (f", ... ({len(names)} in all)" if len(names) > n else "")


class JobControls(Container):
    """Progress bar, status line and Cancel button for one background job at a time.

    Parameters
    ----------
    label : str
        Shown in the status line when idle.
    """

    def __init__(self, label: str = "ready"):
        self._bar = ProgressBar(value=0, min=0, max=1, label="")
        self._bar.visible = False
        self._status = Label(value=label)
        self._status.native.setWordWrap(True)  # a long error wraps instead of widening the dock over the canvas
        # ... across the dock's whole width (a wrapping QLabel otherwise picks a narrow width of its own and,
        # in a dock squeezed by another below it, gets clipped to half a line)
        from qtpy.QtWidgets import QSizePolicy

        self._status.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self._cancel = PushButton(text="Cancel", enabled=False)
        self._cancel.changed.connect(self.cancel)
        super().__init__(widgets=[self._bar, self._status, self._cancel], labels=False)
        self.worker = None
        self._stop = threading.Event()
        self.cancelled = False
        self.on_running_changed: list[Callable[[bool], None]] = []
        # The dock (and with it these Qt widgets) is deleted when the viewer closes, maybe mid-job: then
        # the job is stopped at its next event and no callback touches a deleted widget or a closed viewer.
        self._alive = True
        self.native.destroyed.connect(self._widget_destroyed)

    def _widget_destroyed(self, *_):
        self._alive = False
        self.cancelled = True
        self._stop.set()

    def _guard(self, callback):
        """Wrap a main-thread callback so it does nothing once the widgets are gone."""

        def guarded(*args):
            if not self._alive:
                self._stop.set()
                return None
            try:
                return callback(*args)
            except RuntimeError as exc:  # "wrapped C/C++ object ... has been deleted"
                if "deleted" not in str(exc):
                    raise
                self._widget_destroyed()
                return None

        return guarded

    @property
    def running(self) -> bool:
        return self.worker is not None

    @property
    def status(self) -> str:
        return self._status.value

    def set_status(self, text: str) -> None:
        self._status.value = text

    def start(self, gen_func, *args, on_returned: Callable | None = None, on_yielded: Callable | None = None,
              on_errored: Callable | None = None, on_finished: Callable | None = None, **kwargs):
        """Run ``gen_func(*args, **kwargs)`` (a core progress generator) in a thread worker.

        Callbacks run on the main thread. Errors become napari notifications. Returns the worker.

        Raises
        ------
        RuntimeError
            If a job is already running (the widget should disable its Run button meanwhile).
        """
        # superqt's worker (napari's thread worker base) rather than napari's create_worker: napari's
        # adds a notification with a traceback for every error and re-raises it in the event loop, on
        # top of ours. Here an error is one clear notification and the widget carries on.
        from superqt.utils import create_worker

        if self.worker is not None:
            raise RuntimeError("a job is already running; wait for it or press Cancel.")
        self.cancelled = False
        self._stop = threading.Event()
        worker = create_worker(_drain, gen_func, args, kwargs, self._stop, _start_thread=False,
                               _ignore_errors=True)
        self.worker = worker

        def yielded(event):
            total = getattr(event, "total", None)
            if total:
                self._bar.max = total
                self._bar.value = min(event.step, total)
            msg = getattr(event, "message", "")
            if msg:
                self._status.value = msg
            if on_yielded is not None:
                on_yielded(event)

        def returned(result):
            if self.cancelled or result is _CANCELLED:
                return
            self._status.value = "done"
            if on_returned is not None:
                try:
                    on_returned(result)
                except Exception as exc:  # a layer vanished, bad result: tell the user, stay usable
                    self._status.value = f"failed: {exc}"
                    self._notify_error(exc)

        def errored(exc):
            self._status.value = f"failed: {exc}"
            self._notify_error(exc)
            if on_errored is not None:
                on_errored(exc)

        def finished():
            self.worker = None
            self._bar.visible = False
            self._cancel.enabled = False
            if self.cancelled:
                self._status.value = "cancelled"
            for cb in self.on_running_changed:
                cb(False)
            if on_finished is not None:
                on_finished()

        def warned(warning_args):
            from napari.utils.notifications import show_warning

            show_warning(str(warning_args[0]))

        worker.warned.connect(self._guard(warned))
        worker.yielded.connect(self._guard(yielded))
        worker.returned.connect(self._guard(returned))
        worker.errored.connect(self._guard(errored))
        worker.finished.connect(self._guard(finished))
        self._bar.value = 0
        self._bar.max = 0  # busy indicator until the first event
        self._bar.visible = True
        self._cancel.enabled = True
        self._status.value = "running..."
        for cb in self.on_running_changed:
            cb(True)
        worker.start()
        return worker

    def cancel(self, *_):
        """Ask the running job to stop at its next progress event."""
        if self.worker is not None:
            self.cancelled = True
            self._status.value = "cancelling..."
            self._stop.set()

    def report(self, exc: BaseException) -> None:
        """Tell the user about a mistake found before a job starts: a notification and the status line."""
        from napari.utils.notifications import show_error

        show_error(str(exc))
        self.set_status(str(exc))

    @staticmethod
    def _notify_error(exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        show_error(f"{type(exc).__name__}: {exc}" if not isinstance(exc, (ValueError, FileNotFoundError))
                   else str(exc))
