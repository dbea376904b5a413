"""Loading a model file from a widget never runs code, and a wrong file is a notification.

Each model widget in the build (U-Net, Mask R-CNN) is asked to load: a file carrying pickled code
(whose unpickling would create a file), random bytes, a plain torch state dict, a newer version, and
the other model kind. Each must be refused with one notification, leave the widget's model as it was,
and never create the side-effect file.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


class _TouchOnUnpickle:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def _header(kind, **extra):
    return {"format": "segsuite-model", "version": 1, "kind": kind, "config": {}, "normalization": {},
            "state_dict": {}, "history": {}, **extra}


# (widget "module:Class", its kind, how to load a path)
WIDGETS = [
    ("napari_segsuite._napari.unet_widget:UNetWidget", "unet",
     lambda w, p: (setattr(w.model_path, "value", str(p)), w.load())),
    ("napari_segsuite._napari.maskrcnn_widget:MaskRCNNWidget", "maskrcnn",
     lambda w, p: w.load_model(path=p)),
]


def _widget_cls(target):
    module, cls = target.split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None


PARAMS = [pytest.param(w, id=w[1], marks=pytest.mark.skipif(_widget_cls(w[0]) is None, reason="not in this build"))
          for w in WIDGETS]


@pytest.fixture
def notes(monkeypatch):
    import napari.utils.notifications as nn

    shown = []
    for kind in ("show_error", "show_warning", "show_info"):
        monkeypatch.setattr(nn, kind, lambda msg, kind=kind: shown.append((kind, str(msg))))
    return shown


def _bad_files(tmp: Path, kind: str, side: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    other = "maskrcnn" if kind == "unet" else "unet"
    files = {}

    def save(name, obj, words):
        path = tmp / f"{name}.pt"
        torch.save(obj, path)
        files[name] = (path, words)

    save("code", _header(kind, x=_TouchOnUnpickle(side)), ("refused", "code", "objects", "safety"))
    save("state-dict", torch.nn.Linear(2, 2).state_dict(), ("not a napari-segsuite",))
    save("newer", _header(kind, version=7), ("newer", "version 7"))
    save("other-kind", _header(other), (other,))
    (tmp / "random.pt").write_bytes(np.random.default_rng(0).integers(0, 256, 999, dtype=np.uint8).tobytes())
    files["random"] = (tmp / "random.pt", ("corrupt", "not a", "readable"))
    files["missing"] = (tmp / "missing.pt", ("no such", "missing"))
    return files


@pytest.mark.parametrize("widget_spec", PARAMS)
def test_widget_refuses_bad_model_files_with_a_notification(widget_spec, make_napari_viewer_proxy, tmp_path,
                                                            notes):
    target, kind, load = widget_spec
    viewer = make_napari_viewer_proxy()
    widget = _widget_cls(target)(viewer)
    side = tmp_path / "CODE_RAN"
    for name, (path, words) in _bad_files(tmp_path, kind, side).items():
        notes.clear()
        load(widget, path)
        assert widget.checkpoint is None, f"{name}: the widget accepted the file"
        errors = [msg for k, msg in notes if k == "show_error"]
        assert len(errors) == 1, f"{name}: {notes}"
        assert any(w.lower() in errors[0].lower() for w in words), f"{name}: {errors[0]!r} should say {words}"
        assert not side.exists(), f"{name}: loading ran code"
    assert all(b.enabled for b in (widget.load_button,))
