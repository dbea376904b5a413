import pytest

from napari_segsuite.core.progress import Cancelled, Progress, run, terminal_progress


def _job(n, log):
    try:
        for i in range(n):
            yield Progress(i + 1, n, f"step {i + 1}")
        return "result"
    finally:
        log.append("cleanup")


def test_run_returns_result_and_reports_every_event():
    log, seen = [], []
    assert run(_job(3, log), seen.append) == "result"
    assert [e.step for e in seen] == [1, 2, 3] and seen[-1].fraction == 1.0
    assert log == ["cleanup"]


def test_callback_returning_false_cancels_and_cleans_up():
    log = []
    with pytest.raises(Cancelled):
        run(_job(10, log), lambda e: e.step < 2)
    assert log == ["cleanup"]


def test_terminal_progress_writes_lines(capsys):
    import io

    buf = io.StringIO()
    run(_job(4, []), terminal_progress(buf))
    assert "4/4" in buf.getvalue()
