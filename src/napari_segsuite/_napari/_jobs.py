"""Running core progress generators in napari thread workers, with a progress bar and Cancel.

Widgets own a :class:`JobControls` and call :meth:`JobControls.start`. Core code stays free of Qt: it
only yields :class:`napari_segsuite.core.progress.Progress` events and returns its result.
"""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import Container, Label, ProgressBar, PushButton

__all__ = ["JobControls"]


def _drain(gen_func, args, kwargs):
    # A generator function for napari's GeneratorWorker: re-yield events, return the result.
    result = yield from gen_func(*args, **kwargs)
    return result


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
        self._cancel = PushButton(text="Cancel", enabled=False)
        self._cancel.changed.connect(self.cancel)
        super().__init__(widgets=[self._bar, self._status, self._cancel], labels=False)
        self.worker = None
        self.cancelled = False
        self.on_running_changed: list[Callable[[bool], None]] = []

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
        from napari.qt.threading import create_worker

        if self.worker is not None:
            raise RuntimeError("a job is already running; wait for it or press Cancel.")
        self.cancelled = False
        worker = create_worker(_drain, gen_func, args, kwargs, _start_thread=False)
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
            if self.cancelled:
                return
            self._status.value = "done"
            if on_returned is not None:
                try:
                    on_returned(result)
                except Exception as exc:  # a layer vanished, bad result: tell the user, stay usable
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

        worker.yielded.connect(yielded)
        worker.returned.connect(returned)
        worker.errored.connect(errored)
        worker.finished.connect(finished)
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
            self.worker.quit()

    @staticmethod
    def _notify_error(exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        show_error(f"{type(exc).__name__}: {exc}" if not isinstance(exc, (ValueError, FileNotFoundError))
                   else str(exc))
