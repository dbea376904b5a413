"""``segsuite demo`` without a display says so in one line (exit 2), not aborting inside Qt (exit 134)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from napari_segsuite.cli.demo import no_display_reason


@pytest.mark.parametrize("env, platform, has_display", [
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),  # no GL canvas offscreen
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", False),
    ({"QT_QPA_PLATFORM": "eglfs"}, "linux", True),  # a framebuffer platform needs no display server
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", True),
    ({}, "darwin", True),
    ({}, "win32", True),
])
def test_no_display_reason(env, platform, has_display):
    assert (no_display_reason(env, platform) is None) == has_display


def test_demo_without_display_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check applies to X11/Wayland systems")
    proc = subprocess.run([sys.executable, "-m", "napari_segsuite", "demo"], env=env, capture_output=True,
                          text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and "no display" in lines[0], proc.stderr
    assert "segsuite demo --headless OUT_DIR" in lines[0] and "xvfb-run -a segsuite demo" in lines[0]
