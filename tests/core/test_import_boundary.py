"""core and cli must not load napari or Qt (docs/architecture.md, "Three layers, one direction")."""

import subprocess
import sys

CHECK = """
import sys
import napari_segsuite, napari_segsuite.core, napari_segsuite.cli
from napari_segsuite.core import *  # every lazy export resolves
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2',
               'PySide6', 'magicgui', 'superqt', 'vispy'})
print(','.join(heavy))
"""


def test_core_and_cli_load_no_gui_modules():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_package_import_is_light():
    code = "import sys, napari_segsuite; print(any(m in sys.modules for m in ('torch', 'napari', 'cv2', 'skimage')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_core_source_has_no_gui_imports():
    import pathlib
    import re

    import napari_segsuite.core as core

    pattern = re.compile(r"^\s*(from|import)\s+(napari|qtpy|magicgui|superqt|PyQt[56]|PySide[26])\b", re.M)
    offenders = [p.name for p in pathlib.Path(core.__file__).parent.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
