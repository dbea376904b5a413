"""Shared helpers for the viewer tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def wait_job(qtbot):
    """``wait_job(jobs, timeout_ms)``: wait for the job a widget just started to end in its thread worker.

    ``qtbot.waitSignal(worker.finished)`` placed after ``widget.run()`` misses a worker that ends before
    the wait connects (a small job on a loaded machine): the test then times out although the job is done.
    The widget's :class:`JobControls` connects its own ``finished`` handler before the worker starts, and
    that handler (on the main thread) clears ``jobs.worker``; waiting on it cannot miss the end. Returns the
    worker, which has finished.
    """

    def wait(jobs, timeout: int = 60_000):
        worker = jobs.worker
        assert worker is not None, f"no job is running (status: {jobs.status!r})"
        qtbot.waitUntil(lambda: jobs.worker is None, timeout=timeout)
        assert not worker.is_running
        return worker

    return wait


@pytest.fixture
def shown_errors(monkeypatch):
    """The messages of every ``napari.utils.notifications.show_error`` call during the test, in order."""
    import napari.utils.notifications as nn

    shown = []
    monkeypatch.setattr(nn, "show_error", lambda msg: shown.append(str(msg)))
    return shown
