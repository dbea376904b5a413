"""What the trainers share besides the loop: one set of defaults (read by the CLI), one checkpoint loader,
one triton workaround."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from napari_segsuite.core.training.defaults import MASKRCNN_DEFAULTS, UNET_DEFAULTS

SHARED = ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "patch_size", "val_fraction",
          "patience", "time_limit", "seed", "device")


@pytest.mark.parametrize("module, func, defaults", [
    ("napari_segsuite.core.unet.train", "iter_train_unet", UNET_DEFAULTS),
    ("napari_segsuite.core.maskrcnn.train", "iter_train_maskrcnn", MASKRCNN_DEFAULTS),
])
def test_trainers_share_names_and_take_their_defaults_from_one_place(module, func, defaults):
    import importlib

    params = inspect.signature(getattr(importlib.import_module(module), func)).parameters
    for name in SHARED + ("checkpoint_path", "init", "channel_axis", "val_data"):
        assert name in params, name
    for name, value in defaults.items():
        if name in params:
            assert params[name].default == value, name
    assert "lr" not in params and "checkpoint" not in params and "crop_size" not in params


@pytest.mark.parametrize("kind, defaults", [("unet", UNET_DEFAULTS), ("maskrcnn", MASKRCNN_DEFAULTS)])
def test_cli_options_default_to_the_core_values(kind, defaults, tmp_path):
    from napari_segsuite.cli.main import build_parser

    args = build_parser().parse_args(["train", kind, str(tmp_path), "-o", "m.pt"])
    for name in SHARED:
        assert getattr(args, name) == defaults[name], name
    lr = build_parser().parse_args(["train", kind, str(tmp_path), "-o", "m.pt", "--lr", "0.5"])
    assert lr.learning_rate == 0.5                                 # --lr is an alias of --learning-rate


def test_cli_help_shows_the_defaults(capsys):
    from napari_segsuite.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "maskrcnn", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(default {MASKRCNN_DEFAULTS['learning_rate']})" in out and "--learning-rate" in out
    assert f"(default {MASKRCNN_DEFAULTS['patch_size']})" in out


def test_one_loader_for_every_kind(tmp_path):
    torch = pytest.importorskip("torch")
    from napari_segsuite.core.maskrcnn import load_maskrcnn_checkpoint
    from napari_segsuite.core.training.checkpoint import open_checkpoint, write_checkpoint
    from napari_segsuite.core.unet import load_checkpoint

    ck = {"format": "segsuite-model", "version": 1, "kind": "maskrcnn", "config": {"a": 1},
          "normalization": {}, "state_dict": {"w": torch.arange(3.0)}, "history": {}}
    path = write_checkpoint(tmp_path / "m.pt", ck)
    assert torch.equal(open_checkpoint(path)["state_dict"]["w"], torch.arange(3.0))
    assert load_maskrcnn_checkpoint(path)["config"] == {"a": 1}
    with pytest.raises(ValueError, match="'maskrcnn' model, not a 'unet'"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="newer"):
        write_checkpoint(tmp_path / "n.pt", {**ck, "version": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    other = tmp_path / "other.pt"                  # another kind is named before what it lacks
    torch.save({"format": "segsuite-model", "version": 1, "kind": "unet", "config": {}, "state_dict": {}},
               other)
    with pytest.raises(ValueError, match="'unet' model, not a Mask R-CNN"):
        load_maskrcnn_checkpoint(other)


TRITON_CHECK = """
import sys
import torch
from napari_segsuite.core.training.triton import load_torch_without_triton
load_torch_without_triton(torchvision=True)
m = torch.nn.Linear(3, 3)
for opt in (torch.optim.Adam(m.parameters()), torch.optim.AdamW(m.parameters())):
    m(torch.randn(2, 3)).sum().backward()
    opt.step()
print("loaded" if "triton" in sys.modules else "absent", sys.modules.get("triton", "gone") is None)
import triton  # still importable for whoever asks for it explicitly
print("importable")
"""


def test_triton_is_kept_out_of_torchvision_and_optimizer_steps():
    pytest.importorskip("triton")
    pytest.importorskip("torchvision")
    out = subprocess.run([sys.executable, "-c", TRITON_CHECK], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["absent", "False", "importable"]
