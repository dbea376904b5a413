"""Opening a model file can never run code, and a file of another kind or version says what it is.

Every checkpoint loader in the build is tried (U-Net, Mask R-CNN, the kind-dispatching predictor) on
files carrying pickled code whose unpickling would create a file, corrupt/empty/foreign files, other
model kinds and newer versions. The loaders must raise ValueError/FileNotFoundError with a message
naming the problem, and the side-effect file must never appear.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


class _TouchOnUnpickle:
    """Unpickling this object creates ``target``: proof that code ran."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def _header(kind="unet", version=1, **extra):
    return {"format": "segsuite-model", "version": version, "kind": kind, "config": {}, "normalization": {},
            "state_dict": {"w": torch.zeros(2)}, "history": {}, **extra}


def _loaders():
    """(name, callable(path)) for every checkpoint loader this build has."""
    found = []
    candidates = [
        ("unet", "napari_segsuite.core.unet.checkpoint", "load_checkpoint", {"kind": None}),
        ("maskrcnn", "napari_segsuite.core.maskrcnn.checkpoint", "load_maskrcnn_checkpoint", {}),
        ("any", "napari_segsuite.core.checkpoint", "load_checkpoint", {"kind": None}),
        ("shared", "napari_segsuite.core.training.checkpoint", "open_checkpoint", {}),
    ]
    for name, module, func, kwargs in candidates:
        try:
            f = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            continue
        load = lambda p, f=f, kw=kwargs: f(p, **kw)  # noqa: E731
        found.append(pytest.param((load, "unet" if name in ("any", "shared") else name), id=name))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="no checkpoint loader in this build"))]


LOADERS = _loaders()


# ---------------------------------------------------------------------------------------------------
# Files carrying code
# ---------------------------------------------------------------------------------------------------


def _code_files(tmp: Path, side: Path) -> dict[str, Path]:
    """Several ways of smuggling a pickled callable into a .pt file."""
    out = {}
    payload = _TouchOnUnpickle(side)
    # The classic: a proper-looking checkpoint with one object that runs code when unpickled.
    out["zip-in-header"] = tmp / "zip_in_header.pt"
    torch.save(_header(x=payload), out["zip-in-header"])
    out["zip-in-state-dict"] = tmp / "zip_in_state.pt"
    torch.save(_header(state_dict={"w": torch.zeros(1), "evil": payload}), out["zip-in-state-dict"])
    out["zip-top-level"] = tmp / "zip_top.pt"
    torch.save(payload, out["zip-top-level"])
    # The legacy (non-zip) torch format.
    out["legacy"] = tmp / "legacy.pt"
    torch.save(_header(x=payload), out["legacy"], _use_new_zipfile_serialization=False)
    # A bare pickle named .pt.
    out["raw-pickle"] = tmp / "raw.pt"
    out["raw-pickle"].write_bytes(pickle.dumps(_header(x=payload)))
    # A whole pickled module object (what torch.save(model) writes).
    out["whole-model"] = tmp / "whole_model.pt"
    torch.save(torch.nn.Linear(2, 2), out["whole-model"])
    return out


def test_code_payload_is_real(tmp_path):
    """Control: unpickling these files without the safe loader does run the code."""
    side = tmp_path / "RAN"
    files = _code_files(tmp_path, side)
    torch.load(files["zip-in-header"], weights_only=False)
    assert side.exists()


@pytest.mark.parametrize("loader", LOADERS)
def test_files_carrying_code_are_refused_without_running_it(loader, tmp_path):
    loader, _ = loader
    side = tmp_path / "RAN"
    for name, path in _code_files(tmp_path, side).items():
        with pytest.raises(ValueError) as info:
            loader(path)
        msg = str(info.value)
        assert str(path) in msg, (name, msg)
        assert not side.exists(), f"{name}: loading ran code"
        if name != "raw-pickle":  # the safe unpickler names what it refused
            assert any(w in msg.lower() for w in ("refused", "code", "objects", "safety")), (name, msg)


