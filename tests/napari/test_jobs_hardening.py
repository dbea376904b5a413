"""JobControls under stress: Cancel mid-job, starting twice, errors, a result callback that fails.

The jobs are real core-style progress generators run through napari thread workers; a
``threading.Event`` gate holds them mid-job so the test can act while they run.
"""

from __future__ import annotations

import threading

import pytest

from napari_segsuite._napari._jobs import JobControls
from napari_segsuite.core.io import atomic_path
from napari_segsuite.core.progress import Progress


@pytest.fixture
def notes(monkeypatch):
    """Messages shown as napari notifications (errors and warnings)."""
    import napari.utils.notifications as nn

    shown = []
    monkeypatch.setattr(nn, "show_error", lambda msg: shown.append(("error", str(msg))))
    monkeypatch.setattr(nn, "show_warning", lambda msg: shown.append(("warning", str(msg))))
    return shown


def _gated_job(started, gate, cleanup, out_path=None, steps=5):
    """A progress generator that waits for ``gate`` after its first event and cleans up in ``finally``."""

    def job(value):
        try:
            if out_path is None:
                started.set()
                yield Progress(0, steps, "started")
                assert gate.wait(20), "the test never opened the gate"
                for i in range(1, steps + 1):
                    yield Progress(i, steps, f"step {i}")
                return value * 2
            # Write through a temporary name across yields, as an exporter staging an item does.
            with atomic_path(out_path) as tmp:
                tmp.write_text("half written")
                started.set()
                yield Progress(0, steps, "writing")
                assert gate.wait(20), "the test never opened the gate"
                for i in range(1, steps + 1):
                    yield Progress(i, steps, f"step {i}")
            return value * 2
        finally:
            cleanup.append("finally ran")

    return job


def _wait_finished(qtbot, controls):
    qtbot.waitUntil(lambda: not controls.running, timeout=20000)


def test_cancel_mid_job_stops_it_cleans_up_and_stays_usable(qtbot, tmp_path, notes):
    controls = JobControls()
    qtbot.addWidget(controls.native)
    started, gate, cleanup, results = threading.Event(), threading.Event(), [], []
    out = tmp_path / "result.txt"
    worker = controls.start(_gated_job(started, gate, cleanup, out_path=out), 21, on_returned=results.append)
    assert started.wait(10)
    assert controls.running and controls._cancel.enabled
    with qtbot.waitSignal(worker.finished, timeout=20000):
        controls.cancel()
        gate.set()
    _wait_finished(qtbot, controls)
    assert controls.status == "cancelled"
    assert results == []  # the result of a cancelled job is never delivered
    # Nothing half-written is left: neither the result nor the temporary file.
    qtbot.waitUntil(lambda: cleanup == ["finally ran"], timeout=5000)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    assert notes == []
    # Usable again: a second job runs to the end.
    started2, gate2 = threading.Event(), threading.Event()
    worker = controls.start(_gated_job(started2, gate2, []), 5, on_returned=results.append)
    with qtbot.waitSignal(worker.finished, timeout=20000):
        gate2.set()
    qtbot.waitUntil(lambda: results == [10], timeout=5000)
    assert controls.status == "done"


def test_starting_twice_is_refused_and_the_first_job_finishes(qtbot):
    controls = JobControls()
    qtbot.addWidget(controls.native)
    running_states, results = [], []
    controls.on_running_changed.append(running_states.append)
    started, gate = threading.Event(), threading.Event()
    worker = controls.start(_gated_job(started, gate, []), 1, on_returned=results.append)
    assert started.wait(10)
    with pytest.raises(RuntimeError, match="already running"):
        controls.start(_gated_job(threading.Event(), threading.Event(), []), 2, on_returned=results.append)
    assert controls.worker is worker
    with qtbot.waitSignal(worker.finished, timeout=20000):
        gate.set()
    qtbot.waitUntil(lambda: results == [2], timeout=5000)
    assert running_states == [True, False]


def test_cancel_when_idle_does_nothing(qtbot):
    controls = JobControls("idle")
    qtbot.addWidget(controls.native)
    controls.cancel()
    assert controls.status == "idle" and not controls.running and not controls.cancelled


def test_error_in_job_is_a_notification_and_controls_stay_usable(qtbot, notes):
    controls = JobControls()
    qtbot.addWidget(controls.native)

    gate = threading.Event()

    def failing(n):
        yield Progress(0, 2, "working")
        gate.wait(20)
        raise ValueError(f"labels: found the value -{n}; labels must be >= 0")

    from napari.utils.notifications import notification_manager

    n_records = len(notification_manager.records)
    errors = []
    worker = controls.start(failing, 3, on_errored=errors.append)
    with qtbot.waitSignal(worker.finished, timeout=20000):
        gate.set()
    _wait_finished(qtbot, controls)
    # One clear notification: no second one with a traceback from napari's worker relay.
    assert notes == [("error", "labels: found the value -3; labels must be >= 0")]
    assert len(notification_manager.records) == n_records
    assert controls.status.startswith("failed: labels: found the value -3")
    assert len(errors) == 1 and isinstance(errors[0], ValueError)
    assert not controls._cancel.enabled
    gate = threading.Event()
    worker = controls.start(_gated_job(threading.Event(), gate, []), 1)
    with qtbot.waitSignal(worker.finished, timeout=20000):
        gate.set()
    assert notes == [("error", "labels: found the value -3; labels must be >= 0")]  # nothing new


def test_result_callback_failing_is_a_notification(qtbot, notes):
    """E.g. the source layer was removed while the job ran and adding the result fails."""
    controls = JobControls()
    qtbot.addWidget(controls.native)

    def add_result(_):
        raise KeyError("'nuclei' is not in the layer list")

    gate = threading.Event()
    worker = controls.start(_gated_job(threading.Event(), gate, []), 1, on_returned=add_result)
    with qtbot.waitSignal(worker.finished, timeout=20000):
        gate.set()
    _wait_finished(qtbot, controls)
    assert len(notes) == 1 and "nuclei" in notes[0][1]
    assert not controls.running


def test_short_list_keeps_notices_short():
    from napari_segsuite._napari._jobs import short_list

    assert short_list([2, 5]) == "2, 5"
    assert short_list(range(1, 255), 10) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (254 in all)"


def test_status_line_wraps_across_the_whole_width(qtbot):
    """A wrapping QLabel picks a narrow width of its own (half the dock) unless it is told to expand."""
    controls = JobControls("choose an image and compute superpixels")
    qtbot.addWidget(controls.native)
    controls.native.resize(400, 300)
    controls.native.show()
    qtbot.waitExposed(controls.native)
    label = controls._status.native
    assert label.width() > 0.8 * controls.native.width()
    assert label.height() >= label.heightForWidth(label.width())  # every wrapped line gets its height
    controls.set_status("x " * 200)  # a long refusal: wraps onto more lines, the widget does not widen
    qtbot.wait(50)
    assert controls.native.width() == 400 and label.height() >= label.heightForWidth(label.width())