# ---------------------------------------------------------------------------------------------------
# Files of another kind, version or shape
# ---------------------------------------------------------------------------------------------------


def _foreign_files(tmp: Path, kind: str) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (file, words the message must contain (any of them))."""
    out = {}

    def save(name, obj, words):
        path = tmp / f"{name}.pt"
        torch.save(obj, path)
        out[name] = (path, words)

    rng = np.random.default_rng(0)
    (tmp / "random.pt").write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    out["random-bytes"] = (tmp / "random.pt", ("corrupt", "not a", "readable"))
    (tmp / "empty.pt").write_bytes(b"")
    out["empty"] = (tmp / "empty.pt", ("corrupt", "not a", "readable", "empty"))
    import tifffile

    tifffile.imwrite(tmp / "image.pt", np.zeros((8, 8), np.uint8))
    out["tiff-named-pt"] = (tmp / "image.pt", ("corrupt", "not a", "readable"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a model")
    (tmp / "other.zip.pt").write_bytes(buf.getvalue())
    out["foreign-zip"] = (tmp / "other.zip.pt", ("corrupt", "not a", "readable"))
    np.save(tmp / "array.npy", np.zeros(3))
    (tmp / "array.pt").write_bytes((tmp / "array.npy").read_bytes())
    out["npy-named-pt"] = (tmp / "array.pt", ("corrupt", "not a", "readable"))
    save("plain-state-dict", torch.nn.Linear(2, 2).state_dict(), ("not a napari-segsuite",))
    save("list", [torch.zeros(2)], ("not a napari-segsuite",))
    save("other-format", {**_header(kind), "format": "cellpose-model"}, ("not a napari-segsuite",))
    save("newer-version", _header(kind, version=2), ("version 2", "newer"))
    save("version-string", _header(kind, version="two"), ("version",))
    save("version-list", _header(kind, version=[1]), ("version",))
    save("no-state-dict", {k: v for k, v in _header(kind).items() if k != "state_dict"}, ("state_dict",))
    return out


@pytest.mark.parametrize("loader", LOADERS)
def test_foreign_files_get_a_message_saying_what_they_are(loader, tmp_path):
    loader, kind = loader
    failures = []
    for name, (path, words) in _foreign_files(tmp_path, kind).items():
        try:
            loader(path)
        except ValueError as exc:
            msg = str(exc)
            if str(path) not in msg or not any(w.lower() in msg.lower() for w in words):
                failures.append(f"{name}: message {msg!r} should name the file and say one of {words}")
        except Exception as exc:  # noqa: BLE001 - anything else is a traceback for the user
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{name}: accepted")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("loader", LOADERS)
def test_missing_file_and_folder(loader, tmp_path):
    loader, _ = loader
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        loader(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="folder"):
        loader(tmp_path)


def test_kind_mismatch_names_both_kinds(tmp_path):
    ck = pytest.importorskip("napari_segsuite.core.unet.checkpoint")
    path = tmp_path / "mrcnn.pt"
    torch.save(_header(kind="maskrcnn"), path)
    with pytest.raises(ValueError, match="'maskrcnn' model, not a 'unet'"):
        ck.load_checkpoint(path, kind="unet")
    mr = pytest.importorskip("napari_segsuite.core.maskrcnn.checkpoint")
    path = tmp_path / "unet.pt"
    torch.save(_header(kind="unet"), path)
    with pytest.raises(ValueError, match="'unet' model"):
        mr.load_maskrcnn_checkpoint(path)


def test_predict_refuses_unknown_kind_and_code(tmp_path):
    pred = pytest.importorskip("napari_segsuite.core.predict")
    path = tmp_path / "future.pt"
    torch.save(_header(kind="cellpose3"), path)
    with pytest.raises(ValueError, match="cellpose3"):
        pred.predict_checkpoint(path, np.zeros((16, 16), np.float32))
    side = tmp_path / "RAN"
    evil = _code_files(tmp_path, side)["zip-in-header"]
    with pytest.raises(ValueError):
        pred.predict_checkpoint(evil, np.zeros((16, 16), np.float32))
    assert not side.exists()
